//! Reduce-on-plateau: the one stateful schedule, driven by a metric (torch `ReduceLROnPlateau`).

use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};

/// A learning rate shared between a [`ReduceOnPlateau`] and the optimizer reading it
/// ([`Schedule::Shared`](crate::Schedule)). Serializes as its current value.
#[derive(Clone, Debug)]
pub struct SharedLr(Arc<RwLock<f64>>);

impl SharedLr {
    /// A shared rate starting at `lr`.
    pub fn new(lr: f64) -> SharedLr {
        SharedLr(Arc::new(RwLock::new(lr)))
    }
    /// The current rate.
    pub fn get(&self) -> f64 {
        *self.0.read().expect("lr lock")
    }
    /// Sets the rate.
    pub fn set(&self, lr: f64) {
        *self.0.write().expect("lr lock") = lr;
    }
}

impl PartialEq for SharedLr {
    fn eq(&self, other: &SharedLr) -> bool {
        self.get() == other.get()
    }
}

impl Serialize for SharedLr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedLr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SharedLr, D::Error> {
        f64::deserialize(d).map(SharedLr::new)
    }
}

/// Whether a lower or a higher metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlateauMode {
    /// Lower is better (a loss).
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// Whether [`ReduceOnPlateau`]'s threshold is relative to the best metric or absolute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThresholdMode {
    /// An improvement must beat the best by `threshold * |best|` (torch's `"rel"`, the default).
    #[default]
    Rel,
    /// An improvement must beat the best by `threshold` (torch's `"abs"`).
    Abs,
}

/// torch `ReduceLROnPlateau`: multiplies the rate by `factor` when the metric has not improved by
/// more than `threshold` (relative by default, see [`ThresholdMode`]) for `patience` calls, then
/// waits `cooldown` calls; never goes below `min_lr`.
///
/// **Difference from torch.** torch's relative test is `metric < best * (1 - threshold)` (min
/// mode) and `metric > best * (1 + threshold)` (max mode), which moves the bar the wrong way for a
/// negative best: a constant metric of -1 counts as improving forever and the rate never drops.
/// gradus scales the margin by `|best|` (`metric < best - threshold * |best|`), identical to torch
/// for a positive best and symmetric for a negative one.
///
/// ```
/// use gradus_optim::{Optimizer, ReduceOnPlateau, Schedule, Sgd};
/// let mut plateau = ReduceOnPlateau::new(0.1).patience(1);
/// let sgd = Sgd::new(Schedule::Shared(plateau.lr())); // the optimizer reads the shared rate
/// for loss in [1.0, 0.5, 0.5, 0.5] {
///     plateau.step(loss);
/// }
/// assert!((plateau.lr().get() - 0.01).abs() < 1e-15);
/// # let _ = sgd;
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReduceOnPlateau {
    lr: SharedLr,
    mode: PlateauMode,
    factor: f64,
    patience: u64,
    threshold: f64,
    #[serde(default)]
    threshold_mode: ThresholdMode,
    cooldown: u64,
    min_lr: f64,
    eps: f64,
    best: Option<f64>,
    num_bad: u64,
    cooldown_left: u64,
}

impl ReduceOnPlateau {
    /// torch's defaults: mode min, factor 0.1, patience 10, threshold 1e-4 (rel), cooldown 0.
    pub fn new(lr: f64) -> ReduceOnPlateau {
        ReduceOnPlateau {
            lr: SharedLr::new(lr),
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
            best: None,
            num_bad: 0,
            cooldown_left: 0,
        }
    }
    /// Min or max mode.
    pub fn mode(mut self, mode: PlateauMode) -> Self {
        self.mode = mode;
        self
    }
    /// Reduction factor.
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }
    /// Calls without improvement tolerated.
    pub fn patience(mut self, patience: u64) -> Self {
        self.patience = patience;
        self
    }
    /// Improvement threshold (relative to `|best|` or absolute, see
    /// [`ReduceOnPlateau::threshold_mode`]).
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }
    /// Relative (default) or absolute threshold.
    ///
    /// ```
    /// use gradus_optim::{ReduceOnPlateau, ThresholdMode};
    /// let mut p = ReduceOnPlateau::new(1.0).threshold_mode(ThresholdMode::Abs).threshold(0.5).patience(0).factor(0.5);
    /// assert_eq!(p.step(-1.0), 1.0);
    /// assert_eq!(p.step(-1.4), 0.5); // not better by 0.5
    /// assert_eq!(p.step(-1.6), 0.5); // better by 0.6
    /// ```
    pub fn threshold_mode(mut self, mode: ThresholdMode) -> Self {
        self.threshold_mode = mode;
        self
    }
    /// Calls to wait after a reduction.
    pub fn cooldown(mut self, cooldown: u64) -> Self {
        self.cooldown = cooldown;
        self
    }
    /// Lower bound on the rate.
    pub fn min_lr(mut self, min_lr: f64) -> Self {
        self.min_lr = min_lr;
        self
    }
    /// The shared rate (give `Schedule::Shared(plateau.lr())` to an optimizer).
    pub fn lr(&self) -> SharedLr {
        self.lr.clone()
    }
    /// Restores a state saved with serde (a checkpoint) into this scheduler, keeping the shared
    /// rate that the optimizer reads: counters, best metric and the rate itself continue exactly.
    ///
    /// ```
    /// use gradus_optim::ReduceOnPlateau;
    /// let mut live = ReduceOnPlateau::new(0.1).patience(0);
    /// let reader = live.lr(); // what the optimizer holds
    /// let json = serde_json::to_string(&live).unwrap();
    /// let mut saved: ReduceOnPlateau = serde_json::from_str(&json).unwrap();
    /// saved.step(1.0);
    /// saved.step(2.0); // no improvement: the saved copy's rate drops
    /// assert_eq!(reader.get(), 0.1);
    /// live.load_state(saved);
    /// assert!((reader.get() - 0.01).abs() < 1e-15);
    /// ```
    pub fn load_state(&mut self, saved: ReduceOnPlateau) {
        let shared = self.lr.clone();
        shared.set(saved.lr.get());
        *self = ReduceOnPlateau {
            lr: shared,
            ..saved
        };
    }

    /// True when `metric` beats the best by more than the threshold (a NaN never does; the first
    /// finite metric sets the best).
    fn improved(&self, metric: f64) -> bool {
        let Some(best) = self.best else {
            return metric.is_finite();
        };
        let margin = match self.threshold_mode {
            ThresholdMode::Rel => self.threshold * best.abs(),
            ThresholdMode::Abs => self.threshold,
        };
        match self.mode {
            PlateauMode::Min => metric < best - margin,
            PlateauMode::Max => metric > best + margin,
        }
    }

    /// Records one metric value; returns the rate to use next.
    pub fn step(&mut self, metric: f64) -> f64 {
        if self.improved(metric) {
            self.best = Some(metric);
            self.num_bad = 0;
        } else {
            self.num_bad += 1;
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.num_bad = 0;
        }
        if self.num_bad > self.patience {
            let old = self.lr.get();
            let new = (old * self.factor).max(self.min_lr);
            if old - new > self.eps {
                self.lr.set(new);
            }
            self.cooldown_left = self.cooldown;
            self.num_bad = 0;
        }
        self.lr.get()
    }
}
