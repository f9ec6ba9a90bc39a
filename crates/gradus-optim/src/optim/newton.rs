//! Newton's method with the exact Hessian (for small models).
//!
//! A host boundary by design: the dense `n x n` Hessian solve (Cholesky with damping) and the
//! backtracking line search are small sequential linear algebra, so the gradient and Hessian are
//! read to host vectors through the explicit transfer API (`to_vec_f64`, `item`).

use crate::{OptimError, Result};
use gradus_tensor::{autodiff, Tensor};

/// Damped Newton's method with a backtracking (Armijo) line search, on one 1-D parameter vector
/// (concatenate a small model's parameters). The Hessian is exact, from
/// [`gradus_tensor::autodiff::hessian`] (n Hessian-vector products), so this is for small n.
///
/// Update rule:
/// ```text
/// g <- grad f(x);  H <- hess f(x)
/// solve (H + damping I) d = -g      (Cholesky; damping raised x10 until H + damping I is PD)
/// t <- 1; while f(x + t d) > f(x) + c1 t g.d: t <- t / 2
/// x <- x + t d
/// ```
///
/// ```
/// use gradus_optim::Newton;
/// use gradus_tensor::Tensor;
/// # fn main() -> gradus_optim::Result<()> {
/// // f(x) = sum (x - 3)^2: one Newton step lands on the minimum.
/// let x = Tensor::from_vec(vec![0.0f64, 10.0], &[2])?;
/// let f = |x: &Tensor| x.add_scalar(-3.0)?.powf(2.0)?.sum_all();
/// Newton::new().step(&x, f)?;
/// assert!(x.to_vec::<f64>()?.iter().all(|v| (v - 3.0).abs() < 1e-12));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Newton {
    damping: f64,
    c1: f64,
    max_backtracks: usize,
}

impl Default for Newton {
    fn default() -> Newton {
        Newton::new()
    }
}

impl Newton {
    /// Undamped Newton (damping added only when the Hessian is not positive definite).
    pub fn new() -> Newton {
        Newton {
            damping: 0.0,
            c1: 1e-4,
            max_backtracks: 50,
        }
    }
    /// Levenberg-style damping added to the Hessian's diagonal.
    pub fn damping(mut self, damping: f64) -> Newton {
        self.damping = damping;
        self
    }
    /// Armijo sufficient-decrease constant.
    pub fn c1(mut self, c1: f64) -> Newton {
        self.c1 = c1;
        self
    }

    /// One Newton step on `x` (updated in place; f64 or f32) for the scalar function `f`.
    /// Returns `(loss before, gradient norm before)`.
    ///
    /// # Errors
    /// When `f` fails, `x` is not 1-D, or no damping makes the system solvable.
    pub fn step(
        &self,
        x: &Tensor,
        f: impl Fn(&Tensor) -> gradus_tensor::Result<Tensor>,
    ) -> Result<(f64, f64)> {
        let n = x.numel();
        let xv = x.detach().requires_grad_(true);
        let loss_t = f(&xv)?;
        let loss = loss_t.item()?;
        let g = autodiff::grad(&loss_t, &[&xv], None, false)?
            .remove(0)
            .to_vec_f64();
        let h = autodiff::hessian(&f, x)?.to_vec_f64();
        let neg_g: Vec<f64> = g.iter().map(|v| -v).collect();
        let mut damping = self.damping;
        let d = loop {
            let mut a = h.clone();
            (0..n).for_each(|i| a[i * n + i] += damping);
            if let Some(d) = cholesky_solve(&mut a, &neg_g, n) {
                break d;
            }
            damping = if damping == 0.0 {
                1e-10
            } else {
                damping * 10.0
            };
            if damping > 1e20 {
                return Err(OptimError::Numerical(
                    "Newton: the Hessian could not be made positive definite".into(),
                ));
            }
        };
        let gd: f64 = g.iter().zip(&d).map(|(a, b)| a * b).sum();
        let x0 = x.to_vec_f64();
        let mut t = 1.0;
        for _ in 0..self.max_backtracks {
            let trial: Vec<f64> = x0.iter().zip(&d).map(|(x, d)| x + t * d).collect();
            let ft = f(&Tensor::from_vec(trial, &[n])?.to_dtype(x.dtype())?)?.item()?;
            if ft <= loss + self.c1 * t * gd {
                break;
            }
            t *= 0.5;
        }
        let new: Vec<f64> = x0.iter().zip(&d).map(|(x, d)| x + t * d).collect();
        x.copy_from(&Tensor::from_vec(new, &[n])?.to_dtype(x.dtype())?)?;
        Ok((loss, g.iter().map(|v| v * v).sum::<f64>().sqrt()))
    }
}

/// Solves `A x = b` for symmetric positive definite `A` (n x n, row-major; overwritten by its
/// Cholesky factor). `None` when `A` is not positive definite.
fn cholesky_solve(a: &mut [f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    for j in 0..n {
        let mut s = a[j * n + j];
        for k in 0..j {
            s -= a[j * n + k] * a[j * n + k];
        }
        if s <= 0.0 || !s.is_finite() {
            return None;
        }
        let l = s.sqrt();
        a[j * n + j] = l;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / l;
        }
    }
    let mut y = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            y[i] -= a[i * n + k] * y[k];
        }
        y[i] /= a[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            y[i] -= a[k * n + i] * y[k];
        }
        y[i] /= a[i * n + i];
    }
    Some(y)
}
