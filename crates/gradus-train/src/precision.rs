//! Mixed precision for a training run ([`Precision`]): autocast of the forward pass to bf16 or
//! f16 with f32 master weights and optimizer state, and for f16 dynamic loss scaling by a
//! [`GradScaler`] kept in the run's state (so a resumed run goes on with its scale); or pure bf16
//! (`"bf16-true"`, PyTorch Lightning's name): parameters, gradients, optimizer state and inputs
//! in bf16, for half the memory of f32.
//!
//! A step of an f16-mixed run: forward under autocast, backward of `loss * scale`, the gradients
//! divided by the scale; a step whose gradients hold an inf or NaN is skipped (the parameters
//! and optimizer state untouched, the scale halved, the step counted in `skipped_steps`) and is
//! recorded with zero gradients, so it is never taken for divergence. When
//! [`MAX_CONSECUTIVE_SKIPS`] steps in a row are skipped the run stops with an error saying so.

use crate::error::{Result, TrainError};
use gradus_optim::GradScaler;
use gradus_tensor::precision::Half;
use gradus_tensor::Tensor;

/// Consecutive skipped steps after which an f16-mixed run stops: the scale has then been halved
/// that many times, from 2^16 to below 2^-30, and the gradients still overflow.
pub const MAX_CONSECUTIVE_SKIPS: u64 = 50;

/// How a run computes (`train.precision`).
///
/// ```
/// use gradus_train::precision::Precision;
/// assert_eq!(Precision::parse("bf16-mixed").unwrap(), Precision::Bf16Mixed);
/// assert!(Precision::parse("fp8").is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    /// Everything in the run's dtype (f32 or f64).
    #[default]
    Full,
    /// Autocast to bf16 (f32 master weights; no loss scaling: bf16 has f32's range).
    Bf16Mixed,
    /// Autocast to f16 with dynamic loss scaling ([`GradScaler`], PyTorch's defaults).
    F16Mixed,
    /// Pure bf16: the model is cast to bf16 (`model.to(torch.bfloat16)`), so parameters,
    /// gradients, optimizer state and inputs are bf16 (computed in f32, rounded after each op;
    /// see [`gradus_tensor::DType`]). Class-index targets stay f32, which holds every index.
    Bf16True,
}

impl Precision {
    /// Parses a config value: "f32"/"f64" (full), "bf16-mixed", "f16-mixed", "bf16-true".
    ///
    /// # Errors
    /// [`TrainError::Setup`] naming the allowed values.
    pub fn parse(s: &str) -> Result<Precision> {
        match s {
            "f32" | "f64" | "full" => Ok(Precision::Full),
            "bf16-mixed" => Ok(Precision::Bf16Mixed),
            "f16-mixed" => Ok(Precision::F16Mixed),
            "bf16-true" => Ok(Precision::Bf16True),
            other => Err(TrainError::Setup(format!(
                "precision: unknown value `{other}` (expected f32, f64, bf16-mixed, f16-mixed or \
                 bf16-true)"
            ))),
        }
    }

    /// The autocast format of the forward pass.
    pub fn autocast(self) -> Option<Half> {
        match self {
            Precision::Full | Precision::Bf16True => None,
            Precision::Bf16Mixed => Some(Half::BF16),
            Precision::F16Mixed => Some(Half::F16),
        }
    }

    /// The dtype of the model and the inputs of a run whose base dtype is `base`.
    ///
    /// ```
    /// use gradus_tensor::DType;
    /// use gradus_train::precision::Precision;
    /// assert_eq!(Precision::Bf16True.model_dtype(DType::F32), DType::BF16);
    /// assert_eq!(Precision::Bf16Mixed.model_dtype(DType::F32), DType::F32);
    /// ```
    pub fn model_dtype(self, base: gradus_tensor::DType) -> gradus_tensor::DType {
        match self {
            Precision::Bf16True => gradus_tensor::DType::BF16,
            _ => base,
        }
    }

    /// Whether the run scales its loss (f16).
    pub fn scales_loss(self) -> bool {
        self == Precision::F16Mixed
    }
}

/// The loss to call backward on: `loss * scale` with a scaler, else `loss`.
pub(crate) fn scaled(loss: &Tensor, scaler: Option<&GradScaler>) -> Result<Tensor> {
    Ok(match scaler {
        Some(s) => s.scale_loss(loss)?,
        None => loss.clone(),
    })
}

/// Unscales the gradients of `params`; on inf/NaN zeroes them, so the step is skipped and
/// recorded with zero gradients. Returns whether the step is skipped. Counts consecutive skips.
pub(crate) fn unscale_or_skip(
    scaler: &mut GradScaler,
    consecutive: &mut u64,
    params: &[Tensor],
    step: u64,
) -> Result<bool> {
    let skip = scaler.unscale(params)?;
    if skip {
        for p in params {
            if let Some(g) = p.grad() {
                p.set_grad(Some(g.zeros_like()));
            }
        }
        *consecutive += 1;
        if *consecutive >= MAX_CONSECUTIVE_SKIPS {
            return Err(TrainError::Setup(format!(
                "f16-mixed: the last {consecutive} steps (to step {step}) all had inf/NaN gradients even with the loss scale down to {:e}; the model overflows f16: use precision = \"bf16-mixed\" or \"f32\", or a smaller learning rate",
                scaler.scale()
            )));
        }
    } else {
        *consecutive = 0;
    }
    scaler.update(skip);
    Ok(skip)
}
