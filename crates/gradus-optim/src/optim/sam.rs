//! Sharpness-aware minimization (Foret et al. 2021), wrapping any optimizer.

use crate::group::ParamGroup;
use crate::transforms::clip::global_norm;
use crate::{GradientTransformation, OptimError, ParamRef, Result, State};
use gradus_tensor::{Param, Tensor};

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
/// It holds the parameters' [`Param`] handles in one [`ParamGroup`], as
/// [`Optimizer`](crate::Optimizer) does: a parameter frozen after it was built (`requires_grad`
/// false) is neither perturbed nor stepped and keeps its base state (`||g||` measures the
/// trainable ones); one cast to another dtype has its base state cast to match; one given values
/// of another shape fails the step with [`OptimError::ParamReshaped`] before anything moves.
///
/// ```
/// use gradus_optim::{Sam, Sgd};
/// use gradus_tensor::Tensor;
/// # fn main() -> gradus_optim::Result<()> {
/// let w = Tensor::from_vec(vec![1.0f64], &[1])?.requires_grad_(true);
/// let mut sam = Sam::new(Sgd::new(0.1), 0.5, &[w.clone()])?;
/// // L = w^2: g = 2, e = 0.5, g' = 2 * 1.5 = 3, w <- 1 - 0.1 * 3
/// let loss = sam.step(|| { let l = w.mul(&w)?.sum_all()?; l.backward()?; Ok(l.item()?) })?;
/// assert_eq!(loss, 1.0);
/// assert!((w.item()? - 0.7).abs() < 1e-9);
/// # Ok(()) }
/// ```
pub struct Sam {
    rho: f64,
    group: ParamGroup,
}

impl Sam {
    /// SAM with neighbourhood radius `rho` (paper default 0.05) around `base`, over plain
    /// tensors, each held as it is (a [`Param::from_tensor`] handle of its own, as
    /// [`Optimizer::new`](crate::Optimizer::new)).
    ///
    /// # Errors
    /// On invalid hyperparameters.
    pub fn new(
        base: impl GradientTransformation + 'static,
        rho: f64,
        params: &[Tensor],
    ) -> Result<Sam> {
        let handles: Vec<Param> = params.iter().cloned().map(Param::from_tensor).collect();
        Sam::with_params(base, rho, &handles)
    }

    /// SAM over parameter handles (typically a model's `parameters()`): it follows the
    /// parameters when they are frozen or cast after it was built.
    ///
    /// # Errors
    /// On invalid hyperparameters.
    ///
    /// ```
    /// use gradus_optim::{Sam, Sgd};
    /// use gradus_tensor::{DType, Param, Tensor};
    /// # fn main() -> gradus_optim::Result<()> {
    /// let w = Param::new(Tensor::from_vec(vec![1.0f64], &[1])?);
    /// let mut sam = Sam::with_params(Sgd::new(0.1), 0.5, &[w.clone()])?;
    /// w.cast(DType::F32)?; // SAM follows the handle
    /// sam.step(|| { let l = w.tensor().powf(2.0)?.sum_all()?; l.backward()?; Ok(l.item()?) })?;
    /// assert!((w.tensor().item()? - 0.7).abs() < 1e-6);
    /// # Ok(()) }
    /// ```
    pub fn with_params(
        base: impl GradientTransformation + 'static,
        rho: f64,
        params: &[Param],
    ) -> Result<Sam> {
        crate::error::check(rho >= 0.0, || format!("Invalid rho value: {rho}"))?;
        let group = ParamGroup::new(Box::new(base), params.to_vec(), vec![None; params.len()])?;
        Ok(Sam { rho, group })
    }

    /// The parameter handles.
    pub fn params(&self) -> &[Param] {
        self.group.params()
    }

    /// The base optimizer's state (for checkpoints).
    pub fn state(&self) -> &State {
        &self.group.state
    }

    /// Restores a state saved with [`Sam::state`] (made for the parameters as they are now).
    pub fn load_state(&mut self, state: State) {
        self.group.set_state(state);
    }

    /// One SAM step; `closure` computes the loss, calls `backward()` and returns the loss value
    /// (gradients are cleared before each call). Returns the loss at the starting point.
    ///
    /// # Errors
    /// When the closure fails, [`OptimError::MissingGrad`] when it leaves a trainable parameter
    /// without a gradient, [`OptimError::ParamReshaped`], or the base optimizer's error.
    pub fn step(&mut self, mut closure: impl FnMut() -> Result<f64>) -> Result<f64> {
        self.group.fit(0)?;
        let trainable: Vec<(usize, Tensor)> = self
            .group
            .params()
            .iter()
            .map(Param::tensor)
            .enumerate()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        let params: Vec<Tensor> = trainable.iter().map(|(_, t)| t.clone()).collect();
        self.group.zero_grad();
        let loss = closure()?;
        let g = trainable
            .iter()
            .map(|(index, t)| {
                t.grad().ok_or_else(|| OptimError::MissingGrad {
                    param: ParamRef::in_group(
                        0,
                        *index,
                        self.group.names().get(*index).cloned().flatten(),
                    ),
                })
            })
            .collect::<Result<Vec<Tensor>>>()?;
        let scale = self.rho / (global_norm(&g)? + 1e-12);
        let e: Vec<Tensor> = g
            .iter()
            .map(|g| g.mul_scalar(scale))
            .collect::<gradus_tensor::Result<_>>()?;
        crate::apply_updates(&params, &e)?;
        self.group.zero_grad();
        let evaluated = closure();
        let back: Vec<Tensor> = e
            .iter()
            .map(|e| e.neg())
            .collect::<gradus_tensor::Result<_>>()?;
        crate::apply_updates(&params, &back)?;
        evaluated?;
        self.group.step(0)?;
        Ok(loss)
    }
}
