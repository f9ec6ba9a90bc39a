//! The trace of the Hessian by Hutchinson's estimator (Hutchinson 1990; PyHessian's `trace`):
//! `tr H = E[zᵀHz]` for Rademacher `z`, averaged over seeded probes, with its standard error.

use crate::{vector, AnalysisError, Objective, Result};
use gradus_tensor::Rng;
use serde::Serialize;

/// A trace estimate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TraceEstimate {
    /// The mean of `zᵀHz` over the probes.
    pub trace: f64,
    /// The standard error of that mean (sample standard deviation / √probes; 0 for one probe).
    pub std_error: f64,
    /// Probes used.
    pub probes: usize,
    /// The seed of the probes.
    pub seed: u64,
}

/// Hutchinson's estimate of `tr H` from `probes` Rademacher vectors drawn from `seed`.
///
/// # Errors
/// When `probes` is 0, or a product fails.
///
/// ```
/// use gradus_analysis::{hutchinson::hutchinson_trace, Objective};
/// use gradus_tensor::{Param, Tensor};
/// // a diagonal Hessian diag(2, 4, 6): every Rademacher probe gives the trace exactly
/// let x = Param::new(Tensor::from_vec(vec![0.0f64; 3], &[3]).unwrap());
/// let (p, c) = (x.clone(), Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]).unwrap());
/// let f = Objective::new(vec![("x".into(), x)], vec![1.0], move |_| {
///     Ok(p.tensor().mul(&p.tensor())?.mul(&c)?.sum_all()?)
/// }).unwrap();
/// let t = hutchinson_trace(&f, 4, 0).unwrap();
/// assert_eq!((t.trace, t.std_error), (12.0, 0.0));
/// ```
pub fn hutchinson_trace(f: &Objective<'_>, probes: usize, seed: u64) -> Result<TraceEstimate> {
    if probes == 0 {
        return Err(AnalysisError::Invalid(
            "Hutchinson probes = 0: at least 1 is needed".into(),
        ));
    }
    let mut rng = Rng::seed(seed);
    let values = f.values();
    let mut samples = Vec::with_capacity(probes);
    for _ in 0..probes {
        let z = vector::rademacher(&values, &mut rng)?;
        samples.push(vector::dot(&z, &f.hvp(&z)?)?);
    }
    let n = probes as f64;
    let mean = samples.iter().sum::<f64>() / n;
    let std_error = if probes > 1 {
        let var = samples.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (var / n).sqrt()
    } else {
        0.0
    };
    Ok(TraceEstimate {
        trace: mean,
        std_error,
        probes,
        seed,
    })
}
