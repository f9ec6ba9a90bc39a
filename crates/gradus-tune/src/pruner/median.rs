//! The median stopping rule, as Optuna's `MedianPruner` (`PercentilePruner` at 50): after its
//! warm-up, a trial stops when its best value so far is worse than the median of the values the
//! completed trials had at the same epoch (once `n_startup_trials` trials have completed).

use super::Pruner;
use crate::spec::Direction;
use crate::trial::{Trial, TrialState};

/// Median stopping.
#[derive(Clone, Copy, Debug)]
pub struct MedianPruner {
    /// Completed trials needed before any pruning (Optuna: 5).
    pub n_startup_trials: usize,
    /// A trial's epochs up to this one are never pruned (Optuna: 0).
    pub n_warmup_steps: usize,
}

/// The median of `v` (numpy's `percentile(v, 50)`: the mean of the middle two for an even count).
pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    })
}

impl Pruner for MedianPruner {
    fn prune(&self, trial: &Trial, trials: &[Trial], direction: Direction) -> bool {
        let Some((epoch, last)) = trial.last() else {
            return false;
        };
        if !last.is_finite() {
            return true;
        }
        let completed: Vec<&Trial> = trials
            .iter()
            .filter(|t| matches!(t.state, TrialState::Completed(_)))
            .collect();
        if completed.len() < self.n_startup_trials || epoch <= self.n_warmup_steps {
            return false;
        }
        let best = trial
            .intermediate
            .iter()
            .map(|(_, v)| direction.loss(*v))
            .filter(|v| v.is_finite())
            .fold(f64::INFINITY, f64::min);
        let mut others: Vec<f64> = completed
            .iter()
            .filter_map(|t| t.value_at(epoch).map(|v| direction.loss(v)))
            .filter(|v| v.is_finite())
            .collect();
        median(&mut others).is_some_and(|m| best > m)
    }
}
