//! The error type of optimizers, schedules and transforms.

use crate::Schedule;
use gradus_tensor::TensorError;

/// What went wrong while building or stepping an optimizer.
///
/// Hyperparameter messages follow PyTorch's wording so that users crossing over recognise them.
///
/// ```
/// use gradus_optim::{Adam, GradientTransformation};
/// use gradus_tensor::{DType, Tensor};
/// let err = Adam::new(1e-3).betas(1.2, 0.999).init(&[Tensor::zeros(&[2], DType::F32)]).unwrap_err();
/// assert_eq!(err.to_string(), "Invalid beta parameter at index 0: 1.2");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptimError {
    /// A hyperparameter outside its valid range (the message names it and its value).
    #[error("{0}")]
    InvalidHyperparameter(String),
    /// A tensor operation failed (shape or dtype mismatch between params, grads and state).
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// The state does not fit the parameters (wrong count, shape or dtype), e.g. a checkpoint of
    /// another model.
    #[error("optimizer state mismatch: {0}")]
    StateMismatch(String),
    /// `step()` found a parameter that requires grad but has no gradient (frozen parameters,
    /// `requires_grad` false, are skipped as PyTorch skips parameters whose `grad` is `None`).
    #[error("parameter {index} of group {group} requires grad but has no gradient: call backward() first; if you did, the parameter took no part in the loss (freeze it with set_requires_grad(false) to leave it out of the step)")]
    MissingGrad {
        /// The parameter group.
        group: usize,
        /// The parameter's index in its group.
        index: usize,
    },
    /// A parameter was given values of another shape (`Param::set`) after its optimizer state
    /// was made: the state no longer fits it.
    #[error("parameter {index} of group {group} changed shape from {from:?} to {to:?} after the optimizer was built: its state no longer fits; build a new optimizer for it")]
    ParamReshaped {
        /// The parameter group.
        group: usize,
        /// The parameter's index in its group.
        index: usize,
        /// The shape the state was made for.
        from: Vec<usize>,
        /// The parameter's shape now.
        to: Vec<usize>,
    },
    /// A line search or second-order solve failed (non-finite values, singular system).
    #[error("{0}")]
    Numerical(String),
}

/// `Result` with [`OptimError`].
pub type Result<T> = std::result::Result<T, OptimError>;

/// Errors unless `lr >= 0` (PyTorch: "Invalid learning rate: -1").
pub(crate) fn check_lr(lr: f64) -> Result<()> {
    check(lr >= 0.0, || format!("Invalid learning rate: {lr}"))
}

/// Checks a learning-rate schedule's settings ([`Schedule::validate`]), then its first rate.
pub(crate) fn check_lr_schedule(lr: &Schedule) -> Result<()> {
    lr.validate()?;
    check_lr(lr.value(0))
}

/// Errors unless `value >= 0` (PyTorch: "Invalid weight_decay value: -1").
pub(crate) fn check_nonneg(name: &str, value: f64) -> Result<()> {
    check(value >= 0.0, || format!("Invalid {name} value: {value}"))
}

/// Errors unless `0 <= beta < 1` (PyTorch: "Invalid beta parameter at index 0: 1.2").
pub(crate) fn check_beta(index: usize, beta: f64) -> Result<()> {
    check((0.0..1.0).contains(&beta), || {
        format!("Invalid beta parameter at index {index}: {beta}")
    })
}

/// The checks every Adam-family optimizer makes of its hyperparameters, in PyTorch's order.
pub(crate) fn check_adam_hyperparameters(
    lr: &Schedule,
    eps: f64,
    betas: (f64, f64),
    weight_decay: f64,
) -> Result<()> {
    check_lr_schedule(lr)?;
    check_nonneg("epsilon", eps)?;
    check_beta(0, betas.0)?;
    check_beta(1, betas.1)?;
    check_nonneg("weight_decay", weight_decay)
}

/// Errors with `message()` unless `ok`.
pub(crate) fn check(ok: bool, message: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(OptimError::InvalidHyperparameter(message()))
    }
}
