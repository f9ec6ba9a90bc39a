//! Loss landscapes: the loss along the segment between two sets of weights (Goodfellow, Vinyals &
//! Saxe 2015), and the loss surface around the weights along two random filter-normalized
//! directions (Li, Xu, Taylor, Studer & Goldstein 2018). Each point is one evaluation of the
//! objective over its batches, without a graph; the weights are restored afterwards.

use crate::vector::{self, ParamVector};
use crate::{AnalysisError, Objective, Result};
use gradus_tensor::autodiff::no_grad;
use gradus_tensor::{Rng, Tensor};
use serde::Serialize;

/// The loss along `θ(α) = (1 − α)·start + α·end`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Interpolation {
    /// The α of each point.
    pub alphas: Vec<f64>,
    /// The loss at each point.
    pub losses: Vec<f64>,
}

/// The loss at `θ(α) = (1 − α)·start + α·end` for each α (0 is `start`, 1 is `end`); the
/// parameters' values are restored afterwards.
///
/// # Errors
/// When `start` or `end` does not fit the parameters, or a loss fails.
///
/// ```
/// use gradus_analysis::{landscape::interpolate, Objective};
/// use gradus_tensor::{Param, Tensor};
/// let x = Param::new(Tensor::from_vec(vec![0.0f64], &[1]).unwrap());
/// let p = x.clone();
/// let f = Objective::new(vec![("x".into(), x)], vec![1.0], move |_| {
///     Ok(p.tensor().mul(&p.tensor())?.sum_all()?)
/// }).unwrap();
/// let (a, b) = (Tensor::from_vec(vec![-1.0f64], &[1]).unwrap(), Tensor::from_vec(vec![3.0f64], &[1]).unwrap());
/// let line = interpolate(&f, &[a], &[b], &[0.0, 0.25, 1.0]).unwrap();
/// assert_eq!(line.losses, vec![1.0, 0.0, 9.0]);
/// ```
pub fn interpolate(
    f: &Objective<'_>,
    start: &[Tensor],
    end: &[Tensor],
    alphas: &[f64],
) -> Result<Interpolation> {
    f.check_shapes(start, "the interpolation's start")?;
    f.check_shapes(end, "the interpolation's end")?;
    let delta = vector::axpy(end, -1.0, start)?;
    let losses = with_restored(f, || {
        alphas
            .iter()
            .map(|&a| {
                f.set_values(&vector::axpy(start, a, &delta)?)?;
                f.loss()
            })
            .collect()
    })?;
    Ok(Interpolation {
        alphas: alphas.to_vec(),
        losses,
    })
}

/// A random Gaussian direction normalized filter by filter to the weights' scale (Li et al.
/// 2018, §4): each filter (the slice of a parameter along its first axis: a row of a linear
/// weight, an output channel of a convolution kernel) of the direction gets the norm of the same
/// filter of `values`. Parameters of one dimension (biases, normalization scales) get a zero
/// direction, as in Li et al.'s experiments (`ignore='biasbn'`).
///
/// # Errors
/// When a tensor op fails.
///
/// ```
/// use gradus_analysis::landscape::filter_normalized_direction;
/// use gradus_tensor::{Rng, Tensor};
/// let w = Tensor::from_vec(vec![3.0f64, 4.0, 0.0, 1.0], &[2, 2]).unwrap();
/// let d = filter_normalized_direction(&[w], &mut Rng::seed(0)).unwrap();
/// let rows = d[0].to_vec::<f64>().unwrap();
/// assert!(((rows[0] * rows[0] + rows[1] * rows[1]).sqrt() - 5.0).abs() < 1e-9);
/// assert!(((rows[2] * rows[2] + rows[3] * rows[3]).sqrt() - 1.0).abs() < 1e-9);
/// ```
pub fn filter_normalized_direction(values: &[Tensor], rng: &mut Rng) -> Result<ParamVector> {
    let d = vector::gaussian(values, rng)?;
    no_grad(|| {
        values
            .iter()
            .zip(d)
            .map(|(w, d)| {
                if w.rank() <= 1 {
                    return Ok(w.zeros_like());
                }
                let rows = w.shape()[0];
                let flat = [rows, w.numel() / rows.max(1)];
                let scale = row_norms(&w.reshape(&flat)?)?
                    .div(&row_norms(&d.reshape(&flat)?)?.add_scalar(1e-10)?)?;
                Ok(d.reshape(&flat)?.mul(&scale)?.reshape(w.shape())?)
            })
            .collect()
    })
}

/// Row norms `‖tᵢ‖` of a 2-D tensor as a column `[rows, 1]`.
fn row_norms(t: &Tensor) -> Result<Tensor> {
    Ok(t.mul(t)?.sum(&[1], true)?.sqrt()?)
}

/// The loss on a square grid around the weights: `L(θ + α·d₁ + β·d₂)`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Surface {
    /// The grid's coordinates along both directions (α and β alike), ascending.
    pub coordinates: Vec<f64>,
    /// `losses[j][i]` is the loss at `α = coordinates[i]`, `β = coordinates[j]`.
    pub losses: Vec<Vec<f64>>,
    /// Seed of the two directions.
    pub seed: u64,
}

/// The loss surface on a `points × points` grid over `[-span, span]²` along two
/// [filter-normalized directions](filter_normalized_direction) drawn from `seed` (Li et al. use
/// `[-1, 1]²` and 51 points); the parameters' values are restored afterwards.
///
/// # Errors
/// When `points` < 2 or `span` is not positive and finite, or a loss fails.
pub fn surface(f: &Objective<'_>, points: usize, span: f64, seed: u64) -> Result<Surface> {
    if points < 2 || !(span > 0.0 && span.is_finite()) {
        return Err(AnalysisError::Invalid(format!(
            "loss surface: {points} points over ±{span}: at least 2 points and a positive finite span"
        )));
    }
    let (d1, d2) = directions(f, seed)?;
    let coordinates: Vec<f64> = (0..points)
        .map(|i| -span + 2.0 * span * i as f64 / (points - 1) as f64)
        .collect();
    let theta = f.values();
    let losses = with_restored(f, || {
        coordinates
            .iter()
            .map(|&b| {
                let row = vector::axpy(&theta, b, &d2)?;
                coordinates
                    .iter()
                    .map(|&a| {
                        f.set_values(&vector::axpy(&row, a, &d1)?)?;
                        f.loss()
                    })
                    .collect()
            })
            .collect()
    })?;
    Ok(Surface {
        coordinates,
        losses,
        seed,
    })
}

/// The two directions [`surface`] uses for `seed` (drawn one after the other).
///
/// # Errors
/// When a tensor op fails.
pub fn directions(f: &Objective<'_>, seed: u64) -> Result<(ParamVector, ParamVector)> {
    let mut rng = Rng::seed(seed);
    let theta = f.values();
    let d1 = filter_normalized_direction(&theta, &mut rng)?;
    let d2 = filter_normalized_direction(&theta, &mut rng)?;
    Ok((d1, d2))
}

/// Runs `body`, then puts the parameters' values back as they were (also on error).
fn with_restored<T>(f: &Objective<'_>, body: impl FnOnce() -> Result<T>) -> Result<T> {
    let saved = f.values();
    let out = body();
    f.set_values(&saved)?;
    out
}
