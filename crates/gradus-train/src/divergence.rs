//! Divergence detection on a robust statistic: a sample-weighted running mean of the training
//! loss against the mean over the run's first samples, never one batch against another (one
//! sample's loss can be 1000x another's in a healthy stochastic run).

use serde::{Deserialize, Serialize};

/// Samples in the reference window and in the running mean's horizon by default.
pub const DEFAULT_WINDOW: usize = 256;

/// Watches the training loss for growth far beyond its start.
///
/// The reference is the sample-weighted mean loss over the first `window` samples (or the whole
/// training set when it is smaller); after that warm-up, the current level is an exponential
/// moving average over about `window` samples (each batch weighs `samples / window`, at most 1).
/// The run has diverged when that average exceeds `factor` times the reference. In full-batch
/// mode (one batch of at least `window` samples) this is the latest loss against the first.
///
/// ```
/// use gradus_train::divergence::DivergenceWatch;
/// let mut w = DivergenceWatch::default();
/// // a tiny first loss (one lucky sample), then ordinary ones: no alarm
/// assert!(w.observe(1e-6, 1, 4, 1e3).is_none());
/// assert!(w.observe(5.0, 1, 4, 1e3).is_none());
/// for _ in 0..10 {
///     assert!(w.observe(4.0, 1, 4, 1e3).is_none());
/// }
/// // real growth: the running mean passes 1000x the reference
/// let mut alarm = None;
/// for _ in 0..20 {
///     alarm = alarm.or(w.observe(1e6, 1, 4, 1e3));
/// }
/// let (current, reference) = alarm.unwrap();
/// assert!(current > 1e3 * reference);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DivergenceWatch {
    /// Sum of `loss * samples` over the warm-up so far.
    ref_sum: f64,
    /// Samples in the warm-up so far.
    ref_samples: usize,
    /// Mean loss over the warm-up, once it is complete.
    reference: Option<f64>,
    /// Running mean of the loss after the warm-up.
    current: f64,
}

impl DivergenceWatch {
    /// Records a batch's mean `loss` over `samples` samples (`window`: samples in the reference
    /// and the running mean's horizon, already capped at the training set's size). Returns
    /// `(running mean, reference)` when the running mean exceeds `factor` times the reference.
    pub fn observe(
        &mut self,
        loss: f64,
        samples: usize,
        window: usize,
        factor: f64,
    ) -> Option<(f64, f64)> {
        let window = window.max(1);
        match self.reference {
            None => {
                self.ref_sum += loss * samples as f64;
                self.ref_samples += samples;
                if self.ref_samples >= window {
                    let reference = self.ref_sum / self.ref_samples as f64;
                    self.reference = Some(reference);
                    self.current = reference;
                }
                None
            }
            Some(reference) => {
                let weight = (samples as f64 / window as f64).min(1.0);
                self.current += weight * (loss - self.current);
                (self.current > factor * reference.abs().max(1e-12))
                    .then_some((self.current, reference))
            }
        }
    }

    /// The reference loss, once the warm-up is complete.
    pub fn reference(&self) -> Option<f64> {
        self.reference
    }
}
