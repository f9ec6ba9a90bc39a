//! Optuna's univariate Parzen estimators (`optuna/samplers/_tpe/parzen_estimator.py`, default
//! parameters: `consider_prior`, `prior_weight` 1, `consider_magic_clip`, no
//! `consider_endpoints`): a mixture of truncated normals for a numerical parameter, of
//! smoothed one-hot distributions for a categorical one.

use super::normal::{mass, truncated};
use rand::Rng;

/// Optuna's `default_weights`: 1 for each of the last 25 observations, a ramp from `1/n` up to 1
/// for the older ones (observations in trial order).
pub fn default_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp = n - 25;
    let mut w: Vec<f64> = (0..ramp)
        .map(|i| {
            let (a, b) = (1.0 / n as f64, 1.0);
            if ramp == 1 {
                a
            } else {
                a + (b - a) * i as f64 / (ramp - 1) as f64
            }
        })
        .collect();
    w.extend(std::iter::repeat_n(1.0, 25));
    w
}

/// The observations' weights followed by the prior's, normalized to sum 1.
fn mixture_weights(n: usize, prior_weight: f64) -> Vec<f64> {
    let mut w = default_weights(n);
    w.push(prior_weight);
    let s: f64 = w.iter().sum();
    w.iter().map(|x| x / s).collect()
}

/// A mixture of normals truncated to `[low, high]` (internal scale), one kernel per observation
/// and one for the prior; `step` > 0 makes it discrete (an int range: values `low + k * step`).
#[derive(Clone, Debug)]
pub struct NumericalEstimator {
    mus: Vec<f64>,
    sigmas: Vec<f64>,
    weights: Vec<f64>,
    low: f64,
    high: f64,
    step: f64,
}

impl NumericalEstimator {
    /// Fits the kernels to `obs` (in trial order) on `[low, high]` with `step` (0 for floats).
    pub fn new(obs: &[f64], low: f64, high: f64, step: f64, prior_weight: f64) -> Self {
        let prior_mu = 0.5 * (low + high);
        let width = high - low + step;
        let mut with_prior: Vec<(f64, usize)> = obs.iter().copied().zip(0..).collect();
        with_prior.push((prior_mu, obs.len()));
        with_prior.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut ends = vec![low - step / 2.0];
        ends.extend(with_prior.iter().map(|p| p.0));
        ends.push(high + step / 2.0);
        let m = with_prior.len();
        let mut sorted_sigmas: Vec<f64> = (0..m)
            .map(|i| (ends[i + 1] - ends[i]).max(ends[i + 2] - ends[i + 1]))
            .collect();
        if ends.len() >= 4 {
            sorted_sigmas[0] = ends[2] - ends[1];
            sorted_sigmas[m - 1] = ends[m] - ends[m - 1];
        }
        let (min_sigma, max_sigma) = (width / (1.0 + m as f64).min(100.0), width);
        let mut sigmas = vec![0.0; m];
        for (s, (_, i)) in sorted_sigmas.iter().zip(&with_prior) {
            sigmas[*i] = s.clamp(min_sigma, max_sigma);
        }
        sigmas[obs.len()] = width;
        let mut mus = obs.to_vec();
        mus.push(prior_mu);
        NumericalEstimator {
            mus,
            sigmas,
            weights: mixture_weights(obs.len(), prior_weight),
            low,
            high,
            step,
        }
    }

    /// The bounds the kernels are truncated to (a step's half beyond the ends of an int range).
    fn support(&self) -> (f64, f64) {
        (self.low - self.step / 2.0, self.high + self.step / 2.0)
    }

    /// A draw: a kernel by weight, then its truncated normal (rounded to the step).
    pub fn sample(&self, rng: &mut impl Rng) -> f64 {
        let k = pick(&self.weights, rng);
        let (a, b) = self.support();
        let x = truncated(self.mus[k], self.sigmas[k], a, b, rng);
        if self.step > 0.0 {
            (self.low + ((x - self.low) / self.step).round() * self.step).clamp(self.low, self.high)
        } else {
            x
        }
    }

    /// The log density at `x` (log probability for a discrete range).
    pub fn log_pdf(&self, x: f64) -> f64 {
        let (a, b) = self.support();
        let terms: Vec<f64> = (0..self.mus.len())
            .map(|k| {
                let (mu, s) = (self.mus[k], self.sigmas[k]);
                let z = mass((a - mu) / s, (b - mu) / s);
                let p = if self.step > 0.0 {
                    let h = self.step / 2.0;
                    mass((x - h - mu) / s, (x + h - mu) / s).ln()
                } else {
                    let t = (x - mu) / s;
                    -0.5 * t * t - s.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
                };
                self.weights[k].ln() + p - z.ln()
            })
            .collect();
        log_sum_exp(&terms)
    }
}

/// A mixture of categorical kernels: each observation's one-hot plus `prior_weight / kernels`
/// on every choice, normalized; the prior kernel uniform. Collapsed to one distribution.
#[derive(Clone, Debug)]
pub struct CategoricalEstimator {
    probs: Vec<f64>,
}

impl CategoricalEstimator {
    /// Fits to the chosen indices `obs` (in trial order) among `n` choices.
    pub fn new(obs: &[usize], n: usize, prior_weight: f64) -> Self {
        let weights = mixture_weights(obs.len(), prior_weight);
        let kernels = obs.len() + 1;
        let mut probs = vec![0.0; n];
        for (k, w) in weights.iter().enumerate() {
            let mut row = vec![prior_weight / kernels as f64; n];
            if let Some(&c) = obs.get(k) {
                row[c] += 1.0;
            }
            let s: f64 = row.iter().sum();
            for (p, r) in probs.iter_mut().zip(&row) {
                *p += w * r / s;
            }
        }
        CategoricalEstimator { probs }
    }

    /// A draw: a choice's index.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        pick(&self.probs, rng)
    }

    /// The log probability of choice `c`.
    pub fn log_pdf(&self, c: usize) -> f64 {
        self.probs[c].ln()
    }
}

/// An index drawn with probabilities proportional to `w`.
fn pick(w: &[f64], rng: &mut impl Rng) -> usize {
    let total: f64 = w.iter().sum();
    let mut u = rng.gen::<f64>() * total;
    for (i, x) in w.iter().enumerate() {
        if u < *x {
            return i;
        }
        u -= x;
    }
    w.len() - 1
}

fn log_sum_exp(terms: &[f64]) -> f64 {
    let m = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + terms.iter().map(|t| (t - m).exp()).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_ramp_up_for_old_observations_as_optunas() {
        assert_eq!(default_weights(3), [1.0; 3]);
        let w = default_weights(30);
        assert_eq!(w.len(), 30);
        // numpy: np.linspace(1 / 30, 1.0, num=5)
        let want = [
            1.0 / 30.0,
            0.275,
            0.516_666_666_666_666_7,
            0.758_333_333_333_333_3,
            1.0,
        ];
        for (a, b) in w[..5].iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{a} {b}");
        }
        assert!(w[5..].iter().all(|x| *x == 1.0));
    }

    #[test]
    fn continuous_density_integrates_to_one() {
        let e = NumericalEstimator::new(&[0.1, 0.2, 0.8], 0.0, 1.0, 0.0, 1.0);
        let n = 20_000;
        let integral: f64 = (0..n)
            .map(|i| e.log_pdf((i as f64 + 0.5) / n as f64).exp() / n as f64)
            .sum();
        assert!((integral - 1.0).abs() < 1e-4, "{integral}");
        // the mass sits where the observations are
        assert!(e.log_pdf(0.15) > e.log_pdf(0.5));
    }

    #[test]
    fn discrete_probabilities_sum_to_one() {
        let e = NumericalEstimator::new(&[2.0, 4.0, 4.0], 0.0, 10.0, 2.0, 1.0);
        let total: f64 = (0..=5).map(|k| e.log_pdf(2.0 * k as f64).exp()).sum();
        assert!((total - 1.0).abs() < 1e-6, "{total}");
        let c = CategoricalEstimator::new(&[1, 1, 0], 3, 1.0);
        let total: f64 = (0..3).map(|k| c.log_pdf(k).exp()).sum();
        assert!((total - 1.0).abs() < 1e-12, "{total}");
        assert!(c.log_pdf(1) > c.log_pdf(0) && c.log_pdf(0) > c.log_pdf(2));
    }

    #[test]
    fn sigmas_follow_optuna_on_a_small_case() {
        // optuna 3.x `_ParzenEstimator` on observations [0.2, 0.5, 0.9] in [0, 1] with the prior:
        // sorted mus with the prior 0.5: 0.2, 0.5, 0.5(prior), 0.9; neighbours give sigmas
        // 0.3 (first: right gap), 0.3, -, 0.4 (last: left gap), clipped to >= 1/5.
        let e = NumericalEstimator::new(&[0.2, 0.5, 0.9], 0.0, 1.0, 0.0, 1.0);
        let want = [0.3, 0.3, 0.4, 1.0];
        for (s, w) in e.sigmas.iter().zip(want) {
            assert!((s - w).abs() < 1e-12, "{:?}", e.sigmas);
        }
    }
}
