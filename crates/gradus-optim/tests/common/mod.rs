//! Objectives shared by the integration tests, written with gradus tensors (float64).
#![allow(dead_code)]

use gradus_tensor::{Result, Tensor};

/// `0.5 x^T A x - b^T x` for `x` of shape [n].
pub fn quadratic(x: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let n = x.numel();
    let col = x.reshape(&[n, 1])?;
    let xax = x.reshape(&[1, n])?.matmul(&a.matmul(&col)?)?.sum_all()?;
    xax.mul_scalar(0.5)?.sub(&b.mul(x)?.sum_all()?)
}

/// Mean BCE-with-logits of `X w + bias` against `y`; `params = [w (d), bias]`, `X` is [N, d].
pub fn logistic(params: &Tensor, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let (n, d) = (x.shape()[0], x.shape()[1]);
    let w = params.narrow(0, 0, d)?.reshape(&[d, 1])?;
    let z = x.matmul(&w)?.reshape(&[n])?.add(&params.narrow(0, d, 1)?)?;
    // softplus(z) - y z = -[y log s(z) + (1 - y) log(1 - s(z))]
    z.softplus(1.0, 20.0)?.sub(&y.mul(&z)?)?.mean_all()
}

/// `sum_i b (x_{i+1} - x_i^2)^2 + (a - x_i)^2`.
pub fn rosenbrock(x: &Tensor, a: f64, b: f64) -> Result<Tensor> {
    let n = x.numel();
    let head = x.narrow(0, 0, n - 1)?;
    let tail = x.narrow(0, 1, n - 1)?;
    let inner = tail.sub(&head.mul(&head)?)?;
    inner
        .mul(&inner)?
        .mul_scalar(b)?
        .add(&head.neg()?.add_scalar(a)?.powf(2.0)?)?
        .sum_all()
}
