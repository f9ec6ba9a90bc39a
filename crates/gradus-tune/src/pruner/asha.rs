//! Asynchronous successive halving (Li et al. 2018), as Optuna's `SuccessiveHalvingPruner`
//! (`min_early_stopping_rate` 0, no bootstrap): the rungs are the epochs
//! `min_resource * reduction_factor^k`. When a trial reaches a rung, its value there joins the
//! values every trial had at that rung; it goes on only if it ranks within the best
//! `max(1, count / reduction_factor)` of them. A promotion is never taken back: a trial is
//! judged at a rung only in the epoch it reaches it.

use super::Pruner;
use crate::spec::Direction;
use crate::trial::Trial;

/// ASHA over epochs.
#[derive(Clone, Copy, Debug)]
pub struct AshaPruner {
    /// The first rung's epoch (Optuna: 1 when `auto` has nothing to go by).
    pub min_resource: usize,
    /// η: the fraction `1/η` of each rung goes on (Optuna: 4).
    pub reduction_factor: usize,
}

impl AshaPruner {
    /// Whether `epoch` is a rung.
    pub fn is_rung(&self, epoch: usize) -> bool {
        let mut r = self.min_resource;
        while r < epoch {
            r = r.saturating_mul(self.reduction_factor);
        }
        r == epoch
    }
}

impl Pruner for AshaPruner {
    fn prune(&self, trial: &Trial, trials: &[Trial], direction: Direction) -> bool {
        let Some((epoch, value)) = trial.last() else {
            return false;
        };
        if !value.is_finite() {
            return true;
        }
        if !self.is_rung(epoch) {
            return false;
        }
        let mut competing: Vec<f64> = trials
            .iter()
            .filter(|t| t.number != trial.number)
            .filter_map(|t| t.value_at(epoch).map(|v| direction.loss(v)))
            .filter(|v| v.is_finite())
            .chain([direction.loss(value)])
            .collect();
        competing.sort_by(f64::total_cmp);
        let k = (competing.len() / self.reduction_factor).max(1);
        direction.loss(value) > competing[k - 1]
    }
}
