//! Gaussian-process Bayesian optimization with expected improvement (Jones, Schonlau and Welch
//! 1998; Snoek, Larochelle and Adams 2012), small and dependency-light: a zero-mean GP with a
//! Matérn-5/2 kernel on the unit cube, one length scale picked from a grid by the log marginal
//! likelihood, the kernel matrix factored by faer's Cholesky (`llt`).
//!
//! Each parameter maps to `[0, 1]` through its internal scale (log ranges in the logarithm; a
//! categorical by its index, which orders choices that have no order: prefer TPE for
//! categorical-heavy spaces). Completed trials' losses are standardized. The next trial is the
//! best of `n_candidates` uniform draws plus draws around the five best trials, by expected
//! improvement over the best loss. Until `n_startup_trials` trials have completed, draws are
//! random. Pruned trials are left out (their final value is unknown).

use super::normal::cdf;
use super::random::RandomSampler;
use super::Sampler;
use crate::space::{Distribution, Params, SearchSpace};
use crate::spec::Direction;
use crate::trial::Trial;
use faer::linalg::solvers::Solve;
use faer::{Mat, Side};
use rand::Rng;
use rand_distr::StandardNormal;
use rand_pcg::Pcg64Mcg;

/// GP-EI with `n_startup_trials` random trials first.
#[derive(Clone, Copy, Debug)]
pub struct GpSampler {
    /// Completed trials before the GP takes over (default 10).
    pub n_startup_trials: usize,
    /// Uniform candidates scored by expected improvement per trial (default 1000).
    pub n_candidates: usize,
}

/// Length scales tried (unit cube); the one with the highest marginal likelihood is used.
const LENGTH_SCALES: [f64; 6] = [0.05, 0.1, 0.2, 0.4, 0.8, 1.6];
/// Observation noise variance (on standardized losses), also a jitter for the factorization.
const NOISE: f64 = 1e-4;

/// Matérn-5/2 covariance at distance `r` with length scale `l` (unit variance).
fn matern52(r: f64, l: f64) -> f64 {
    let s = 5f64.sqrt() * r / l;
    (1.0 + s + s * s / 3.0) * (-s).exp()
}

fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// `[0, 1]` coordinate of a value's internal scale, and back.
fn unit(d: &Distribution, x: f64) -> f64 {
    match (d, d.internal_bounds()) {
        (Distribution::Categorical { choices }, _) if choices.len() > 1 => {
            x / (choices.len() - 1) as f64
        }
        (_, Some((lo, hi))) => (x - lo) / (hi - lo),
        _ => 0.5,
    }
}
fn from_unit(d: &Distribution, u: f64) -> f64 {
    let u = u.clamp(0.0, 1.0);
    match (d, d.internal_bounds()) {
        (Distribution::Categorical { choices }, _) => u * (choices.len() - 1) as f64,
        (_, Some((lo, hi))) => lo + u * (hi - lo),
        _ => 0.0,
    }
}

/// A fitted GP: training points, the factor, `K⁻¹ y`, the length scale.
struct Gp {
    xs: Vec<Vec<f64>>,
    llt: faer::linalg::solvers::Llt<f64>,
    alpha: Mat<f64>,
    l: f64,
}

impl Gp {
    /// Fits with length scale `l`; returns it with its log marginal likelihood.
    fn fit(xs: &[Vec<f64>], y: &[f64], l: f64) -> Option<(Gp, f64)> {
        let n = xs.len();
        let k = Mat::<f64>::from_fn(n, n, |i, j| {
            matern52(dist(&xs[i], &xs[j]), l) + if i == j { NOISE } else { 0.0 }
        });
        let llt = k.llt(Side::Lower).ok()?;
        let ym = Mat::<f64>::from_fn(n, 1, |i, _| y[i]);
        let alpha = llt.solve(&ym);
        let fit: f64 = (0..n).map(|i| y[i] * alpha[(i, 0)]).sum();
        let logdet: f64 = (0..n).map(|i| llt.L()[(i, i)].ln()).sum();
        let lml = -0.5 * fit - logdet;
        Some((
            Gp {
                xs: xs.to_vec(),
                llt,
                alpha,
                l,
            },
            lml,
        ))
    }

    /// Posterior means and standard deviations at `cands`.
    fn predict(&self, cands: &[Vec<f64>]) -> Vec<(f64, f64)> {
        let (n, m) = (self.xs.len(), cands.len());
        let ks = Mat::<f64>::from_fn(n, m, |i, j| matern52(dist(&self.xs[i], &cands[j]), self.l));
        let v = self.llt.solve(&ks);
        (0..m)
            .map(|j| {
                let mean: f64 = (0..n).map(|i| ks[(i, j)] * self.alpha[(i, 0)]).sum();
                let var: f64 = 1.0 - (0..n).map(|i| ks[(i, j)] * v[(i, j)]).sum::<f64>();
                (mean, var.max(1e-12).sqrt())
            })
            .collect()
    }
}

/// Expected improvement below `best` of a normal `(mean, sd)`.
pub fn expected_improvement(mean: f64, sd: f64, best: f64) -> f64 {
    let z = (best - mean) / sd;
    let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    sd * (z * cdf(z) + pdf)
}

impl Sampler for GpSampler {
    fn sample(
        &self,
        space: &SearchSpace,
        trials: &[Trial],
        direction: Direction,
        rng: &mut Pcg64Mcg,
    ) -> Option<Params> {
        let done: Vec<(Vec<f64>, f64)> = trials
            .iter()
            .filter_map(|t| {
                let v = direction.loss(t.value()?);
                let x = space
                    .params
                    .iter()
                    .map(|p| {
                        Some(unit(
                            &p.distribution,
                            p.distribution.to_internal(*t.params.get(&p.name)?),
                        ))
                    })
                    .collect::<Option<Vec<f64>>>()?;
                Some((x, v))
            })
            .collect();
        if done.len() < self.n_startup_trials.max(2) {
            return RandomSampler.sample(space, trials, direction, rng);
        }
        let mean = done.iter().map(|d| d.1).sum::<f64>() / done.len() as f64;
        let sd =
            (done.iter().map(|d| (d.1 - mean).powi(2)).sum::<f64>() / done.len() as f64).sqrt();
        let sd = if sd > 0.0 { sd } else { 1.0 };
        let xs: Vec<Vec<f64>> = done.iter().map(|d| d.0.clone()).collect();
        let y: Vec<f64> = done.iter().map(|d| (d.1 - mean) / sd).collect();
        let gp = LENGTH_SCALES
            .iter()
            .filter_map(|l| Gp::fit(&xs, &y, *l))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|g| g.0);
        let Some(gp) = gp else {
            return RandomSampler.sample(space, trials, direction, rng);
        };
        let dim = space.params.len();
        let mut cands: Vec<Vec<f64>> = (0..self.n_candidates)
            .map(|_| (0..dim).map(|_| rng.gen::<f64>()).collect())
            .collect();
        let mut order: Vec<usize> = (0..y.len()).collect();
        order.sort_by(|a, b| y[*a].total_cmp(&y[*b]));
        for &i in order.iter().take(5) {
            for _ in 0..self.n_candidates / 20 {
                cands.push(
                    xs[i]
                        .iter()
                        .map(|x| (x + 0.05 * rng.sample::<f64, _>(StandardNormal)).clamp(0.0, 1.0))
                        .collect(),
                );
            }
        }
        let best = y.iter().copied().fold(f64::INFINITY, f64::min);
        let pick = gp
            .predict(&cands)
            .iter()
            .map(|(m, s)| expected_improvement(*m, *s, best))
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(0, |(i, _)| i);
        Some(
            space
                .params
                .iter()
                .zip(&cands[pick])
                .map(|(p, u)| {
                    let d = &p.distribution;
                    (p.name.clone(), d.from_internal(from_unit(d, *u)))
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_posterior_interpolates_and_is_unsure_far_away() {
        let xs = vec![vec![0.1], vec![0.5], vec![0.9]];
        let y = [1.0, -1.0, 0.5];
        let (gp, _) = Gp::fit(&xs, &y, 0.2).unwrap();
        let p = gp.predict(&[vec![0.5], vec![0.3]]);
        assert!((p[0].0 + 1.0).abs() < 1e-3 && p[0].1 < 0.02, "{p:?}");
        assert!(p[1].1 > 0.1, "{p:?}");
    }

    #[test]
    fn expected_improvement_matches_its_closed_form() {
        // at mean = best: sd * pdf(0)
        let ei = expected_improvement(0.0, 2.0, 0.0);
        assert!((ei - 2.0 / (2.0 * std::f64::consts::PI).sqrt()).abs() < 1e-12);
        assert!(expected_improvement(-1.0, 0.5, 0.0) > expected_improvement(1.0, 0.5, 0.0));
    }
}
