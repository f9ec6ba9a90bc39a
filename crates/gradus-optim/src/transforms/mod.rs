//! Gradient transforms: small [`GradientTransformation`](crate::GradientTransformation)s to
//! chain before (or after) an optimizer, one family per file.

mod accumulate;
mod centralize;
pub(crate) mod clip;
mod ema;
mod noise;
mod penalty;
mod state_dtype;

pub use accumulate::Accumulate;
pub use centralize::Centralize;
pub use clip::{clip_grad_norm, AdaptiveClip, ClipByGlobalNorm, ClipByValue};
pub use ema::ParamEma;
pub use noise::GradientNoise;
pub use penalty::{DecoupledWeightDecay, L1Penalty, L2Penalty};
pub use state_dtype::StateDtype;
