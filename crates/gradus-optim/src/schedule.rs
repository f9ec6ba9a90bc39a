//! Learning-rate schedules: pure functions of the step count (optax style), with PyTorch's
//! `lr_scheduler` semantics and names. `value(t)` is the rate used by step `t + 1` (so `value(0)`
//! is the first step's rate, like a torch scheduler after `t` calls to `scheduler.step()`).

use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// How one-cycle anneals between its phase endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Anneal {
    /// Cosine: `end + (start - end) / 2 * (1 + cos(pi * pct))`.
    Cos,
    /// Linear: `start + (end - start) * pct`.
    Linear,
}

/// A schedule: a value (learning rate, momentum) as a pure function of the step.
///
/// `base` is the initial learning rate (torch's `initial_lr`). Build with the constructors and
/// sample with [`Schedule::value`] or [`Schedule::sample`] (for plotting).
///
/// ```
/// use gradus_optim::Schedule;
/// // 5 steps of linear warmup from 0.1x, then cosine annealing over the remaining 35 steps.
/// let s = Schedule::sequential(vec![
///     Schedule::linear(0.05, 0.1, 1.0, 5),
///     Schedule::cosine(0.05, 35, 0.0),
/// ], vec![5]);
/// assert!((s.value(0) - 0.005).abs() < 1e-15);
/// assert!((s.value(5) - 0.05).abs() < 1e-15);
/// assert_eq!(s.sample(40).len(), 40);
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Schedule {
    /// The same value at every step.
    Constant(f64),
    /// torch `StepLR`: `base * gamma^(t / step_size)`.
    Step {
        /// Initial value.
        base: f64,
        /// Steps between decays.
        step_size: u64,
        /// Decay factor.
        gamma: f64,
    },
    /// torch `MultiStepLR`: `base * gamma^(number of milestones <= t)`.
    MultiStep {
        /// Initial value.
        base: f64,
        /// Sorted steps at which to decay.
        milestones: Vec<u64>,
        /// Decay factor.
        gamma: f64,
    },
    /// torch `ExponentialLR`: `base * gamma^t`.
    Exponential {
        /// Initial value.
        base: f64,
        /// Decay factor per step.
        gamma: f64,
    },
    /// Inverse-time decay: `base / (1 + decay_rate * t / decay_steps)` (floored when `staircase`).
    InverseTime {
        /// Initial value.
        base: f64,
        /// Rate of decay.
        decay_rate: f64,
        /// Steps per unit of decay.
        decay_steps: u64,
        /// Decay in discrete intervals.
        staircase: bool,
    },
    /// torch `PolynomialLR` (with `end = 0`) / optax `polynomial_schedule`:
    /// `end + (base - end) * (1 - min(t, total_iters) / total_iters)^power`.
    Polynomial {
        /// Initial value.
        base: f64,
        /// Final value.
        end: f64,
        /// Steps to reach `end`.
        total_iters: u64,
        /// Exponent.
        power: f64,
    },
    /// torch `CosineAnnealingLR` (closed form):
    /// `eta_min + (base - eta_min) * (1 + cos(pi * t / t_max)) / 2`.
    Cosine {
        /// Initial value.
        base: f64,
        /// Half period.
        t_max: u64,
        /// Minimum value.
        eta_min: f64,
    },
    /// torch `CosineAnnealingWarmRestarts`: cosine over periods `T_0, T_0 T_mult, ...`.
    CosineWarmRestarts {
        /// Initial value (at each restart).
        base: f64,
        /// First period.
        t_0: u64,
        /// Period growth factor (>= 1).
        t_mult: u64,
        /// Minimum value.
        eta_min: f64,
    },
    /// torch `LinearLR`: `base * factor`, factor linear from `start_factor` to `end_factor` over
    /// `total_iters` steps.
    Linear {
        /// Initial value.
        base: f64,
        /// Factor at step 0.
        start_factor: f64,
        /// Factor from `total_iters` on.
        end_factor: f64,
        /// Steps of the ramp.
        total_iters: u64,
    },
    /// torch `OneCycleLR`'s curve from `start` to `peak` then to `end` (three-phase: back to
    /// `start` first). See [`OneCycle`] for torch's defaults and the matching momentum curve.
    OneCycle {
        /// Total steps of the cycle.
        total_steps: u64,
        /// Fraction of the cycle spent rising.
        pct_start: f64,
        /// Anneal strategy.
        anneal: Anneal,
        /// torch's `three_phase`.
        three_phase: bool,
        /// Value at step 0.
        start: f64,
        /// Value at the end of the first phase.
        peak: f64,
        /// Value at the last step.
        end: f64,
    },
    /// A rate set from outside, e.g. by [`ReduceOnPlateau`](crate::ReduceOnPlateau).
    Shared(crate::SharedLr),
    /// torch `SequentialLR`: schedule `i` runs from `milestones[i-1]`, restarted at its step 0.
    Sequential {
        /// The schedules, one more than milestones.
        schedules: Vec<Schedule>,
        /// Steps at which to switch.
        milestones: Vec<u64>,
    },
}

impl From<f64> for Schedule {
    fn from(lr: f64) -> Schedule {
        Schedule::Constant(lr)
    }
}

impl Schedule {
    /// torch `StepLR`: `base * gamma^floor(t / step_size)`.
    ///
    /// ```
    /// use gradus_optim::Schedule;
    /// let s = Schedule::step(0.1, 10, 0.5);
    /// assert_eq!((s.value(9), s.value(10), s.value(20)), (0.1, 0.05, 0.025));
    /// ```
    pub fn step(base: f64, step_size: u64, gamma: f64) -> Schedule {
        Schedule::Step {
            base,
            step_size: step_size.max(1),
            gamma,
        }
    }
    /// torch `MultiStepLR`: `base * gamma^(number of milestones <= t)`.
    ///
    /// ```
    /// use gradus_optim::Schedule;
    /// let s = Schedule::multi_step(1.0, vec![5, 15], 0.1);
    /// assert_eq!((s.value(4), s.value(5), s.value(15)), (1.0, 0.1, 0.1 * 0.1));
    /// ```
    pub fn multi_step(base: f64, mut milestones: Vec<u64>, gamma: f64) -> Schedule {
        milestones.sort_unstable();
        Schedule::MultiStep {
            base,
            milestones,
            gamma,
        }
    }
    /// torch `ExponentialLR`: `base * gamma^t`.
    ///
    /// ```
    /// use gradus_optim::Schedule;
    /// assert_eq!(Schedule::exponential(1.0, 0.5).value(3), 0.125);
    /// ```
    pub fn exponential(base: f64, gamma: f64) -> Schedule {
        Schedule::Exponential { base, gamma }
    }
    /// Inverse-time decay: `base / (1 + decay_rate * t / decay_steps)`, with `t / decay_steps`
    /// floored when `staircase`.
    ///
    /// ```
    /// use gradus_optim::Schedule;
    /// assert_eq!(Schedule::inverse_time(1.0, 1.0, 10, false).value(10), 0.5);
    /// assert_eq!(Schedule::inverse_time(1.0, 1.0, 10, true).value(9), 1.0);
    /// ```
    pub fn inverse_time(base: f64, decay_rate: f64, decay_steps: u64, staircase: bool) -> Schedule {
        Schedule::InverseTime {
            base,
            decay_rate,
            decay_steps: decay_steps.max(1),
            staircase,
        }
    }
    /// torch `PolynomialLR`: `base * (1 - min(t, total_iters) / total_iters)^power`, reaching 0.
    ///
    /// ```
    /// use gradus_optim::Schedule;
    /// let s = Schedule::polynomial(1.0, 10, 2.0);
    /// assert_eq!((s.value(5), s.value(10), s.value(20)), (0.25, 0.0, 0.0));
    /// ```
    pub fn polynomial(base: f64, total_iters: u64, power: f64) -> Schedule {
        Schedule::Polynomial {
            base,
            end: 0.0,
            total_iters: total_iters.max(1),
            power,
        }
    }
    /// torch `CosineAnnealingLR`: `eta_min + (base - eta_min) (1 + cos(pi t / t_max)) / 2`.
    ///
    /// ```
    /// use gradus_optim::Schedule;
    /// let s = Schedule::cosine(1.0, 10, 0.0);
    /// assert_eq!(s.value(0), 1.0);
    /// assert!((s.value(5) - 0.5).abs() < 1e-15 && s.value(10).abs() < 1e-15);
    /// ```
    pub fn cosine(base: f64, t_max: u64, eta_min: f64) -> Schedule {
        Schedule::Cosine {
            base,
            t_max: t_max.max(1),
            eta_min,
        }
    }
    /// torch `CosineAnnealingWarmRestarts`: cosine annealing over periods `t_0, t_0 t_mult, ...`,
    /// restarting at `base` at the start of each.
    ///
    /// ```
    /// use gradus_optim::Schedule;
    /// let s = Schedule::cosine_warm_restarts(1.0, 4, 2, 0.0);
    /// assert_eq!((s.value(0), s.value(4), s.value(12)), (1.0, 1.0, 1.0)); // restarts at 4 and 4 + 8
    /// assert!((s.value(2) - 0.5).abs() < 1e-15);
    /// ```
    pub fn cosine_warm_restarts(base: f64, t_0: u64, t_mult: u64, eta_min: f64) -> Schedule {
        Schedule::CosineWarmRestarts {
            base,
            t_0: t_0.max(1),
            t_mult: t_mult.max(1),
            eta_min,
        }
    }
    /// torch `LinearLR`: `base * (start_factor + (end_factor - start_factor) min(t, total_iters) /
    /// total_iters)`, a linear warmup when `start_factor < end_factor`.
    ///
    /// ```
    /// use gradus_optim::Schedule;
    /// let warmup = Schedule::linear(1.0, 0.1, 1.0, 9);
    /// assert_eq!((warmup.value(0), warmup.value(9), warmup.value(50)), (0.1, 1.0, 1.0));
    /// ```
    pub fn linear(base: f64, start_factor: f64, end_factor: f64, total_iters: u64) -> Schedule {
        Schedule::Linear {
            base,
            start_factor,
            end_factor,
            total_iters,
        }
    }
    /// torch `SequentialLR`: schedule `i` runs from milestone `i - 1`, with its own step count
    /// starting at 0 there (warmup, then anything).
    ///
    /// ```
    /// use gradus_optim::Schedule;
    /// let s = Schedule::sequential(vec![Schedule::linear(1.0, 0.5, 1.0, 2), Schedule::exponential(1.0, 0.5)], vec![2]);
    /// assert_eq!(s.sample(5), vec![0.5, 0.75, 1.0, 0.5, 0.25]);
    /// ```
    pub fn sequential(schedules: Vec<Schedule>, milestones: Vec<u64>) -> Schedule {
        Schedule::Sequential {
            schedules,
            milestones,
        }
    }

    /// The value used by step `t + 1`.
    ///
    /// ```
    /// assert_eq!(gradus_optim::Schedule::Constant(0.3).value(100), 0.3);
    /// ```
    pub fn value(&self, t: u64) -> f64 {
        match self {
            Schedule::Constant(v) => *v,
            Schedule::Step {
                base,
                step_size,
                gamma,
            } => base * gamma.powi((t / step_size) as i32),
            Schedule::MultiStep {
                base,
                milestones,
                gamma,
            } => base * gamma.powi(milestones.iter().filter(|&&m| m <= t).count() as i32),
            Schedule::Exponential { base, gamma } => base * gamma.powf(t as f64),
            Schedule::InverseTime {
                base,
                decay_rate,
                decay_steps,
                staircase,
            } => {
                let mut x = t as f64 / *decay_steps as f64;
                if *staircase {
                    x = x.floor();
                }
                base / (1.0 + decay_rate * x)
            }
            Schedule::Polynomial {
                base,
                end,
                total_iters,
                power,
            } => {
                let frac = 1.0 - (t.min(*total_iters) as f64) / *total_iters as f64;
                end + (base - end) * frac.powf(*power)
            }
            Schedule::Cosine {
                base,
                t_max,
                eta_min,
            } => cosine(*base, *eta_min, t as f64 / *t_max as f64),
            Schedule::CosineWarmRestarts {
                base,
                t_0,
                t_mult,
                eta_min,
            } => {
                let (mut t_cur, mut t_i) = (t, *t_0);
                while t_cur >= t_i {
                    t_cur -= t_i;
                    t_i *= t_mult;
                }
                cosine(*base, *eta_min, t_cur as f64 / t_i as f64)
            }
            Schedule::Linear {
                base,
                start_factor,
                end_factor,
                total_iters,
            } => {
                let frac = if *total_iters == 0 {
                    1.0
                } else {
                    t.min(*total_iters) as f64 / *total_iters as f64
                };
                base * (start_factor + (end_factor - start_factor) * frac)
            }
            Schedule::OneCycle { .. } => self.one_cycle_value(t),
            Schedule::Shared(lr) => lr.get(),
            Schedule::Sequential {
                schedules,
                milestones,
            } => {
                let idx = milestones.iter().filter(|&&m| m <= t).count();
                let start = if idx == 0 { 0 } else { milestones[idx - 1] };
                schedules
                    .get(idx)
                    .or(schedules.last())
                    .map_or(0.0, |s| s.value(t - start))
            }
        }
    }

    /// The first `n` values (for plotting).
    ///
    /// ```
    /// assert_eq!(gradus_optim::Schedule::exponential(1.0, 0.5).sample(3), vec![1.0, 0.5, 0.25]);
    /// ```
    pub fn sample(&self, n: u64) -> Vec<f64> {
        (0..n).map(|t| self.value(t)).collect()
    }

    fn one_cycle_value(&self, t: u64) -> f64 {
        let Schedule::OneCycle {
            total_steps,
            pct_start,
            anneal,
            three_phase,
            start,
            peak,
            end,
        } = *self
        else {
            unreachable!("called on OneCycle only")
        };
        let total = total_steps as f64;
        let rise = pct_start * total - 1.0;
        let phases: Vec<(f64, f64, f64)> = if three_phase {
            vec![
                (rise, start, peak),
                (2.0 * pct_start * total - 2.0, peak, start),
                (total - 1.0, start, end),
            ]
        } else {
            vec![(rise, start, peak), (total - 1.0, peak, end)]
        };
        let step = t as f64;
        let mut begin = 0.0;
        for (i, &(stop, from, to)) in phases.iter().enumerate() {
            if step <= stop || i == phases.len() - 1 {
                let pct = (step - begin) / (stop - begin);
                return match anneal {
                    Anneal::Cos => to + (from - to) / 2.0 * ((PI * pct).cos() + 1.0),
                    Anneal::Linear => (to - from) * pct + from,
                };
            }
            begin = stop;
        }
        end
    }
}

fn cosine(base: f64, eta_min: f64, frac: f64) -> f64 {
    eta_min + (base - eta_min) * (1.0 + (PI * frac).cos()) / 2.0
}

/// torch `OneCycleLR`'s configuration and defaults (`pct_start` 0.3, cosine annealing,
/// `div_factor` 25, `final_div_factor` 1e4, two phases, momentum cycled between 0.95 and 0.85).
///
/// Like torch, one-cycle also cycles momentum (inversely to the rate): give
/// [`OneCycle::momentum_schedule`] to [`Sgd::momentum_schedule`](crate::Sgd::momentum_schedule)
/// to match `torch.optim.lr_scheduler.OneCycleLR(cycle_momentum=True)` (cycling Adam's beta1 is
/// not supported yet).
///
/// ```
/// use gradus_optim::OneCycle;
/// let oc = OneCycle::new(0.1, 40);
/// let lr = oc.lr_schedule();
/// assert!((lr.value(0) - 0.004).abs() < 1e-15 && (lr.value(11) - 0.1).abs() < 1e-15);
/// assert!((oc.momentum_schedule().value(11) - 0.85).abs() < 1e-15);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OneCycle {
    /// Peak learning rate.
    pub max_lr: f64,
    /// Steps in the cycle.
    pub total_steps: u64,
    /// Fraction of steps spent increasing the rate.
    pub pct_start: f64,
    /// Annealing strategy.
    pub anneal: Anneal,
    /// Initial rate is `max_lr / div_factor`.
    pub div_factor: f64,
    /// Final rate is `initial / final_div_factor`.
    pub final_div_factor: f64,
    /// Three phases (up, down to initial, annihilate) instead of two.
    pub three_phase: bool,
    /// Lowest momentum (at the peak rate).
    pub base_momentum: f64,
    /// Highest momentum (at the ends).
    pub max_momentum: f64,
}

impl OneCycle {
    /// torch's defaults for `max_lr` and `total_steps`.
    pub fn new(max_lr: f64, total_steps: u64) -> OneCycle {
        OneCycle {
            max_lr,
            total_steps,
            pct_start: 0.3,
            anneal: Anneal::Cos,
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: false,
            base_momentum: 0.85,
            max_momentum: 0.95,
        }
    }

    /// The learning-rate curve.
    pub fn lr_schedule(&self) -> Schedule {
        let start = self.max_lr / self.div_factor;
        self.curve(start, self.max_lr, start / self.final_div_factor)
    }

    /// The momentum curve (high when the rate is low).
    pub fn momentum_schedule(&self) -> Schedule {
        self.curve(self.max_momentum, self.base_momentum, self.max_momentum)
    }

    fn curve(&self, start: f64, peak: f64, end: f64) -> Schedule {
        Schedule::OneCycle {
            total_steps: self.total_steps,
            pct_start: self.pct_start,
            anneal: self.anneal,
            three_phase: self.three_phase,
            start,
            peak,
            end,
        }
    }
}
