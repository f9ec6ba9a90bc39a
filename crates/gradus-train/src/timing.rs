//! Where a run's time goes: wall-clock seconds per phase of [`Trainer::fit`](crate::trainer::Trainer::fit),
//! written to `summary.json` as `time` and printed at the end of `gradus train` (what PyTorch
//! Lightning's `SimpleProfiler` reports per hook).
//!
//! The phases do not overlap; what none of them covers (setup, the schedule, the progress bar's
//! epoch lines, stop checks) is [`PhaseTimes::other`]. They are measured with
//! [`std::time::Instant`] around each phase, so they cost two clock reads a phase.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// A phase of a training run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Data,
    Step,
    Diagnostics,
    Validation,
    Writing,
}

const PHASES: usize = 5;

/// The running totals of one `fit` call (interior mutability, so that the read-only step context
/// can carry it).
pub(crate) struct PhaseClock {
    started: Instant,
    spent: [Cell<Duration>; PHASES],
}

impl PhaseClock {
    /// A clock whose total counts from now.
    pub(crate) fn start() -> Self {
        PhaseClock {
            started: Instant::now(),
            spent: Default::default(),
        }
    }

    /// Runs `f`, adding its wall time to `phase`.
    pub(crate) fn time<T>(&self, phase: Phase, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        self.add(phase, t.elapsed());
        out
    }

    /// Adds `d` to `phase`.
    pub(crate) fn add(&self, phase: Phase, d: Duration) {
        let cell = &self.spent[phase as usize];
        cell.set(cell.get() + d);
    }

    /// The time spent in `phase` so far.
    pub(crate) fn spent(&self, phase: Phase) -> Duration {
        self.spent[phase as usize].get()
    }

    /// The totals so far, in seconds.
    pub(crate) fn times(&self) -> PhaseTimes {
        let s = |p: Phase| self.spent(p).as_secs_f64();
        PhaseTimes {
            total: self.started.elapsed().as_secs_f64(),
            data: s(Phase::Data),
            step: s(Phase::Step),
            diagnostics: s(Phase::Diagnostics),
            validation: s(Phase::Validation),
            writing: s(Phase::Writing),
        }
    }
}

/// Wall-clock seconds of one `fit` call, by phase (`summary.json`'s `time`). A resumed run counts
/// from its resume. The files written after `summary.json` (the final model and the report) are
/// not counted.
///
/// ```
/// use gradus_train::timing::PhaseTimes;
/// let t = PhaseTimes { total: 10.0, data: 0.2, step: 9.0, diagnostics: 0.1, validation: 0.5, writing: 0.1 };
/// assert!((t.other() - 0.1).abs() < 1e-9);
/// assert!((t.outside_steps() - 0.1).abs() < 1e-9); // 10% of the run is not training steps
/// ```
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhaseTimes {
    /// The whole call, from its start to the writing of `summary.json`.
    pub total: f64,
    /// Gathering each batch's samples into tensors (and augmenting them).
    pub data: f64,
    /// Training steps: forward, loss, backward, the all-reduce of a data-parallel run, the
    /// gradient hook and the optimizer update, with the update ratios the step measures.
    pub step: f64,
    /// Reading and recording the steps' losses and gradient norms: the divergence guard, the
    /// progress line, `steps.csv` rows and step observers.
    pub diagnostics: f64,
    /// The validation passes at the ends of epochs.
    pub validation: f64,
    /// Checkpoints, the best model, the epoch logs and the epoch observers (TensorBoard).
    pub writing: f64,
}

impl PhaseTimes {
    /// Seconds outside every phase (setup, schedule and stop checks, progress output), never
    /// negative.
    pub fn other(&self) -> f64 {
        let phases = self.data + self.step + self.diagnostics + self.validation + self.writing;
        (self.total - phases).max(0.0)
    }

    /// The fraction of [`total`](Self::total) not spent in training steps (0 for an empty run).
    pub fn outside_steps(&self) -> f64 {
        if self.total > 0.0 {
            (1.0 - self.step / self.total).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// One line for people: `22.0 s: steps 20.1 s (91%), data 0.4 s, ...`, with the decimals the
    /// total needs (one from 10 s, two from 1 s, three below).
    ///
    /// ```
    /// use gradus_train::timing::PhaseTimes;
    /// let t = PhaseTimes { total: 10.0, data: 0.2, step: 9.0, diagnostics: 0.1, validation: 0.5, writing: 0.1 };
    /// assert_eq!(t.line(), "10.0 s: steps 9.0 s (90%), data 0.2 s, validation 0.5 s, diagnostics 0.1 s, writing 0.1 s, other 0.1 s");
    /// let short = PhaseTimes { total: 0.029, data: 0.001, step: 0.022, ..Default::default() };
    /// assert!(short.line().starts_with("0.029 s: steps 0.022 s (76%), data 0.001 s"));
    /// ```
    pub fn line(&self) -> String {
        let share = if self.total > 0.0 {
            100.0 * self.step / self.total
        } else {
            0.0
        };
        // the decimals a run's length needs: a run of 0.03 s still shows its split
        let d = match self.total {
            t if t < 1.0 => 3,
            t if t < 10.0 => 2,
            _ => 1,
        };
        format!(
            "{:.d$} s: steps {:.d$} s ({share:.0}%), data {:.d$} s, validation {:.d$} s, diagnostics {:.d$} s, writing {:.d$} s, other {:.d$} s",
            self.total,
            self.step,
            self.data,
            self.validation,
            self.diagnostics,
            self.writing,
            self.other()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_add_up_and_never_overlap_the_total() {
        let clock = PhaseClock::start();
        clock.add(Phase::Data, Duration::from_millis(3));
        clock.add(Phase::Step, Duration::from_millis(5));
        clock.add(Phase::Step, Duration::from_millis(2));
        let x = clock.time(Phase::Writing, || 7);
        assert_eq!(x, 7);
        assert_eq!(clock.spent(Phase::Step), Duration::from_millis(7));
        let t = clock.times();
        assert_eq!(t.data, 0.003);
        assert_eq!(t.step, 0.007);
        assert_eq!(t.validation, 0.0);
        assert_eq!(t.diagnostics, 0.0);
        assert!(t.writing >= 0.0 && t.total >= 0.0);
        // the added durations were never spent, so they exceed the elapsed total: `other`
        // clamps at zero rather than going negative
        assert_eq!(
            t.other(),
            (t.total - (t.data + t.step + t.writing)).max(0.0)
        );
    }

    #[test]
    fn an_empty_run_spends_nothing_outside_steps() {
        assert_eq!(PhaseTimes::default().outside_steps(), 0.0);
        assert_eq!(PhaseTimes::default().other(), 0.0);
    }
}
