//! Sharpness of a minimum: the top Hessian eigenvalue against the edge of stability `2/η` of
//! gradient descent with learning rate `η` (Cohen et al. 2021), and the ε-sharpness of Keskar et
//! al. 2017 (§2.2.1, A = I): the largest relative loss increase within the box
//! `|yᵢ| ≤ ε(|xᵢ| + 1)` around the weights `x`,
//! `φ = 100 · (max_y L(x + y) − L(x)) / (1 + L(x))`, found here by projected gradient ascent
//! (sign steps, the box's steepest ascent, clipped to the box) from a seeded random point of it.

use crate::vector::ParamVector;
use crate::{vector, AnalysisError, Objective, Result};
use gradus_tensor::autodiff::no_grad;
use gradus_tensor::{Rng, Tensor};
use serde::Serialize;

/// The top eigenvalue against gradient descent's stability threshold.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EdgeOfStability {
    /// The largest Hessian eigenvalue λ_max.
    pub lambda_max: f64,
    /// The learning rate η.
    pub lr: f64,
    /// `2/η`: on a quadratic, gradient descent diverges along directions with λ > 2/η.
    pub threshold: f64,
    /// `λ_max · η / 2` (1 at the edge of stability).
    pub ratio: f64,
    /// Whether λ_max exceeds `2/η`.
    pub beyond: bool,
}

/// Compares `lambda_max` with `2/lr`.
///
/// # Errors
/// When `lr` is not a positive finite number.
///
/// ```
/// use gradus_analysis::sharpness::edge_of_stability;
/// let e = edge_of_stability(30.0, 0.1).unwrap();
/// assert_eq!((e.threshold, e.beyond), (20.0, true));
/// ```
pub fn edge_of_stability(lambda_max: f64, lr: f64) -> Result<EdgeOfStability> {
    if !(lr > 0.0 && lr.is_finite()) {
        return Err(AnalysisError::Invalid(format!(
            "learning rate {lr}: the edge of stability needs a positive finite rate"
        )));
    }
    Ok(EdgeOfStability {
        lambda_max,
        lr,
        threshold: 2.0 / lr,
        ratio: lambda_max * lr / 2.0,
        beyond: lambda_max > 2.0 / lr,
    })
}

/// Settings of the ε-sharpness search.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EpsSharpnessOptions {
    /// The box's relative size ε (Keskar et al. report 1e-3 and 5e-4).
    pub epsilon: f64,
    /// Ascent steps.
    pub steps: usize,
    /// Each step's size as a fraction of the box's half-width.
    pub step_fraction: f64,
    /// Seed of the random start inside the box.
    pub seed: u64,
}

impl Default for EpsSharpnessOptions {
    fn default() -> EpsSharpnessOptions {
        EpsSharpnessOptions {
            epsilon: 1e-3,
            steps: 20,
            step_fraction: 0.25,
            seed: 0,
        }
    }
}

/// The result of the ε-sharpness search.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EpsSharpness {
    /// ε.
    pub epsilon: f64,
    /// φ in percent.
    pub sharpness_percent: f64,
    /// `L(x)`.
    pub loss: f64,
    /// The largest loss found in the box.
    pub max_loss: f64,
    /// Ascent steps taken.
    pub steps: usize,
}

/// Keskar et al.'s ε-sharpness of `f` at its parameters' current values, which are restored
/// afterwards (also on error).
///
/// # Errors
/// When ε or the step fraction is not positive and finite, or a loss or gradient fails.
///
/// ```
/// use gradus_analysis::{sharpness::{epsilon_sharpness, EpsSharpnessOptions}, Objective};
/// use gradus_tensor::{Param, Tensor};
/// // L(x) = Σ xᵢ² at 0, box |yᵢ| ≤ ε: the maximum 2ε² is at a corner
/// let x = Param::new(Tensor::from_vec(vec![0.0f64; 2], &[2]).unwrap());
/// let p = x.clone();
/// let f = Objective::new(vec![("x".into(), x)], vec![1.0], move |_| {
///     Ok(p.tensor().mul(&p.tensor())?.sum_all()?)
/// }).unwrap();
/// let s = epsilon_sharpness(&f, &EpsSharpnessOptions { epsilon: 0.1, ..Default::default() }).unwrap();
/// assert!((s.sharpness_percent - 100.0 * 0.02).abs() < 1e-12);
/// ```
pub fn epsilon_sharpness(f: &Objective<'_>, options: &EpsSharpnessOptions) -> Result<EpsSharpness> {
    let ok = |v: f64| v > 0.0 && v.is_finite();
    if !ok(options.epsilon) || !ok(options.step_fraction) {
        return Err(AnalysisError::Invalid(format!(
            "ε-sharpness: epsilon = {} and step_fraction = {} must both be positive and finite",
            options.epsilon, options.step_fraction
        )));
    }
    let x = f.values();
    let result = ascend(f, &x, options);
    f.set_values(&x)?;
    result
}

/// Projected sign-gradient ascent inside the box; returns the best loss seen.
fn ascend(f: &Objective<'_>, x: &[Tensor], options: &EpsSharpnessOptions) -> Result<EpsSharpness> {
    let loss = f.loss()?;
    // the box's half-widths b = ε(|x| + 1), and a random start y ∈ [-b, b]
    let b: ParamVector = no_grad(|| {
        x.iter()
            .map(|t| Ok(t.abs()?.add_scalar(1.0)?.mul_scalar(options.epsilon)?))
            .collect::<Result<_>>()
    })?;
    let mut rng = Rng::seed(options.seed);
    let mut y: ParamVector = no_grad(|| {
        b.iter()
            .map(|bi| {
                let u = rng
                    .uniform(bi.shape(), -1.0, 1.0, bi.dtype())
                    .to_device(bi.device())?;
                Ok(u.mul(bi)?)
            })
            .collect::<Result<_>>()
    })?;
    let mut max_loss = loss;
    for _ in 0..options.steps {
        f.set_values(&vector::axpy(x, 1.0, &y)?)?;
        let g = f.gradient()?;
        max_loss = max_loss.max(f.loss()?);
        y = no_grad(|| {
            y.iter()
                .zip(&g)
                .zip(&b)
                .map(|((yi, gi), bi)| {
                    let stepped =
                        yi.add(&gi.sign()?.mul(bi)?.mul_scalar(options.step_fraction)?)?;
                    Ok(stepped.minimum(bi)?.maximum(&bi.neg()?)?)
                })
                .collect::<Result<_>>()
        })?;
    }
    f.set_values(&vector::axpy(x, 1.0, &y)?)?;
    max_loss = max_loss.max(f.loss()?);
    Ok(EpsSharpness {
        epsilon: options.epsilon,
        sharpness_percent: 100.0 * (max_loss - loss) / (1.0 + loss),
        loss,
        max_loss,
        steps: options.steps,
    })
}
