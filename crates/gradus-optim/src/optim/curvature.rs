//! What K-FAC and the exact natural gradient share: the per-layer statistics read from
//! [`gradus_tensor::capture`] (layer inputs with the bias column, per-sample output gradients)
//! and the gradient of a layer as one matrix `[out, in (+1)]`.

use crate::{OptimError, Result};
use gradus_tensor::capture::LayerCapture;
use gradus_tensor::{DType, Tensor, TensorId};

/// One Linear or Conv2d layer among the optimizer's parameters: indices into `params`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layer {
    pub weight: usize,
    pub bias: Option<usize>,
}

/// The layers of `captures` whose weight is among `params` (each once, in parameter order);
/// a bias that is not among `params` (another parameter group) is left out of its layer.
pub(crate) fn layers(captures: &[LayerCapture], params: &[Tensor]) -> Vec<Layer> {
    let index = |id: TensorId| params.iter().position(|p| p.id() == id);
    let mut out: Vec<Layer> = Vec::new();
    for c in captures {
        if let Some(w) = index(c.weight) {
            if !out.iter().any(|l| l.weight == w) {
                out.push(Layer {
                    weight: w,
                    bias: c.bias.and_then(index),
                });
            }
        }
    }
    out.sort_by_key(|l| l.weight);
    out
}

/// The captures of the layer whose weight is `weight`, each as `(ā, g)` in f64: the inputs
/// `[rows, in]` with a column of ones appended when `bias`, and the per-sample output gradients
/// `[rows, out]` (the probe's gradient times the batch size: the loss is taken to be a batch
/// mean, as every gradus loss is by default). Captures that no backward reached are skipped.
///
/// # Errors
/// On a tensor failure.
pub(crate) fn layer_rows(
    captures: &[LayerCapture],
    weight: TensorId,
    bias: bool,
) -> Result<Vec<(Tensor, Tensor, usize)>> {
    let mut out = Vec::new();
    for c in captures.iter().filter(|c| c.weight == weight) {
        let Some(g) = c.output_grads()? else {
            continue;
        };
        let g = g.to_dtype(DType::F64)?.mul_scalar(c.batch as f64)?;
        let mut a = c.inputs.to_dtype(DType::F64)?;
        if bias {
            let ones = Tensor::ones(&[a.shape()[0], 1], DType::F64);
            a = Tensor::concat(&[&a, &ones], 1)?;
        }
        out.push((a, g, c.batch));
    }
    Ok(out)
}

/// The gradient of a layer as a matrix `[out, in (+1)]` in f64: the weight's gradient with its
/// trailing axes flattened (Conv2d: `[out, c*kh*kw]`, the order of `unfold`), and the bias's as
/// the last column.
///
/// # Errors
/// On a tensor failure.
pub(crate) fn grad_matrix(w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    let out = w.shape()[0];
    let gw = w
        .to_dtype(DType::F64)?
        .reshape(&[out, w.numel() / out.max(1)])?;
    match b {
        Some(b) => Ok(Tensor::concat(
            &[&gw, &b.to_dtype(DType::F64)?.reshape(&[out, 1])?],
            1,
        )?),
        None => Ok(gw),
    }
}

/// Splits a matrix of [`grad_matrix`]'s layout back into the weight's and the bias's shape and
/// dtype.
///
/// # Errors
/// On a tensor failure.
pub(crate) fn split_matrix(
    m: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
) -> Result<(Tensor, Option<Tensor>)> {
    let din = w.numel() / w.shape()[0].max(1);
    let wpart = m
        .narrow(1, 0, din)?
        .contiguous()?
        .reshape(w.shape())?
        .to_dtype(w.dtype())?;
    let bpart = match b {
        Some(b) => Some(
            m.narrow(1, din, 1)?
                .contiguous()?
                .reshape(b.shape())?
                .to_dtype(b.dtype())?,
        ),
        None => None,
    };
    Ok((wpart, bpart))
}

/// The `n × n` identity in f64.
pub(crate) fn eye(n: usize) -> Tensor {
    let mut v = vec![0.0f64; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    Tensor::from_vec(v, &[n, n]).expect("n*n values for [n, n]")
}

/// `m⁻¹` of a symmetric positive definite (damped) matrix, by one solve against the identity.
///
/// # Errors
/// [`OptimError::Numerical`] when `m` is singular or not finite.
pub(crate) fn inverse(m: &Tensor, what: &str) -> Result<Tensor> {
    m.linalg_solve(&eye(m.shape()[0])).map_err(|e| {
        OptimError::Numerical(format!(
            "{what} {:?} could not be inverted (raise the damping): {e}",
            m.shape()
        ))
    })
}

/// The trace of a square matrix.
///
/// # Errors
/// On a tensor failure.
pub(crate) fn trace(m: &Tensor) -> Result<f64> {
    Ok(m.mul(&eye(m.shape()[0]))?.sum_all()?.item()?)
}
