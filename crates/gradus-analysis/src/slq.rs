//! The eigenvalue density of the Hessian by stochastic Lanczos quadrature (Lin, Saad & Yang
//! 2016; Ghorbani, Krishnan & Xiao 2019; PyHessian's `density`): for each Rademacher probe `z`,
//! `m` Lanczos steps from `z` give the Gauss quadrature `zᵀ g(H) z / ‖z‖² ≈ Σ_j τ_j g(θ_j)` (Ritz
//! values θ_j, weights τ_j = squared first components of `T`'s eigenvectors); the density is the
//! average over probes of the nodes broadened by a Gaussian of variance σ², on a grid.

use crate::lanczos::lanczos;
use crate::{vector, AnalysisError, Objective, Result};
use gradus_tensor::Rng;
use serde::Serialize;

/// Settings of the density estimate (PyHessian's defaults where it has them).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DensityOptions {
    /// Probe vectors (PyHessian: `n_v = 1`).
    pub probes: usize,
    /// Lanczos steps per probe (PyHessian: `iter = 100`), capped at the number of parameters.
    pub steps: usize,
    /// Grid points (PyHessian: `num_bins = 10000`).
    pub bins: usize,
    /// Kernel variance relative to the spectrum's width: σ² = this × max(1, width)
    /// (PyHessian: `sigma_squared = 1e-5`).
    pub sigma_squared: f64,
    /// Margin added on both sides of the extreme nodes (PyHessian: `overhead = 0.01`).
    pub overhead: f64,
    /// Seed of the probes.
    pub seed: u64,
}

impl Default for DensityOptions {
    fn default() -> DensityOptions {
        DensityOptions {
            probes: 1,
            steps: 100,
            bins: 1000,
            sigma_squared: 1e-5,
            overhead: 0.01,
            seed: 0,
        }
    }
}

/// One probe's Gauss quadrature: nodes (Ritz values, ascending) and weights (summing to 1).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Quadrature {
    /// Nodes θ_j.
    pub nodes: Vec<f64>,
    /// Weights τ_j.
    pub weights: Vec<f64>,
}

/// A smoothed eigenvalue density on a uniform grid (integrating to 1), with the quadratures it
/// was made from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Density {
    /// Grid points, ascending.
    pub grid: Vec<f64>,
    /// Density at each grid point.
    pub density: Vec<f64>,
    /// The Gaussian kernel's variance.
    pub sigma_squared: f64,
    /// One quadrature per probe.
    pub quadratures: Vec<Quadrature>,
}

/// The quadrature of one probe: `steps` Lanczos steps from `z` (normalized here).
///
/// # Errors
/// As [`lanczos`].
pub fn quadrature(
    f: &Objective<'_>,
    z: &[gradus_tensor::Tensor],
    steps: usize,
) -> Result<Quadrature> {
    let ritz = lanczos(f, z, steps.min(f.dim()))?.ritz()?;
    Ok(Quadrature {
        nodes: ritz.values,
        weights: ritz.weights,
    })
}

/// The eigenvalue density of `f`'s Hessian by stochastic Lanczos quadrature.
///
/// # Errors
/// When `probes`, `steps` or `bins` is 0 (or `bins` is 1), or a product fails.
///
/// ```
/// use gradus_analysis::{slq::{slq, DensityOptions}, Objective};
/// use gradus_tensor::{Param, Tensor};
/// // H = diag(2, 2, 6): the density has mass 2/3 near 2 and 1/3 near 6
/// let x = Param::new(Tensor::from_vec(vec![0.0f64; 3], &[3]).unwrap());
/// let (p, c) = (x.clone(), Tensor::from_vec(vec![1.0f64, 1.0, 3.0], &[3]).unwrap());
/// let f = Objective::new(vec![("x".into(), x)], vec![1.0], move |_| {
///     Ok(p.tensor().mul(&p.tensor())?.mul(&c)?.sum_all()?)
/// }).unwrap();
/// let d = slq(&f, &DensityOptions { steps: 3, ..DensityOptions::default() }).unwrap();
/// let q = &d.quadratures[0];
/// assert!((q.nodes[0] - 2.0).abs() < 1e-12 && (q.weights[0] - 2.0 / 3.0).abs() < 1e-12);
/// ```
pub fn slq(f: &Objective<'_>, options: &DensityOptions) -> Result<Density> {
    if options.probes == 0 || options.steps == 0 {
        return Err(AnalysisError::Invalid(format!(
            "density: probes = {} and steps = {}: both must be at least 1",
            options.probes, options.steps
        )));
    }
    let mut rng = Rng::seed(options.seed);
    let values = f.values();
    let mut quadratures = Vec::with_capacity(options.probes);
    for _ in 0..options.probes {
        let z = vector::rademacher(&values, &mut rng)?;
        quadratures.push(quadrature(f, &z, options.steps)?);
    }
    broaden(quadratures, options)
}

/// The density of a set of quadratures on a grid of `options.bins` points from the smallest
/// node − overhead to the largest + overhead, each node a Gaussian of variance
/// `options.sigma_squared × max(1, width)` weighted by its weight, averaged over the probes and
/// normalized to integrate to 1 (PyHessian's `density_generate`; its grid spans the probes' mean
/// extreme nodes, this one all nodes).
///
/// # Errors
/// When `bins` < 2, or there is no node.
pub fn broaden(quadratures: Vec<Quadrature>, options: &DensityOptions) -> Result<Density> {
    let bins = options.bins;
    let nodes = || quadratures.iter().flat_map(|q| q.nodes.iter().copied());
    let (lo, hi) = nodes().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    if bins < 2 || !lo.is_finite() || !hi.is_finite() {
        return Err(AnalysisError::Invalid(format!(
            "density: bins = {bins} (at least 2 are needed) over nodes [{lo}, {hi}]"
        )));
    }
    let (lo, hi) = (lo - options.overhead, hi + options.overhead);
    let step = (hi - lo) / (bins - 1) as f64;
    let grid: Vec<f64> = (0..bins).map(|i| lo + step * i as f64).collect();
    let var = options.sigma_squared * (hi - lo).max(1.0);
    let norm = (2.0 * std::f64::consts::PI * var).sqrt();
    let probes = quadratures.len() as f64;
    let mut density: Vec<f64> = grid
        .iter()
        .map(|&x| {
            quadratures
                .iter()
                .flat_map(|q| q.nodes.iter().zip(&q.weights))
                .map(|(&t, &w)| w * (-(t - x).powi(2) / (2.0 * var)).exp() / norm)
                .sum::<f64>()
                / probes
        })
        .collect();
    let total: f64 = density.iter().sum::<f64>() * step;
    if total > 0.0 {
        density.iter_mut().for_each(|d| *d /= total);
    }
    Ok(Density {
        grid,
        density,
        sigma_squared: var,
        quadratures,
    })
}
