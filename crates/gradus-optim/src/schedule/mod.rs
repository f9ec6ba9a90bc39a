//! Learning-rate schedules: pure functions of the step count (optax style), with PyTorch's
//! `lr_scheduler` semantics and names. `value(t)` is the rate used by step `t + 1` (so `value(0)`
//! is the first step's rate, like a torch scheduler after `t` calls to `scheduler.step()`).
//!
//! **Past the horizon.** A schedule with an end ([`Schedule::horizon`]: cosine, polynomial,
//! linear, one-cycle, multi-step, and sequences ending in one of these) holds its final value from
//! its horizon on, as optax's schedules do. PyTorch differs: `OneCycleLR` raises once stepped past
//! `total_steps`, and `CosineAnnealingLR` continues its cosine back up to the initial rate (a
//! period of `2 T_max`). Holding keeps a run that outlasts its schedule at the rate it annealed to.
//!
//! **Settings.** The constructors return an error naming the parameter for settings without a
//! meaning (a zero length, a non-finite value, `pct_start` outside `[0, 1]`...); see
//! [`Schedule::validate`]. Degenerate but meaningful settings are defined: a one-cycle of one step
//! runs at its final rate, a zero-length phase jumps to its end value.

use crate::error::Result;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

mod check;
mod one_cycle;

pub use one_cycle::OneCycle;

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
///     Schedule::linear(0.05, 0.1, 1.0, 5)?,
///     Schedule::cosine(0.05, 35, 0.0)?,
/// ], vec![5])?;
/// assert!((s.value(0) - 0.005).abs() < 1e-15);
/// assert!((s.value(5) - 0.05).abs() < 1e-15);
/// assert_eq!(s.sample(40).len(), 40);
/// assert_eq!(s.horizon(), Some(40)); // 0 from step 40 on
/// # Ok::<(), gradus_optim::OptimError>(())
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
    /// `eta_min + (base - eta_min) * (1 + cos(pi * min(t, t_max) / t_max)) / 2` (holds `eta_min`
    /// from `t_max` on, where torch's cosine rises again).
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
    /// `start` first), holding `end` from step `total_steps - 1` on (torch raises there). See
    /// [`OneCycle`] for torch's defaults and the matching momentum curve.
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
    /// # Errors
    /// When `step_size` is 0, or `base` or `gamma` is not finite or `gamma < 0`.
    ///
    /// ```
    /// use gradus_optim::Schedule;
    /// let s = Schedule::step(0.1, 10, 0.5)?;
    /// assert_eq!((s.value(9), s.value(10), s.value(20)), (0.1, 0.05, 0.025));
    /// assert!(Schedule::step(0.1, 0, 0.5).unwrap_err().to_string().contains("step_size"));
    /// # Ok::<(), gradus_optim::OptimError>(())
    /// ```
    pub fn step(base: f64, step_size: u64, gamma: f64) -> Result<Schedule> {
        Schedule::Step {
            base,
            step_size,
            gamma,
        }
        .validated()
    }
    /// torch `MultiStepLR`: `base * gamma^(number of milestones <= t)`.
    ///
    /// # Errors
    /// When `base` or `gamma` is not finite or `gamma < 0`.
    ///
    /// ```
    /// use gradus_optim::Schedule;
    /// let s = Schedule::multi_step(1.0, vec![5, 15], 0.1)?;
    /// assert_eq!((s.value(4), s.value(5), s.value(15)), (1.0, 0.1, 0.1 * 0.1));
    /// # Ok::<(), gradus_optim::OptimError>(())
    /// ```
    pub fn multi_step(base: f64, mut milestones: Vec<u64>, gamma: f64) -> Result<Schedule> {
        milestones.sort_unstable();
        Schedule::MultiStep {
            base,
            milestones,
            gamma,
        }
        .validated()
    }
    /// torch `ExponentialLR`: `base * gamma^t`.
    ///
    /// # Errors
    /// When `base` or `gamma` is not finite or `gamma < 0`.
    ///
    /// ```
    /// use gradus_optim::Schedule;
    /// assert_eq!(Schedule::exponential(1.0, 0.5)?.value(3), 0.125);
    /// # Ok::<(), gradus_optim::OptimError>(())
    /// ```
    pub fn exponential(base: f64, gamma: f64) -> Result<Schedule> {
        Schedule::Exponential { base, gamma }.validated()
    }
    /// Inverse-time decay: `base / (1 + decay_rate * t / decay_steps)`, with `t / decay_steps`
    /// floored when `staircase`.
    ///
    /// # Errors
    /// When `decay_steps` is 0, or `base` or `decay_rate` is not finite or `decay_rate < 0`.
    ///
    /// ```
    /// use gradus_optim::Schedule;
    /// assert_eq!(Schedule::inverse_time(1.0, 1.0, 10, false)?.value(10), 0.5);
    /// assert_eq!(Schedule::inverse_time(1.0, 1.0, 10, true)?.value(9), 1.0);
    /// # Ok::<(), gradus_optim::OptimError>(())
    /// ```
    pub fn inverse_time(
        base: f64,
        decay_rate: f64,
        decay_steps: u64,
        staircase: bool,
    ) -> Result<Schedule> {
        Schedule::InverseTime {
            base,
            decay_rate,
            decay_steps,
            staircase,
        }
        .validated()
    }
    /// torch `PolynomialLR`: `base * (1 - min(t, total_iters) / total_iters)^power`, reaching 0
    /// at `total_iters` and holding it.
    ///
    /// # Errors
    /// When `total_iters` is 0, or `base` or `power` is not finite or `power < 0`.
    ///
    /// ```
    /// use gradus_optim::Schedule;
    /// let s = Schedule::polynomial(1.0, 10, 2.0)?;
    /// assert_eq!((s.value(5), s.value(10), s.value(20)), (0.25, 0.0, 0.0));
    /// # Ok::<(), gradus_optim::OptimError>(())
    /// ```
    pub fn polynomial(base: f64, total_iters: u64, power: f64) -> Result<Schedule> {
        Schedule::Polynomial {
            base,
            end: 0.0,
            total_iters,
            power,
        }
        .validated()
    }
    /// torch `CosineAnnealingLR`: `eta_min + (base - eta_min) (1 + cos(pi t / t_max)) / 2` up to
    /// `t_max`, then `eta_min` (torch's curve would rise again; use
    /// [`Schedule::cosine_warm_restarts`] for periodic annealing).
    ///
    /// # Errors
    /// When `t_max` is 0, or `base` or `eta_min` is not finite.
    ///
    /// ```
    /// use gradus_optim::Schedule;
    /// let s = Schedule::cosine(1.0, 10, 0.0)?;
    /// assert_eq!(s.value(0), 1.0);
    /// assert!((s.value(5) - 0.5).abs() < 1e-15 && s.value(10).abs() < 1e-15);
    /// assert_eq!((s.value(15), s.horizon()), (s.value(10), Some(10)));
    /// # Ok::<(), gradus_optim::OptimError>(())
    /// ```
    pub fn cosine(base: f64, t_max: u64, eta_min: f64) -> Result<Schedule> {
        Schedule::Cosine {
            base,
            t_max,
            eta_min,
        }
        .validated()
    }
    /// torch `CosineAnnealingWarmRestarts`: cosine annealing over periods `t_0, t_0 t_mult, ...`,
    /// restarting at `base` at the start of each (periodic: no horizon).
    ///
    /// # Errors
    /// When `t_0` or `t_mult` is 0, or `base` or `eta_min` is not finite.
    ///
    /// ```
    /// use gradus_optim::Schedule;
    /// let s = Schedule::cosine_warm_restarts(1.0, 4, 2, 0.0)?;
    /// assert_eq!((s.value(0), s.value(4), s.value(12)), (1.0, 1.0, 1.0)); // restarts at 4 and 4 + 8
    /// assert!((s.value(2) - 0.5).abs() < 1e-15);
    /// # Ok::<(), gradus_optim::OptimError>(())
    /// ```
    pub fn cosine_warm_restarts(
        base: f64,
        t_0: u64,
        t_mult: u64,
        eta_min: f64,
    ) -> Result<Schedule> {
        Schedule::CosineWarmRestarts {
            base,
            t_0,
            t_mult,
            eta_min,
        }
        .validated()
    }
    /// torch `LinearLR`: `base * (start_factor + (end_factor - start_factor) min(t, total_iters) /
    /// total_iters)`, a linear warmup when `start_factor < end_factor`.
    ///
    /// Unlike torch, factors above 1 are allowed (the closed form needs no division by them).
    ///
    /// # Errors
    /// When `total_iters` is 0, or `base` or a factor is not finite or a factor is negative.
    ///
    /// ```
    /// use gradus_optim::Schedule;
    /// let warmup = Schedule::linear(1.0, 0.1, 1.0, 9)?;
    /// assert_eq!((warmup.value(0), warmup.value(9), warmup.value(50)), (0.1, 1.0, 1.0));
    /// # Ok::<(), gradus_optim::OptimError>(())
    /// ```
    pub fn linear(
        base: f64,
        start_factor: f64,
        end_factor: f64,
        total_iters: u64,
    ) -> Result<Schedule> {
        Schedule::Linear {
            base,
            start_factor,
            end_factor,
            total_iters,
        }
        .validated()
    }
    /// torch `SequentialLR`: schedule `i` runs from milestone `i - 1`, with its own step count
    /// starting at 0 there (warmup, then anything).
    ///
    /// # Errors
    /// When there is not exactly one more schedule than milestones, the milestones decrease, or
    /// a schedule is invalid.
    ///
    /// ```
    /// use gradus_optim::Schedule;
    /// let s = Schedule::sequential(vec![Schedule::linear(1.0, 0.5, 1.0, 2)?, Schedule::exponential(1.0, 0.5)?], vec![2])?;
    /// assert_eq!(s.sample(5), vec![0.5, 0.75, 1.0, 0.5, 0.25]);
    /// assert!(Schedule::sequential(vec![Schedule::Constant(1.0)], vec![2]).is_err());
    /// # Ok::<(), gradus_optim::OptimError>(())
    /// ```
    pub fn sequential(schedules: Vec<Schedule>, milestones: Vec<u64>) -> Result<Schedule> {
        Schedule::Sequential {
            schedules,
            milestones,
        }
        .validated()
    }

    fn validated(self) -> Result<Schedule> {
        self.validate()?;
        Ok(self)
    }

    /// The value used by step `t + 1`. Defined for every `t` and every setting (an invalid one
    /// built directly from the enum gives a finite value, never a panic; see
    /// [`Schedule::validate`]).
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
            } => decay(*base, *gamma, (t / (*step_size).max(1)) as f64),
            Schedule::MultiStep {
                base,
                milestones,
                gamma,
            } => decay(
                *base,
                *gamma,
                milestones.iter().filter(|&&m| m <= t).count() as f64,
            ),
            Schedule::Exponential { base, gamma } => decay(*base, *gamma, t as f64),
            Schedule::InverseTime {
                base,
                decay_rate,
                decay_steps,
                staircase,
            } => {
                let mut x = t as f64 / (*decay_steps).max(1) as f64;
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
                let frac = 1.0 - fraction(t, *total_iters);
                end + (base - end) * frac.powf(*power)
            }
            Schedule::Cosine {
                base,
                t_max,
                eta_min,
            } => cosine(*base, *eta_min, fraction(t, *t_max)),
            Schedule::CosineWarmRestarts {
                base,
                t_0,
                t_mult,
                eta_min,
            } => {
                let (t_cur, t_i) = restart_position(t, (*t_0).max(1), (*t_mult).max(1));
                cosine(*base, *eta_min, t_cur as f64 / t_i as f64)
            }
            Schedule::Linear {
                base,
                start_factor,
                end_factor,
                total_iters,
            } => base * (start_factor + (end_factor - start_factor) * fraction(t, *total_iters)),
            Schedule::OneCycle {
                total_steps,
                pct_start,
                anneal,
                three_phase,
                start,
                peak,
                end,
            } => one_cycle::value(
                t,
                *total_steps,
                *pct_start,
                *anneal,
                *three_phase,
                (*start, *peak, *end),
            ),
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
                    .map_or(0.0, |s| s.value(t.saturating_sub(start)))
            }
        }
    }

    /// The first `n` values (for plotting).
    ///
    /// ```
    /// assert_eq!(gradus_optim::Schedule::exponential(1.0, 0.5)?.sample(3), vec![1.0, 0.5, 0.25]);
    /// # Ok::<(), gradus_optim::OptimError>(())
    /// ```
    pub fn sample(&self, n: u64) -> Vec<f64> {
        (0..n).map(|t| self.value(t)).collect()
    }
}

/// `base * gamma^k`, 0 for a zero base (no `0 * inf` when `gamma > 1` overflows).
fn decay(base: f64, gamma: f64, k: f64) -> f64 {
    if base == 0.0 {
        0.0
    } else {
        base * gamma.powf(k)
    }
}

/// `min(t, n) / n`, 1 when `n` is 0 (the end already reached).
fn fraction(t: u64, n: u64) -> f64 {
    if n == 0 {
        1.0
    } else {
        t.min(n) as f64 / n as f64
    }
}

/// Position in the current warm-restart period and that period's length, in closed form for
/// `t_mult = 1` and with saturating growth otherwise (at most 64 periods for any `t`).
fn restart_position(t: u64, t_0: u64, t_mult: u64) -> (u64, u64) {
    if t_mult == 1 {
        return (t % t_0, t_0);
    }
    let (mut t_cur, mut t_i) = (t, t_0);
    while t_cur >= t_i {
        t_cur -= t_i;
        t_i = t_i.saturating_mul(t_mult);
    }
    (t_cur, t_i)
}

fn cosine(base: f64, eta_min: f64, frac: f64) -> f64 {
    eta_min + (base - eta_min) * (1.0 + (PI * frac).cos()) / 2.0
}
