//! [`Trial`]: one configuration tried, its per-epoch values and how it ended.

use crate::space::Params;

/// Where a trial stands.
#[derive(Clone, Debug, PartialEq)]
pub enum TrialState {
    /// Created, not finished (or the search stopped while it ran and was not resumed yet).
    Running,
    /// Ran to its end; the objective's value.
    Completed(f64),
    /// Stopped by the pruner after the given epoch.
    Pruned(usize),
    /// Failed: why. `interrupted` when the search itself was stopped while the trial ran; such
    /// trials do not count toward the number of trials asked for, and a resumed search runs
    /// their parameters again first (as Optuna's `RetryFailedTrialCallback`).
    Failed {
        /// The reason (the trial's error, or the interruption).
        reason: String,
        /// Stopped with the search rather than by its own failure.
        interrupted: bool,
    },
}

/// One trial: its number, parameters, per-epoch objective values and state.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    /// 0-based, in the order trials were created.
    pub number: usize,
    /// The drawn values.
    pub params: Params,
    /// `(epoch, value)` of the objective after each epoch reported, epochs ascending.
    pub intermediate: Vec<(usize, f64)>,
    /// How it stands.
    pub state: TrialState,
}

impl Trial {
    /// The objective's final value, when completed.
    pub fn value(&self) -> Option<f64> {
        match self.state {
            TrialState::Completed(v) => Some(v),
            _ => None,
        }
    }

    /// The value reported for `epoch`.
    pub fn value_at(&self, epoch: usize) -> Option<f64> {
        self.intermediate
            .iter()
            .find(|(e, _)| *e == epoch)
            .map(|(_, v)| *v)
    }

    /// The last `(epoch, value)` reported.
    pub fn last(&self) -> Option<(usize, f64)> {
        self.intermediate.last().copied()
    }

    /// Whether the trial counts toward the number of trials asked for (all but those stopped
    /// with the search).
    pub fn counts(&self) -> bool {
        !matches!(
            self.state,
            TrialState::Failed {
                interrupted: true,
                ..
            }
        )
    }

    /// Whether the trial was stopped with the search (not by its own failure or the pruner).
    pub fn interrupted(&self) -> bool {
        !self.counts()
    }

    /// A short name of its state: running, completed, pruned, failed, interrupted.
    pub fn state_name(&self) -> &'static str {
        match self.state {
            TrialState::Running => "running",
            TrialState::Completed(_) => "completed",
            TrialState::Pruned(_) => "pruned",
            TrialState::Failed {
                interrupted: true, ..
            } => "interrupted",
            TrialState::Failed { .. } => "failed",
        }
    }
}
