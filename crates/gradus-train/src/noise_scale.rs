//! The gradient noise scale `B_simple` of McCandlish et al. 2018 ("An Empirical Model of
//! Large-Batch Training", appendix A): the batch size above which a larger batch stops buying
//! proportionally fewer steps, the "critical batch size".
//!
//! `B_simple = tr(Σ) / |G|²`, with `G` the true gradient and `Σ` the per-sample gradient
//! covariance. Neither is known, but the squared norm of a gradient averaged over `B` samples has
//! expectation `|G|² + tr(Σ) / B`, so two batch sizes `B_small < B_big` give unbiased estimates
//!
//! ```text
//! |G|²  ≈ (B_big |G_big|² - B_small |G_small|²) / (B_big - B_small)
//! tr(Σ) ≈ (|G_small|² - |G_big|²) / (1 / B_small - 1 / B_big)
//! ```
//!
//! Data parallel, `G_small` is each rank's gradient (its shard) and `G_big` the all-reduced one;
//! on one process the batch is split into two micro-batches. One step's estimates are very noisy
//! (either can be negative), so, as the paper advises, each is averaged over the steps of an
//! epoch before the ratio is taken.

use serde::{Deserialize, Serialize};

/// One step's two gradient measurements: the mean squared norm of the small-batch gradients and
/// their batch size, and the squared norm of the big-batch gradient and its batch size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoiseSample {
    /// Mean over the small batches of `|G_small|²`.
    pub small_sq: f64,
    /// Samples in a small batch (the mean when they differ).
    pub b_small: f64,
    /// `|G_big|²`.
    pub big_sq: f64,
    /// Samples in the big batch.
    pub b_big: f64,
}

impl NoiseSample {
    /// The step's unbiased estimates `(|G|², tr(Σ))`, or none when the batch sizes do not differ
    /// (or a value is not finite).
    ///
    /// ```
    /// use gradus_train::noise_scale::NoiseSample;
    /// // |G|² = 1, tr(Σ) = 8: E|G_B|² = 1 + 8 / B
    /// let s = NoiseSample { small_sq: 1.0 + 8.0 / 4.0, b_small: 4.0, big_sq: 1.0 + 8.0 / 16.0, b_big: 16.0 };
    /// let (g2, trace) = s.estimates().unwrap();
    /// assert!((g2 - 1.0).abs() < 1e-12 && (trace - 8.0).abs() < 1e-12);
    /// ```
    pub fn estimates(&self) -> Option<(f64, f64)> {
        let NoiseSample {
            small_sq,
            b_small,
            big_sq,
            b_big,
        } = *self;
        if !(b_small > 0.0 && b_big > b_small && small_sq.is_finite() && big_sq.is_finite()) {
            return None;
        }
        let g2 = (b_big * big_sq - b_small * small_sq) / (b_big - b_small);
        let trace = (small_sq - big_sq) / (1.0 / b_small - 1.0 / b_big);
        Some((g2, trace))
    }
}

/// Sums of the per-step estimates over an epoch (saved in mid-epoch checkpoints).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NoiseScale {
    /// Sum of the `|G|²` estimates.
    pub g2_sum: f64,
    /// Sum of the `tr(Σ)` estimates.
    pub trace_sum: f64,
    /// Steps added.
    pub steps: usize,
}

impl NoiseScale {
    /// Adds one step's measurements (ignored when they give no estimate).
    pub fn add(&mut self, sample: &NoiseSample) {
        if let Some((g2, trace)) = sample.estimates() {
            self.g2_sum += g2;
            self.trace_sum += trace;
            self.steps += 1;
        }
    }

    /// `B_simple` in samples: the ratio of the summed estimates; none before any step, or when
    /// the estimated `|G|²` is not positive (the gradient is all noise at this batch size).
    ///
    /// ```
    /// use gradus_train::noise_scale::{NoiseSample, NoiseScale};
    /// let mut n = NoiseScale::default();
    /// n.add(&NoiseSample { small_sq: 3.0, b_small: 4.0, big_sq: 1.5, b_big: 16.0 });
    /// assert!((n.b_simple().unwrap() - 8.0).abs() < 1e-12);
    /// ```
    pub fn b_simple(&self) -> Option<f64> {
        (self.steps > 0 && self.g2_sum > 0.0).then(|| self.trace_sum / self.g2_sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Per-sample gradients g_i = G + noise with a known covariance: over many random batches
    /// the averaged estimates recover |G|² and tr(Σ), and so B_simple.
    #[test]
    fn the_estimate_recovers_a_known_noise_scale() {
        // G = (1, 2) (|G|² = 5); per-sample noise N(0, diag(4, 9)) (tr Σ = 13): B_simple = 2.6
        let mut rng = gradus_tensor::Rng::seed(7);
        let normal = |rng: &mut gradus_tensor::Rng| {
            let (u1, u2) = (1.0 - rng.uniform_f64(), rng.uniform_f64());
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        };
        let mut n = NoiseScale::default();
        let (b_small, b_big) = (4usize, 16usize);
        let draw = |k: usize, rng: &mut gradus_tensor::Rng| -> Vec<[f64; 2]> {
            (0..k)
                .map(|_| [1.0 + 2.0 * normal(rng), 2.0 + 3.0 * normal(rng)])
                .collect()
        };
        let sq = |v: &[[f64; 2]]| {
            let m = v.len() as f64;
            let s = v.iter().fold([0.0, 0.0], |a, g| [a[0] + g[0], a[1] + g[1]]);
            (s[0] / m).powi(2) + (s[1] / m).powi(2)
        };
        for _ in 0..20_000 {
            let big = draw(b_big, &mut rng);
            let small_sq = big.chunks(b_small).map(sq).sum::<f64>() / (b_big / b_small) as f64;
            n.add(&NoiseSample {
                small_sq,
                b_small: b_small as f64,
                big_sq: sq(&big),
                b_big: b_big as f64,
            });
        }
        let b = n.b_simple().unwrap();
        assert!((b - 2.6).abs() < 0.1, "B_simple {b}, expected 2.6");
    }

    #[test]
    fn equal_batch_sizes_give_no_estimate() {
        let s = NoiseSample {
            small_sq: 2.0,
            b_small: 8.0,
            big_sq: 1.0,
            b_big: 8.0,
        };
        assert_eq!(s.estimates(), None);
        let mut n = NoiseScale::default();
        n.add(&s);
        assert_eq!(n.b_simple(), None);
    }
}
