//! What a schedule's settings must be ([`Schedule::validate`]) and where it stops changing
//! ([`Schedule::horizon`]).

use super::Schedule;
use crate::error::{check, Result};

/// Errors unless `value` is finite.
fn finite(schedule: &str, name: &str, value: f64) -> Result<()> {
    check(value.is_finite(), || {
        format!("{schedule}: invalid {name} {value} (expected a finite value)")
    })
}

/// Errors unless `value` is finite and `>= 0`.
fn nonneg(schedule: &str, name: &str, value: f64) -> Result<()> {
    check(value.is_finite() && value >= 0.0, || {
        format!("{schedule}: invalid {name} {value} (expected a finite value >= 0)")
    })
}

/// Errors unless a length in steps is at least 1.
fn positive(schedule: &str, name: &str, value: u64) -> Result<()> {
    check(value >= 1, || {
        format!("{schedule}: invalid {name} {value} (expected at least 1)")
    })
}

impl Schedule {
    /// Checks the settings: lengths in steps at least 1, values finite, decay factors and
    /// exponents `>= 0`, one-cycle's `pct_start` in `[0, 1]`, a sequence with one more schedule
    /// than milestones and non-decreasing milestones. The constructors call it; call it yourself
    /// on a schedule built from the enum's variants.
    ///
    /// # Errors
    /// [`OptimError::InvalidHyperparameter`](crate::OptimError) naming the schedule, the
    /// parameter and its value.
    ///
    /// ```
    /// use gradus_optim::Schedule;
    /// let s = Schedule::Cosine { base: 0.1, t_max: 0, eta_min: 0.0 };
    /// assert_eq!(s.validate().unwrap_err().to_string(), "cosine: invalid t_max 0 (expected at least 1)");
    /// ```
    pub fn validate(&self) -> Result<()> {
        match self {
            Schedule::Constant(v) => finite("constant", "value", *v),
            Schedule::Shared(lr) => finite("shared", "value", lr.get()),
            Schedule::Step {
                base,
                step_size,
                gamma,
            } => {
                finite("step", "base", *base)?;
                positive("step", "step_size", *step_size)?;
                nonneg("step", "gamma", *gamma)
            }
            Schedule::MultiStep { base, gamma, .. } => {
                finite("multi_step", "base", *base)?;
                nonneg("multi_step", "gamma", *gamma)
            }
            Schedule::Exponential { base, gamma } => {
                finite("exponential", "base", *base)?;
                nonneg("exponential", "gamma", *gamma)
            }
            Schedule::InverseTime {
                base,
                decay_rate,
                decay_steps,
                ..
            } => {
                finite("inverse_time", "base", *base)?;
                nonneg("inverse_time", "decay_rate", *decay_rate)?;
                positive("inverse_time", "decay_steps", *decay_steps)
            }
            Schedule::Polynomial {
                base,
                end,
                total_iters,
                power,
            } => {
                finite("polynomial", "base", *base)?;
                finite("polynomial", "end", *end)?;
                positive("polynomial", "total_iters", *total_iters)?;
                nonneg("polynomial", "power", *power)
            }
            Schedule::Cosine {
                base,
                t_max,
                eta_min,
            } => {
                finite("cosine", "base", *base)?;
                finite("cosine", "eta_min", *eta_min)?;
                positive("cosine", "t_max", *t_max)
            }
            Schedule::CosineWarmRestarts {
                base,
                t_0,
                t_mult,
                eta_min,
            } => {
                let name = "cosine_warm_restarts";
                finite(name, "base", *base)?;
                finite(name, "eta_min", *eta_min)?;
                positive(name, "t_0", *t_0)?;
                positive(name, "t_mult", *t_mult)
            }
            Schedule::Linear {
                base,
                start_factor,
                end_factor,
                total_iters,
            } => {
                finite("linear", "base", *base)?;
                nonneg("linear", "start_factor", *start_factor)?;
                nonneg("linear", "end_factor", *end_factor)?;
                positive("linear", "total_iters", *total_iters)
            }
            Schedule::OneCycle {
                total_steps,
                pct_start,
                start,
                peak,
                end,
                ..
            } => {
                positive("one_cycle", "total_steps", *total_steps)?;
                check((0.0..=1.0).contains(pct_start), || {
                    format!(
                        "one_cycle: invalid pct_start {pct_start} (expected 0 <= pct_start <= 1)"
                    )
                })?;
                finite("one_cycle", "start", *start)?;
                finite("one_cycle", "peak", *peak)?;
                finite("one_cycle", "end", *end)
            }
            Schedule::Sequential {
                schedules,
                milestones,
            } => {
                check(schedules.len() == milestones.len() + 1, || {
                    format!(
                        "sequential: {} schedules need {} milestones, got {}",
                        schedules.len(),
                        schedules.len().saturating_sub(1),
                        milestones.len()
                    )
                })?;
                check(milestones.windows(2).all(|w| w[0] <= w[1]), || {
                    format!(
                        "sequential: invalid milestones {milestones:?} (expected non-decreasing)"
                    )
                })?;
                for (i, s) in schedules.iter().enumerate() {
                    s.validate().map_err(|e| {
                        crate::OptimError::InvalidHyperparameter(format!(
                            "sequential schedule {i}: {e}"
                        ))
                    })?;
                }
                Ok(())
            }
        }
    }

    /// The step from which the value no longer changes (`value(t) == value(h)` for every
    /// `t >= h`), or `None` for a schedule that keeps changing (step, exponential, inverse-time
    /// decay, warm restarts) or is set from outside ([`Schedule::Shared`]). A run longer than the
    /// horizon spends its last steps at the final value: a caller can warn.
    ///
    /// ```
    /// use gradus_optim::{OneCycle, Schedule};
    /// assert_eq!(Schedule::Constant(0.1).horizon(), Some(0));
    /// assert_eq!(Schedule::cosine(0.1, 100, 0.0)?.horizon(), Some(100));
    /// assert_eq!(OneCycle::new(0.1, 10).lr_schedule()?.horizon(), Some(9));
    /// assert_eq!(Schedule::exponential(0.1, 0.9)?.horizon(), None);
    /// # Ok::<(), gradus_optim::OptimError>(())
    /// ```
    pub fn horizon(&self) -> Option<u64> {
        match self {
            Schedule::Constant(_) => Some(0),
            Schedule::Step {
                base,
                step_size,
                gamma,
            } => match () {
                _ if *gamma == 1.0 || *base == 0.0 => Some(0),
                _ if *gamma == 0.0 => Some(*step_size),
                _ => None,
            },
            Schedule::MultiStep {
                base,
                milestones,
                gamma,
            } => match milestones.last() {
                Some(&m) if *gamma != 1.0 && *base != 0.0 => Some(m),
                _ => Some(0),
            },
            Schedule::Exponential { base, gamma } => match () {
                _ if *gamma == 1.0 || *base == 0.0 => Some(0),
                _ if *gamma == 0.0 => Some(1),
                _ => None,
            },
            Schedule::InverseTime {
                base, decay_rate, ..
            } => (*decay_rate == 0.0 || *base == 0.0).then_some(0),
            Schedule::Polynomial { total_iters, .. } => Some(*total_iters),
            Schedule::Cosine { t_max, .. } => Some(*t_max),
            Schedule::CosineWarmRestarts { base, eta_min, .. } => (base == eta_min).then_some(0),
            Schedule::Linear { total_iters, .. } => Some(*total_iters),
            Schedule::OneCycle { total_steps, .. } => Some(total_steps.saturating_sub(1)),
            Schedule::Shared(_) => None,
            Schedule::Sequential {
                schedules,
                milestones,
            } => {
                let last = schedules.last()?.horizon()?;
                last.checked_add(milestones.last().copied().unwrap_or(0))
            }
        }
    }
}
