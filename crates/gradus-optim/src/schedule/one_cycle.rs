//! torch `OneCycleLR`: its configuration, and the curve [`Schedule::OneCycle`] follows.

use super::{Anneal, Schedule};
use crate::error::{check, Result};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// torch `OneCycleLR`'s configuration and defaults (`pct_start` 0.3, cosine annealing,
/// `div_factor` 25, `final_div_factor` 1e4, two phases, momentum cycled between 0.95 and 0.85).
///
/// Like torch, one-cycle also cycles momentum (inversely to the rate): give
/// [`OneCycle::momentum_schedule`] to [`Sgd::momentum_schedule`](crate::Sgd::momentum_schedule)
/// to match `torch.optim.lr_scheduler.OneCycleLR(cycle_momentum=True)` (cycling Adam's beta1 is
/// not supported yet).
///
/// Past `total_steps` the curves hold their value at step `total_steps - 1` (torch raises); a
/// cycle of one step runs at the final rate; a phase of zero length (e.g. `pct_start * total_steps
/// = 1`, where torch divides by zero) is at its end value.
///
/// ```
/// use gradus_optim::OneCycle;
/// let oc = OneCycle::new(0.1, 40);
/// let lr = oc.lr_schedule()?;
/// assert!((lr.value(0) - 0.004).abs() < 1e-15 && (lr.value(11) - 0.1).abs() < 1e-15);
/// assert!((oc.momentum_schedule()?.value(11) - 0.85).abs() < 1e-15);
/// assert_eq!((lr.horizon(), lr.value(100)), (Some(39), lr.value(39)));
/// # Ok::<(), gradus_optim::OptimError>(())
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

    /// The learning-rate curve: `max_lr / div_factor` up to `max_lr`, then down to
    /// `max_lr / div_factor / final_div_factor`.
    ///
    /// # Errors
    /// When `total_steps` is 0, `pct_start` is outside `[0, 1]`, `max_lr` is not finite, or a
    /// division factor is not positive and finite.
    ///
    /// ```
    /// let mut oc = gradus_optim::OneCycle::new(0.1, 10);
    /// oc.div_factor = 0.0;
    /// assert!(oc.lr_schedule().unwrap_err().to_string().contains("div_factor"));
    /// ```
    pub fn lr_schedule(&self) -> Result<Schedule> {
        for (name, v) in [
            ("div_factor", self.div_factor),
            ("final_div_factor", self.final_div_factor),
        ] {
            check(v > 0.0 && v.is_finite(), || {
                format!("one_cycle: invalid {name} {v} (expected a finite value > 0)")
            })?;
        }
        let start = self.max_lr / self.div_factor;
        self.curve("max_lr", start, self.max_lr, start / self.final_div_factor)
    }

    /// The momentum curve (high when the rate is low).
    ///
    /// # Errors
    /// As [`OneCycle::lr_schedule`], for non-finite momenta.
    pub fn momentum_schedule(&self) -> Result<Schedule> {
        self.curve(
            "momentum",
            self.max_momentum,
            self.base_momentum,
            self.max_momentum,
        )
    }

    fn curve(&self, what: &str, start: f64, peak: f64, end: f64) -> Result<Schedule> {
        for v in [start, peak, end] {
            check(v.is_finite(), || {
                format!("one_cycle: invalid {what}: the curve reaches {v} (expected finite values)")
            })?;
        }
        Schedule::OneCycle {
            total_steps: self.total_steps,
            pct_start: self.pct_start,
            anneal: self.anneal,
            three_phase: self.three_phase,
            start,
            peak,
            end,
        }
        .validated()
    }
}

/// The one-cycle curve at step `t` (held at `total_steps - 1`), torch's phase arithmetic.
pub(super) fn value(
    t: u64,
    total_steps: u64,
    pct_start: f64,
    anneal: Anneal,
    three_phase: bool,
    (start, peak, end): (f64, f64, f64),
) -> f64 {
    if total_steps == 0 {
        return end;
    }
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
    let step = t.min(total_steps - 1) as f64;
    let mut begin = 0.0;
    for (i, &(stop, from, to)) in phases.iter().enumerate() {
        if step <= stop || i == phases.len() - 1 {
            let length = stop - begin;
            // a phase of zero length (torch divides 0 by 0 there) is at its end value
            if length.is_nan() || length <= 0.0 {
                return to;
            }
            let pct = (step - begin) / length;
            return match anneal {
                Anneal::Cos => to + (from - to) / 2.0 * ((PI * pct).cos() + 1.0),
                Anneal::Linear => (to - from) * pct + from,
            };
        }
        begin = stop;
    }
    end
}
