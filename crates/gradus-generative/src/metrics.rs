//! Distances between sample sets: sliced Wasserstein, and mode coverage of a Gaussian mixture.

use crate::{GenError, Result};
use gradus_tensor::Rng;

/// The sliced 2-Wasserstein distance between two equal-size sample sets `a` and `b` of
/// `dim`-vectors (row-major), estimated with `projections` random directions (Rabin et al. 2011;
/// Bonneel et al. 2015): `sqrt(mean_θ W₂²(θ·a, θ·b))`, each 1-D distance from sorted projections.
///
/// # Errors
/// When a set's length is not a multiple of `dim`, the sets differ in size, or either is empty.
///
/// ```
/// use gradus_generative::sliced_wasserstein;
/// use gradus_tensor::Rng;
/// let a = vec![0.0, 0.0, 1.0, 1.0];
/// let shifted: Vec<f64> = a.iter().map(|v| v + 3.0).collect();
/// let d = sliced_wasserstein(&a, &shifted, 2, 256, &mut Rng::seed(0)).unwrap();
/// // a shift by (3, 3) projects to 3 (cos θ + sin θ): the root-mean-square over θ is 3
/// assert!((d - 3.0).abs() < 0.3);
/// assert_eq!(sliced_wasserstein(&a, &a, 2, 8, &mut Rng::seed(0)).unwrap(), 0.0);
/// assert!(sliced_wasserstein(&a, &a[..2], 2, 8, &mut Rng::seed(0)).is_err());
/// ```
pub fn sliced_wasserstein(
    a: &[f64],
    b: &[f64],
    dim: usize,
    projections: usize,
    rng: &mut Rng,
) -> Result<f64> {
    let bad = |detail: String| GenError::BadSamples {
        metric: "sliced_wasserstein",
        detail,
    };
    if dim == 0 || !a.len().is_multiple_of(dim) || !b.len().is_multiple_of(dim) {
        return Err(bad(format!(
            "sample lengths {} and {} are not multiples of dim {dim}",
            a.len(),
            b.len()
        )));
    }
    if a.len() != b.len() || a.is_empty() {
        return Err(bad(format!(
            "needs two non-empty sets of equal size, got {} and {} samples",
            a.len() / dim,
            b.len() / dim
        )));
    }
    let n = a.len() / dim;
    let mut total = 0.0;
    for _ in 0..projections {
        let mut theta: Vec<f64> = (0..dim).map(|_| gauss(rng)).collect();
        let norm = theta.iter().map(|t| t * t).sum::<f64>().sqrt().max(1e-300);
        theta.iter_mut().for_each(|t| *t /= norm);
        let project = |x: &[f64]| {
            let mut p: Vec<f64> = x
                .chunks(dim)
                .map(|row| row.iter().zip(&theta).map(|(v, t)| v * t).sum())
                .collect();
            p.sort_by(f64::total_cmp);
            p
        };
        let (pa, pb) = (project(a), project(b));
        total += pa
            .iter()
            .zip(&pb)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f64>()
            / n as f64;
    }
    Ok((total / projections.max(1) as f64).sqrt())
}

fn gauss(rng: &mut Rng) -> f64 {
    let u1 = 1.0 - rng.uniform_f64();
    let u2 = rng.uniform_f64();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// How well 2-D samples cover a mixture of isotropic Gaussians (the metrics of Metz et al. 2017
/// and Srivastava et al. 2017, "VEEGAN").
#[derive(Debug, Clone, PartialEq)]
pub struct ModeCoverage {
    /// Modes that received at least 1% of the samples as high-quality samples.
    pub modes_covered: usize,
    /// The fraction of samples within 3 standard deviations of their nearest centre.
    pub high_quality: f64,
    /// High-quality samples per mode, in the order of the centres.
    pub per_mode: Vec<usize>,
}

/// Scores `(n, 2)` row-major `samples` against mixture components at `centers` with standard
/// deviation `std`: a sample is high quality when within `3 std` of its nearest centre, and a
/// mode is covered when at least 1% of all samples are high-quality samples of it.
///
/// # Errors
/// When `samples` has odd length or is empty.
///
/// ```
/// use gradus_generative::{mode_coverage, toy};
/// let c = toy::eight_gaussian_centers();
/// let on_two = vec![2.0, 0.0, 0.0, 2.0, 2.01, 0.0, 5.0, 5.0];
/// let m = mode_coverage(&on_two, &c, toy::EIGHT_GAUSSIANS_STD).unwrap();
/// assert_eq!((m.modes_covered, m.high_quality), (2, 0.75));
/// ```
pub fn mode_coverage(samples: &[f64], centers: &[[f64; 2]], std: f64) -> Result<ModeCoverage> {
    if samples.is_empty() || !samples.len().is_multiple_of(2) {
        return Err(GenError::BadSamples {
            metric: "mode_coverage",
            detail: format!("needs (n, 2) samples, got {} values", samples.len()),
        });
    }
    let n = samples.len() / 2;
    let mut per_mode = vec![0usize; centers.len()];
    for p in samples.chunks(2) {
        let nearest = centers
            .iter()
            .enumerate()
            .map(|(k, c)| (k, (p[0] - c[0]).hypot(p[1] - c[1])))
            .min_by(|x, y| x.1.total_cmp(&y.1));
        if let Some((k, d)) = nearest {
            if d <= 3.0 * std {
                per_mode[k] += 1;
            }
        }
    }
    let good: usize = per_mode.iter().sum();
    let modes_covered = per_mode
        .iter()
        .filter(|&&c| c as f64 >= 0.01 * n as f64)
        .count();
    Ok(ModeCoverage {
        modes_covered,
        high_quality: good as f64 / n as f64,
        per_mode,
    })
}
