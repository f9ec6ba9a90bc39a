//! [`GradScaler`]: dynamic loss scaling for f16 mixed precision, with the semantics of PyTorch's
//! `torch.amp.GradScaler` (Micikevicius et al., "Mixed Precision Training", 2018).
//!
//! The loss is multiplied by the scale before backward so that small f16 gradients do not
//! underflow; the gradients are divided by it before the optimizer step. A step whose gradients
//! hold an inf or a NaN is skipped and the scale multiplied by `backoff_factor` (0.5); after
//! `growth_interval` (2000) consecutive good steps the scale is multiplied by `growth_factor` (2).
//! The scale starts at `init_scale` (2^16) and is kept in f32, as PyTorch keeps it.

use crate::{OptimError, Optimizer, Result};
use gradus_tensor::Tensor;

/// Dynamic loss scaling (PyTorch's `GradScaler`): `scale_loss`, then backward, then
/// [`step`](GradScaler::step) (unscale, skip on inf/NaN, update the scale).
///
/// ```
/// use gradus_optim::{GradScaler, Optimizer, Sgd};
/// use gradus_tensor::Tensor;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let w = Tensor::from_vec(vec![1.0f32, -2.0], &[2])?.requires_grad_(true);
/// let mut opt = Optimizer::new(Sgd::new(0.1), &[w.clone()])?;
/// let mut scaler = GradScaler::new();
/// let loss = w.mul(&w)?.sum_all()?;
/// scaler.scale_loss(&loss)?.backward()?;
/// assert_eq!(w.grad().unwrap().to_vec::<f32>()?, vec![131072.0, -262144.0]);
/// assert!(scaler.step(&mut opt)?); // unscaled to [2, -4], finite: stepped
/// assert_eq!(w.to_vec::<f32>()?, vec![0.8, -1.6]);
/// assert_eq!((scaler.scale(), scaler.skipped_steps()), (65536.0, 0));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GradScaler {
    scale: f32,
    growth_factor: f32,
    backoff_factor: f32,
    growth_interval: u64,
    /// Consecutive good steps since the scale last changed (PyTorch's `_growth_tracker`).
    growth_tracker: u64,
    /// Steps skipped for inf/NaN gradients since creation.
    skipped: u64,
}

impl Default for GradScaler {
    fn default() -> Self {
        GradScaler::new()
    }
}

impl GradScaler {
    /// PyTorch's defaults: `init_scale = 2^16`, `growth_factor = 2`, `backoff_factor = 0.5`,
    /// `growth_interval = 2000`.
    pub fn new() -> GradScaler {
        GradScaler {
            scale: 65536.0,
            growth_factor: 2.0,
            backoff_factor: 0.5,
            growth_interval: 2000,
            growth_tracker: 0,
            skipped: 0,
        }
    }

    /// Sets the initial scale.
    pub fn with_init_scale(mut self, scale: f32) -> GradScaler {
        self.scale = scale;
        self
    }

    /// Sets the factor applied after `growth_interval` good steps.
    pub fn with_growth_factor(mut self, factor: f32) -> GradScaler {
        self.growth_factor = factor;
        self
    }

    /// Sets the factor applied after a skipped step.
    pub fn with_backoff_factor(mut self, factor: f32) -> GradScaler {
        self.backoff_factor = factor;
        self
    }

    /// Sets the number of consecutive good steps before the scale grows.
    pub fn with_growth_interval(mut self, steps: u64) -> GradScaler {
        self.growth_interval = steps;
        self
    }

    /// Checks the settings as PyTorch does.
    ///
    /// # Errors
    /// [`OptimError::InvalidHyperparameter`] naming the setting: a scale that is not finite and
    /// positive, `growth_factor <= 1` ("The growth factor must be > 1.0"), `backoff_factor`
    /// outside (0, 1) ("The backoff factor must be < 1.0"), or a zero growth interval.
    ///
    /// ```
    /// let bad = gradus_optim::GradScaler::new().with_growth_factor(1.0).validate();
    /// assert!(bad.unwrap_err().to_string().contains("growth_factor"));
    /// ```
    pub fn validate(self) -> Result<GradScaler> {
        let bad = |m: String| Err(OptimError::InvalidHyperparameter(m));
        if !(self.scale.is_finite() && self.scale > 0.0) {
            return bad(format!(
                "GradScaler init_scale must be finite and > 0, got {}",
                self.scale
            ));
        }
        if self.growth_factor.is_nan() || self.growth_factor <= 1.0 {
            return bad(format!(
                "GradScaler growth_factor must be > 1.0, got {}",
                self.growth_factor
            ));
        }
        if !(self.backoff_factor > 0.0 && self.backoff_factor < 1.0) {
            return bad(format!(
                "GradScaler backoff_factor must be in (0, 1), got {}",
                self.backoff_factor
            ));
        }
        if self.growth_interval == 0 {
            return bad("GradScaler growth_interval must be at least 1, got 0".into());
        }
        Ok(self)
    }

    /// The current scale (`get_scale()`).
    pub fn scale(&self) -> f64 {
        self.scale as f64
    }

    /// Steps skipped so far for inf/NaN gradients.
    pub fn skipped_steps(&self) -> u64 {
        self.skipped
    }

    /// Consecutive good steps since the scale last changed.
    pub fn growth_tracker(&self) -> u64 {
        self.growth_tracker
    }

    /// `loss * scale`, to call backward on (`scaler.scale(loss)`).
    ///
    /// # Errors
    /// The multiplication's.
    pub fn scale_loss(&self, loss: &Tensor) -> Result<Tensor> {
        Ok(loss.mul_scalar(self.scale as f64)?)
    }

    /// Divides every gradient of `params` by the scale in place (`unscale_`, by the f32
    /// reciprocal of the scale as PyTorch multiplies) and says whether any holds an inf or NaN.
    ///
    /// # Errors
    /// A tensor op's.
    pub fn unscale(&self, params: &[Tensor]) -> Result<bool> {
        let inv = (1.0 / self.scale as f64) as f32 as f64;
        let mut found_inf = false;
        for t in params {
            if let Some(g) = t.grad() {
                let g = g.mul_scalar(inv)?;
                // finite * 0 = 0, but inf * 0 and NaN * 0 are NaN
                found_inf |= !g.mul_scalar(0.0)?.sum_all()?.item()?.is_finite();
                t.set_grad(Some(g));
            }
        }
        Ok(found_inf)
    }

    /// The scale update after a step (`update()`): on inf/NaN, scale × backoff and the count of
    /// good steps reset (the step counted as skipped); otherwise one more good step, and at
    /// `growth_interval` of them scale × growth (kept only when finite) and the count reset.
    ///
    /// ```
    /// let mut s = gradus_optim::GradScaler::new().with_growth_interval(2);
    /// s.update(false);
    /// s.update(false);
    /// assert_eq!(s.scale(), 131072.0);
    /// s.update(true);
    /// assert_eq!((s.scale(), s.skipped_steps()), (65536.0, 1));
    /// ```
    pub fn update(&mut self, found_inf: bool) {
        if found_inf {
            self.scale *= self.backoff_factor;
            self.growth_tracker = 0;
            self.skipped += 1;
            return;
        }
        let successful = self.growth_tracker + 1;
        if successful == self.growth_interval {
            let grown = self.scale * self.growth_factor;
            if grown.is_finite() {
                self.scale = grown;
            }
            self.growth_tracker = 0;
        } else {
            self.growth_tracker = successful;
        }
    }

    /// Unscales the optimizer's gradients, takes its step unless one is inf/NaN, zeroes the
    /// gradients either way, and updates the scale; true when the step was taken
    /// (`scaler.step(opt); scaler.update()`).
    ///
    /// # Errors
    /// The optimizer's or a tensor op's.
    pub fn step(&mut self, optimizer: &mut Optimizer) -> Result<bool> {
        let params: Vec<Tensor> = optimizer
            .groups()
            .iter()
            .flat_map(|g| g.params().iter().map(|p| p.tensor()))
            .collect();
        let found_inf = self.unscale(&params)?;
        if !found_inf {
            optimizer.step()?;
        }
        optimizer.zero_grad();
        self.update(found_inf);
        Ok(!found_inf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sgd;

    /// PyTorch's documented state machine, step by step: (found_inf, scale after, tracker after).
    #[test]
    fn the_scale_follows_pytorchs_state_machine() {
        let mut s = GradScaler::new().with_growth_interval(3);
        let script = [
            (false, 65536.0, 1),
            (false, 65536.0, 2),
            (false, 131072.0, 0), // third good step in a row: grow
            (true, 65536.0, 0),   // inf: back off, reset
            (false, 65536.0, 1),
            (true, 32768.0, 0), // a skip resets the count of good steps
            (false, 32768.0, 1),
            (false, 32768.0, 2),
            (false, 65536.0, 0),
        ];
        for (i, (inf, scale, tracker)) in script.into_iter().enumerate() {
            s.update(inf);
            assert_eq!(
                (s.scale(), s.growth_tracker()),
                (scale, tracker),
                "step {i}"
            );
        }
        assert_eq!(s.skipped_steps(), 2);
    }

    #[test]
    fn defaults_grow_after_2000_good_steps_and_never_to_infinity() {
        let mut s = GradScaler::new();
        for _ in 0..1999 {
            s.update(false);
        }
        assert_eq!(s.scale(), 65536.0);
        s.update(false);
        assert_eq!((s.scale(), s.growth_tracker()), (131072.0, 0));
        let mut big = GradScaler::new()
            .with_init_scale(f32::MAX)
            .with_growth_interval(1);
        big.update(false);
        assert_eq!(big.scale(), f32::MAX as f64);
    }

    #[test]
    fn an_overflowing_step_is_skipped_and_the_parameters_kept() {
        let w = Tensor::from_vec(vec![1.0f32, 2.0], &[2])
            .unwrap()
            .requires_grad_(true);
        let mut opt = Optimizer::new(Sgd::new(0.1), std::slice::from_ref(&w)).unwrap();
        let mut scaler = GradScaler::new();
        // d/dw of 1e35 * w·w is 2e35 * w: times 2^16 it overflows f32
        let loss = w
            .mul(&w)
            .unwrap()
            .sum_all()
            .unwrap()
            .mul_scalar(1e35)
            .unwrap();
        scaler.scale_loss(&loss).unwrap().backward().unwrap();
        assert!(!scaler.step(&mut opt).unwrap());
        assert_eq!(w.to_vec::<f32>().unwrap(), vec![1.0, 2.0]);
        if let Some(g) = w.grad() {
            assert_eq!(g.to_vec::<f32>().unwrap(), vec![0.0, 0.0]);
        }
        assert_eq!((scaler.scale(), scaler.skipped_steps()), (32768.0, 1));
        // NaN gradients are skipped too
        w.set_grad(Some(Tensor::from_vec(vec![f32::NAN, 0.0], &[2]).unwrap()));
        assert!(!scaler.step(&mut opt).unwrap());
        assert_eq!(scaler.skipped_steps(), 2);
    }

    #[test]
    fn invalid_settings_are_refused_naming_them() {
        for (s, key) in [
            (GradScaler::new().with_init_scale(0.0), "init_scale"),
            (GradScaler::new().with_growth_factor(0.9), "growth_factor"),
            (GradScaler::new().with_backoff_factor(1.0), "backoff_factor"),
            (GradScaler::new().with_growth_interval(0), "growth_interval"),
        ] {
            assert!(s.validate().unwrap_err().to_string().contains(key), "{key}");
        }
        assert!(GradScaler::new().validate().is_ok());
    }
}
