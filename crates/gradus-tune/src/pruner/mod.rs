//! Pruners: whether a running trial, having just reported the objective for an epoch, is stopped.
//!
//! - [`median`]: Optuna's `MedianPruner` (the median stopping rule of Golovin et al. 2017,
//!   "Google Vizier").
//! - [`asha`]: asynchronous successive halving (Li et al. 2018, "A System for Massively Parallel
//!   Hyperparameter Tuning"), as Optuna's `SuccessiveHalvingPruner`.

pub mod asha;
pub mod median;

use crate::spec::{Direction, PrunerSpec};
use crate::trial::Trial;

/// Decides whether a trial stops.
pub trait Pruner: Send {
    /// Whether `trial` (whose last intermediate value is the epoch just reported) stops now,
    /// given every trial of the study (`trial` among them).
    fn prune(&self, trial: &Trial, trials: &[Trial], direction: Direction) -> bool;
}

/// Never prunes.
#[derive(Clone, Copy, Debug, Default)]
pub struct NopPruner;

impl Pruner for NopPruner {
    fn prune(&self, _trial: &Trial, _trials: &[Trial], _direction: Direction) -> bool {
        false
    }
}

/// The pruner a [`PrunerSpec`] names.
pub fn build(spec: &PrunerSpec) -> Box<dyn Pruner> {
    match spec {
        PrunerSpec::None => Box::new(NopPruner),
        PrunerSpec::Median {
            n_startup_trials,
            n_warmup_steps,
        } => Box::new(median::MedianPruner {
            n_startup_trials: *n_startup_trials,
            n_warmup_steps: *n_warmup_steps,
        }),
        PrunerSpec::Asha {
            min_resource,
            reduction_factor,
        } => Box::new(asha::AshaPruner {
            min_resource: *min_resource,
            reduction_factor: *reduction_factor,
        }),
    }
}
