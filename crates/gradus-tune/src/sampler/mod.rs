//! Samplers: how the next trial's parameters are drawn from the space and the trials so far.
//!
//! - [`grid`]: every combination in turn.
//! - [`random`]: independent draws (Optuna's `RandomSampler`).
//! - [`tpe`]: the tree-structured Parzen estimator (Bergstra et al. 2011) with Optuna's defaults,
//!   built on the densities of [`parzen`] (normal CDFs from [`normal`]).
//! - [`gp`]: Gaussian-process Bayesian optimization with expected improvement.

pub mod gp;
pub mod grid;
pub mod normal;
pub mod parzen;
pub mod random;
pub mod tpe;

use crate::space::{Params, SearchSpace};
use crate::spec::{Direction, SamplerSpec};
use crate::trial::Trial;
use rand_pcg::Pcg64Mcg;

/// Draws trials' parameters.
pub trait Sampler: Send {
    /// The next trial's parameters given every trial so far (running ones included), or `None`
    /// when the sampler has nothing left to try (a grid fully covered).
    fn sample(
        &self,
        space: &SearchSpace,
        trials: &[Trial],
        direction: Direction,
        rng: &mut Pcg64Mcg,
    ) -> Option<Params>;
}

/// The sampler a [`SamplerSpec`] names.
pub fn build(spec: &SamplerSpec) -> Box<dyn Sampler> {
    match spec {
        SamplerSpec::Grid { points } => Box::new(grid::GridSampler { points: *points }),
        SamplerSpec::Random => Box::new(random::RandomSampler),
        SamplerSpec::Tpe(o) => Box::new(tpe::TpeSampler { options: o.clone() }),
        SamplerSpec::Gp {
            n_startup_trials,
            n_candidates,
        } => Box::new(gp::GpSampler {
            n_startup_trials: *n_startup_trials,
            n_candidates: *n_candidates,
        }),
    }
}
