//! The error type of optimizers, schedules and transforms.

use crate::Schedule;
use gradus_tensor::{DType, TensorError};
use std::fmt;

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
    #[error("{param} requires grad but has no gradient: call backward() first; if you did, the parameter took no part in the loss (freeze it with set_requires_grad(false) to leave it out of the step)")]
    MissingGrad {
        /// The parameter.
        param: ParamRef,
    },
    /// A parameter was given values of another shape (`Param::set`) after its optimizer state
    /// was made: the state no longer fits it.
    #[error("{param} changed shape from {from:?} to {to:?} after the optimizer was built: its state no longer fits; build a new optimizer for it")]
    ParamReshaped {
        /// The parameter.
        param: ParamRef,
        /// The shape the state was made for.
        from: Vec<usize>,
        /// The parameter's shape now.
        to: Vec<usize>,
    },
    /// A gradient (or an update) of another shape or dtype than its parameter.
    #[error("{param}: its gradient is {grad_shape:?} {grad_dtype:?} but the parameter is {shape:?} {dtype:?}")]
    GradMismatch {
        /// The parameter.
        param: ParamRef,
        /// The parameter's shape.
        shape: Vec<usize>,
        /// The parameter's dtype.
        dtype: DType,
        /// The gradient's shape.
        grad_shape: Vec<usize>,
        /// The gradient's dtype.
        grad_dtype: DType,
    },
    /// Any other failure while stepping one parameter (a state buffer that does not fit it, a
    /// backend error of its fused update), with the parameter it happened at.
    #[error("{param}: {source}")]
    AtParam {
        /// The parameter.
        param: ParamRef,
        /// What went wrong.
        source: Box<OptimError>,
    },
    /// A learned optimizer's weights file is missing or malformed (the detail names the tensor
    /// and shape at fault).
    #[error("learned optimizer weights `{path}`: {detail}")]
    Weights {
        /// The file.
        path: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A line search or second-order solve failed (non-finite values, singular system).
    #[error("{0}")]
    Numerical(String),
}

/// The parameter an [`OptimError`] points at, named the way its user knows it: by its module path
/// (`layers.0.weight`) when the optimizer was built from named parameters
/// ([`Optimizer::with_named_params`](crate::Optimizer::with_named_params)), else as
/// `group G, parameter I`; a transformation used outside an optimizer knows only the parameter's
/// index in the list it was given (`parameter I`).
///
/// ```
/// use gradus_optim::{Optimizer, Sgd};
/// use gradus_tensor::{DType, Param, Tensor};
/// let w = Param::new(Tensor::zeros(&[2], DType::F32));
/// let b = Param::new(Tensor::zeros(&[1], DType::F32));
/// let mut opt = Optimizer::with_named_params(
///     Sgd::new(0.1),
///     &[("fc.weight".to_string(), w.clone()), ("fc.bias".to_string(), b)],
/// ).unwrap();
/// w.tensor().sum_all().unwrap().backward().unwrap(); // the bias takes no part
/// let err = opt.step().unwrap_err();
/// assert!(err.to_string().starts_with("parameter `fc.bias` requires grad but has no gradient"));
/// let at = err.param().unwrap();
/// assert_eq!((at.group, at.index, at.name.as_deref()), (Some(0), 1, Some("fc.bias")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamRef {
    /// The parameter group, when the error was raised inside an [`Optimizer`](crate::Optimizer).
    pub group: Option<usize>,
    /// The parameter's index in its group (or in the list the transformation was given).
    pub index: usize,
    /// The parameter's name (its module path), when the optimizer knows it.
    pub name: Option<String>,
}

impl ParamRef {
    /// Parameter `index` of the list a transformation was given (its group not known yet).
    pub fn index(index: usize) -> ParamRef {
        ParamRef {
            group: None,
            index,
            name: None,
        }
    }

    /// Parameter `index` of group `group`, named `name` when known.
    pub fn in_group(group: usize, index: usize, name: Option<String>) -> ParamRef {
        ParamRef {
            group: Some(group),
            index,
            name,
        }
    }
}

impl fmt::Display for ParamRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.name, self.group) {
            (Some(name), _) => write!(f, "parameter `{name}`"),
            (None, Some(g)) => write!(f, "group {g}, parameter {}", self.index),
            (None, None) => write!(f, "parameter {}", self.index),
        }
    }
}

impl OptimError {
    /// The parameter this error points at, if it points at one.
    pub fn param(&self) -> Option<&ParamRef> {
        match self {
            OptimError::MissingGrad { param }
            | OptimError::ParamReshaped { param, .. }
            | OptimError::GradMismatch { param, .. }
            | OptimError::AtParam { param, .. } => Some(param),
            _ => None,
        }
    }

    fn param_mut(&mut self) -> Option<&mut ParamRef> {
        match self {
            OptimError::MissingGrad { param }
            | OptimError::ParamReshaped { param, .. }
            | OptimError::GradMismatch { param, .. }
            | OptimError::AtParam { param, .. } => Some(param),
            _ => None,
        }
    }

    /// `error` as raised while stepping parameter `index` of a transformation's list: kept as it
    /// is when it already points at a parameter, else wrapped in [`OptimError::AtParam`].
    pub(crate) fn at_param(index: usize, error: impl Into<OptimError>) -> OptimError {
        let error = error.into();
        if error.param().is_some() {
            return error;
        }
        OptimError::AtParam {
            param: ParamRef::index(index),
            source: Box::new(error),
        }
    }

    /// Places an error raised by a group's transformation in the group: the parameter's index in
    /// the list the transformation was given becomes its index in the group (`index_of`), and
    /// the group and the parameter's name (`names`, by index in the group) are filled in.
    pub(crate) fn locate(
        mut self,
        group: usize,
        index_of: impl Fn(usize) -> usize,
        names: &[Option<String>],
    ) -> OptimError {
        if let Some(p) = self.param_mut().filter(|p| p.group.is_none()) {
            p.index = index_of(p.index);
            p.group = Some(group);
            p.name = names.get(p.index).cloned().flatten();
        }
        self
    }
}

/// A closure for `map_err` that places an error at parameter `index` ([`OptimError::at_param`]).
pub(crate) fn at<E: Into<OptimError>>(index: usize) -> impl FnOnce(E) -> OptimError {
    move |e| OptimError::at_param(index, e)
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
