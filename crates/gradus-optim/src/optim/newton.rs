//! Newton's method with the exact Hessian (for small models).
//!
//! Written in tensor ops: the Hessian system is one [`Tensor::linalg_solve`] (a backend call),
//! and the iterate moves by tensor updates. Only the scalars that drive decisions are read with
//! `item()`: the loss, the slope `g.d` (descent or not, the Armijo test) and the trial losses of
//! the line search.

use crate::{OptimError, Result};
use gradus_tensor::{autodiff, Tensor, TensorError};

/// Damped Newton's method with a backtracking (Armijo) line search, on one 1-D parameter vector
/// (concatenate a small model's parameters). The Hessian is exact, from
/// [`gradus_tensor::autodiff::hessian`] (n Hessian-vector products), so this is for small n.
///
/// Update rule:
/// ```text
/// g <- grad f(x);  H <- hess f(x)
/// solve (H + damping I) d = -g      (LU; damping raised x10 while the system is singular or d is
///                                    not a descent direction, g.d >= 0: H + damping I not PD)
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

    /// One Newton step on `x` (updated in place; f64 or f32, computed in its dtype) for the
    /// scalar function `f`. Returns `(loss before, gradient norm before)`.
    ///
    /// # Errors
    /// When `f` fails, `x` is not 1-D, or no damping makes the system solvable.
    pub fn step(
        &self,
        x: &Tensor,
        f: impl Fn(&Tensor) -> gradus_tensor::Result<Tensor>,
    ) -> Result<(f64, f64)> {
        if x.rank() != 1 {
            return Err(OptimError::Tensor(TensorError::InvalidShape {
                op: "Newton::step",
                shape: x.shape().to_vec(),
                detail: "x must be one 1-D parameter vector (concatenate the parameters)".into(),
            }));
        }
        let n = x.numel();
        let x0 = x.detach();
        let xv = x.detach().requires_grad_(true);
        let loss_t = f(&xv)?;
        let loss = loss_t.item()?;
        let g = autodiff::grad(&loss_t, &[&xv], None, false)?.remove(0);
        let g_norm = g.sum_squares()?.item()?.sqrt();
        if g_norm == 0.0 {
            return Ok((loss, 0.0)); // a stationary point: the Newton step is zero
        }
        let h = autodiff::hessian(&f, x)?;
        let neg_g = g.neg()?;
        // flat positions of the diagonal, as an index tensor (whole numbers in f64)
        let diagonal = Tensor::from_vec((0..n).map(|i| (i * (n + 1)) as f64).collect(), &[n])?;
        let mut damping = self.damping;
        let (d, gd) = loop {
            if let Some(found) = descent(&h, &neg_g, &g, damping, &diagonal)? {
                break found;
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
        let mut t = 1.0;
        for _ in 0..self.max_backtracks {
            let ft = f(&x0.add(&d.mul_scalar(t)?)?)?.item()?;
            if ft <= loss + self.c1 * t * gd {
                break;
            }
            t *= 0.5;
        }
        x.copy_from(&x0.add(&d.mul_scalar(t)?)?)?;
        Ok((loss, g_norm))
    }
}

/// The solution `d` of `(H + damping I) d = -g` and the slope `g.d`, when the system is
/// nonsingular and `d` a descent direction (`g.d < 0`, as when `H + damping I` is positive
/// definite); `None` otherwise (raise the damping).
fn descent(
    h: &Tensor,
    neg_g: &Tensor,
    g: &Tensor,
    damping: f64,
    diagonal: &Tensor,
) -> Result<Option<(Tensor, f64)>> {
    let n = g.numel();
    let a = if damping == 0.0 {
        h.clone()
    } else {
        let shift = Tensor::full(&[n], damping, h.dtype());
        h.reshape(&[n * n])?
            .index_add(0, diagonal, &shift)?
            .reshape(&[n, n])?
    };
    let d = match a.linalg_solve(neg_g) {
        Ok(d) => d,
        Err(TensorError::InvalidArgument {
            op: "linalg_solve", ..
        }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let gd = g.mul(&d)?.sum_all()?.item()?;
    Ok((gd < 0.0 && gd.is_finite()).then_some((d, gd)))
}
