//! [`analyze`]: every curvature measure of this crate on one objective, gathered into an
//! [`Analysis`] that serializes as `analysis.json`.

use crate::hutchinson::{hutchinson_trace, TraceEstimate};
use crate::lanczos::{extreme_eigenvalues, Eigenvalue};
use crate::landscape::{surface, Surface};
use crate::sharpness::{
    edge_of_stability, epsilon_sharpness, EdgeOfStability, EpsSharpness, EpsSharpnessOptions,
};
use crate::slq::{slq, Density, DensityOptions};
use crate::{Objective, Result};
use serde::Serialize;

/// What [`analyze`] computes and how hard it tries.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnalysisOptions {
    /// How many of the largest eigenvalues to report.
    pub top_k: usize,
    /// Lanczos steps for the extreme eigenvalues (capped at the number of parameters).
    pub lanczos_steps: usize,
    /// Lanczos steps for each parameter's top eigenvalue; 0 skips the per-layer spectrum.
    pub layer_steps: usize,
    /// Hutchinson probes for the trace.
    pub trace_probes: usize,
    /// The density's settings.
    pub density: DensityOptions,
    /// The ε-sharpness search's settings.
    pub epsilon: EpsSharpnessOptions,
    /// The training learning rate, for the edge of stability (none: not compared).
    pub lr: Option<f64>,
    /// Points per side of the 2-D loss surface (0: none); see [`crate::landscape::surface`].
    pub surface_points: usize,
    /// The surface spans `[-span, span]²` in units of the filter-normalized directions.
    pub surface_span: f64,
    /// Seed of the Lanczos start vectors and the trace probes.
    pub seed: u64,
}

impl Default for AnalysisOptions {
    fn default() -> AnalysisOptions {
        AnalysisOptions {
            top_k: 5,
            lanczos_steps: 40,
            layer_steps: 20,
            trace_probes: 20,
            density: DensityOptions::default(),
            epsilon: EpsSharpnessOptions::default(),
            lr: None,
            surface_points: 0,
            surface_span: 1.0,
            seed: 0,
        }
    }
}

/// Whether the smallest eigenvalue says the weights sit at a saddle point.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Saddle {
    /// The smallest eigenvalue found.
    pub min_eigenvalue: f64,
    /// Its error bound (the Ritz residual).
    pub residual: f64,
    /// `λ_min / λ_max`: how strong the negative curvature is next to the positive.
    pub relative: f64,
    /// True when λ_min is negative beyond its error bound and beyond 1e-6 · |λ_max|: a direction
    /// of negative curvature exists, so the point is no minimum.
    pub detected: bool,
}

impl Saddle {
    /// The verdict on `min` given the largest eigenvalue `max`.
    ///
    /// ```
    /// use gradus_analysis::{lanczos::Eigenvalue, Saddle};
    /// let s = Saddle::from_extremes(Eigenvalue { value: -0.5, residual: 1e-9 }, 10.0);
    /// assert!(s.detected);
    /// assert!(!Saddle::from_extremes(Eigenvalue { value: -1e-9, residual: 1e-8 }, 10.0).detected);
    /// ```
    pub fn from_extremes(min: Eigenvalue, max: f64) -> Saddle {
        let margin = min.residual.max(1e-6 * max.abs());
        Saddle {
            min_eigenvalue: min.value,
            residual: min.residual,
            relative: if max != 0.0 { min.value / max } else { 0.0 },
            detected: min.value < -margin,
        }
    }
}

/// The top eigenvalue of one parameter's diagonal Hessian block.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerEigenvalue {
    /// The parameter's name (`layers.0.weight`).
    pub name: String,
    /// Its number of elements.
    pub numel: usize,
    /// The block's largest eigenvalue.
    pub top: Eigenvalue,
}

/// Sharpness measures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sharpness {
    /// λ_max against 2/η, when a learning rate was given.
    pub edge_of_stability: Option<EdgeOfStability>,
    /// Keskar et al.'s ε-sharpness.
    pub epsilon: EpsSharpness,
}

/// Everything [`analyze`] measured (`analysis.json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Analysis {
    /// Scalar parameters (the Hessian's side).
    pub parameters: usize,
    /// The loss at the analysed weights.
    pub loss: f64,
    /// The `top_k` largest eigenvalues, descending.
    pub top_eigenvalues: Vec<Eigenvalue>,
    /// The smallest eigenvalue and the saddle verdict.
    pub saddle: Saddle,
    /// Lanczos steps the extreme eigenvalues took.
    pub lanczos_steps: usize,
    /// Hutchinson's trace.
    pub trace: TraceEstimate,
    /// The eigenvalue density.
    pub density: Density,
    /// Each parameter's top eigenvalue (empty when skipped).
    pub per_layer: Vec<LayerEigenvalue>,
    /// Sharpness.
    pub sharpness: Sharpness,
    /// The loss surface around the weights (when `surface_points` > 0).
    pub surface: Option<Surface>,
    /// The settings used.
    pub options: AnalysisOptions,
}

/// Runs every measure on `f` at its parameters' current values (left unchanged).
///
/// # Errors
/// On settings that cannot be used (0 probes, steps or k; a non-positive learning rate) or a
/// loss that fails.
pub fn analyze(f: &Objective<'_>, options: &AnalysisOptions) -> Result<Analysis> {
    let loss = f.loss()?;
    let ext = extreme_eigenvalues(f, options.top_k, options.lanczos_steps, options.seed)?;
    let lambda_max = ext.top[0].value;
    let trace = hutchinson_trace(f, options.trace_probes, options.seed)?;
    let density = slq(f, &options.density)?;
    let mut per_layer = Vec::new();
    if options.layer_steps > 0 {
        for i in 0..f.params().len() {
            let block = f.block(i)?;
            let e = extreme_eigenvalues(&block, 1, options.layer_steps, options.seed)?;
            per_layer.push(LayerEigenvalue {
                name: block.names()[0].clone(),
                numel: block.dim(),
                top: e.top[0],
            });
        }
    }
    let sharpness = Sharpness {
        edge_of_stability: options
            .lr
            .map(|lr| edge_of_stability(lambda_max, lr))
            .transpose()?,
        epsilon: epsilon_sharpness(f, &options.epsilon)?,
    };
    let surface = match options.surface_points {
        0 => None,
        points => Some(surface(f, points, options.surface_span, options.seed)?),
    };
    Ok(Analysis {
        parameters: f.dim(),
        loss,
        saddle: Saddle::from_extremes(ext.smallest, lambda_max),
        top_eigenvalues: ext.top,
        lanczos_steps: ext.steps,
        trace,
        density,
        per_layer,
        sharpness,
        surface,
        options: options.clone(),
    })
}
