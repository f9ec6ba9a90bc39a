//! The optimizers, one file each. Each writes its per-element rule once as an `ElementRule` type,
//! run by the backend that holds the parameter (`gradus_tensor::fused`).

mod adabelief;
mod adadelta;
mod adagrad;
mod adam;
mod adamax;
mod curvature;
mod kfac;
mod lamb;
mod lars;
mod lbfgs;
mod lion;
mod lookahead;
mod nadam;
mod natural_gradient;
mod newton;
mod radam;
mod rmsprop;
mod rprop;
mod sam;
mod sgd;
mod sparse_adam;
mod yogi;

pub use adabelief::AdaBelief;
pub use adadelta::Adadelta;
pub use adagrad::Adagrad;
pub use adam::{Adam, AdamW};
pub use adamax::Adamax;
pub use kfac::Kfac;
pub use lamb::Lamb;
pub use lars::Lars;
pub use lbfgs::{Lbfgs, LbfgsState, LineSearchFn};
pub use lion::Lion;
pub use lookahead::Lookahead;
pub use nadam::NAdam;
pub use natural_gradient::NaturalGradient;
pub use newton::Newton;
pub use radam::RAdam;
pub use rmsprop::RmsProp;
pub use rprop::Rprop;
pub use sam::Sam;
pub use sgd::Sgd;
pub use sparse_adam::{SparseAdam, SparseGrad};
pub use yogi::Yogi;

/// Implements [`GradientTransformation`](crate::GradientTransformation) for an optimizer with
/// `fn init_state(&self, &[Tensor]) -> Result<State>` and
/// `fn run(&self, Target, params, grads, &mut State) -> Result<()>`.
macro_rules! fused_transformation {
    ($ty:ty) => {
        impl $crate::GradientTransformation for $ty {
            fn init(&self, params: &[gradus_tensor::Tensor]) -> $crate::Result<$crate::State> {
                self.init_state(params)
            }
            fn update(
                &self,
                updates: &mut [gradus_tensor::Tensor],
                state: &mut $crate::State,
                params: &[gradus_tensor::Tensor],
            ) -> $crate::Result<()> {
                $crate::kernel::check_pairs(params, updates)?;
                state.check_params(params.len())?;
                self.run($crate::kernel::Target::Updates, params, updates, state)
            }
            fn apply(
                &self,
                params: &[gradus_tensor::Tensor],
                grads: &[gradus_tensor::Tensor],
                state: &mut $crate::State,
            ) -> $crate::Result<()> {
                $crate::kernel::check_pairs(params, grads)?;
                state.check_params(params.len())?;
                self.run($crate::kernel::Target::Params, params, grads, state)
            }
        }
    };
}
pub(crate) use fused_transformation;
