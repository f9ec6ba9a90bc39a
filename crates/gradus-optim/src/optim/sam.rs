//! Sharpness-aware minimization (Foret et al. 2021), wrapping any optimizer.

use crate::transforms::clip::global_norm;
use crate::{GradientTransformation, OptimError, ParamRef, Result, State};
use gradus_tensor::Tensor;

/// SAM: take the base optimizer's step with the gradient at the worst nearby point.
///
/// Update rule (the closure re-evaluates the loss and fills the parameters' `.grad()`):
/// ```text
/// g <- grad L(p)
/// e <- rho g / (||g|| + 1e-12)
/// g' <- grad L(p + e)
/// p <- base step(p, g')
/// ```
///
/// ```
/// use gradus_optim::{Sam, Sgd};
/// use gradus_tensor::Tensor;
/// # fn main() -> gradus_optim::Result<()> {
/// let w = Tensor::from_vec(vec![1.0f64], &[1])?.requires_grad_(true);
/// let mut sam = Sam::new(Sgd::new(0.1), 0.5, &[w.clone()])?;
/// // L = w^2: g = 2, e = 0.5, g' = 2 * 1.5 = 3, w <- 1 - 0.1 * 3
/// let loss = sam.step(&[w.clone()], || { let l = w.mul(&w)?.sum_all()?; l.backward()?; Ok(l.item()?) })?;
/// assert_eq!(loss, 1.0);
/// assert!((w.item()? - 0.7).abs() < 1e-9);
/// # Ok(()) }
/// ```
pub struct Sam<G> {
    base: G,
    rho: f64,
    state: State,
}

impl<G: GradientTransformation> Sam<G> {
    /// SAM with neighbourhood radius `rho` (paper default 0.05) around `base`.
    ///
    /// # Errors
    /// On invalid hyperparameters.
    pub fn new(base: G, rho: f64, params: &[Tensor]) -> Result<Sam<G>> {
        crate::error::check(rho >= 0.0, || format!("Invalid rho value: {rho}"))?;
        let state = base.init(params)?;
        Ok(Sam { base, rho, state })
    }

    /// The base optimizer's state (for checkpoints).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// One SAM step; `closure` computes the loss, calls `backward()` and returns the loss value.
    /// Returns the loss at the starting point.
    ///
    /// # Errors
    /// When the closure fails or leaves a parameter without a gradient.
    pub fn step(
        &mut self,
        params: &[Tensor],
        mut closure: impl FnMut() -> Result<f64>,
    ) -> Result<f64> {
        let grads = |params: &[Tensor]| -> Result<Vec<Tensor>> {
            params
                .iter()
                .enumerate()
                .map(|(index, p)| {
                    p.grad().ok_or(OptimError::MissingGrad {
                        param: ParamRef::index(index),
                    })
                })
                .collect()
        };
        params.iter().for_each(|p| p.set_grad(None));
        let loss = closure()?;
        let g = grads(params)?;
        let scale = self.rho / (global_norm(&g)? + 1e-12);
        let e: Vec<Tensor> = g
            .iter()
            .map(|g| g.mul_scalar(scale))
            .collect::<gradus_tensor::Result<_>>()?;
        crate::apply_updates(params, &e)?;
        params.iter().for_each(|p| p.set_grad(None));
        closure()?;
        let g_adv = grads(params)?;
        let back: Vec<Tensor> = e
            .iter()
            .map(|e| e.neg())
            .collect::<gradus_tensor::Result<_>>()?;
        crate::apply_updates(params, &back)?;
        self.base.apply(params, &g_adv, &mut self.state)?;
        Ok(loss)
    }
}
