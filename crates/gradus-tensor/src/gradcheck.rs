//! Gradient checking: compares autodiff gradients with central finite differences in float64.

use crate::autodiff::grad;
use crate::{DType, Result, Tensor, TensorError};

/// Tolerances and step of a gradient check (defaults follow `torch.autograd.gradcheck`).
///
/// ```
/// let opts = gradus_tensor::GradcheckOptions::default();
/// assert_eq!(opts.eps, 1e-6);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct GradcheckOptions {
    /// Finite-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
        }
    }
}

/// Checks the gradients of `f` (any tensor-valued function) at `inputs` against central finite
/// differences. The output is reduced with fixed random weights, `sum(f(x) * w)`, so every output
/// element is checked. Inputs must be float64.
///
/// # Errors
/// [`TensorError::Autodiff`] naming the input, element, analytic and numeric values at the first
/// mismatch; any error `f` returns.
///
/// ```
/// use gradus_tensor::{gradcheck, GradcheckOptions, Tensor};
/// let x = Tensor::from_vec(vec![0.3f64, -1.2, 2.0], &[3]).unwrap();
/// gradcheck(|xs| xs[0].tanh()?.mul(&xs[0]), &[x], GradcheckOptions::default()).unwrap();
/// ```
pub fn gradcheck(
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
    inputs: &[Tensor],
    opts: GradcheckOptions,
) -> Result<()> {
    for (i, x) in inputs.iter().enumerate() {
        if x.dtype() != DType::F64 {
            return Err(TensorError::InvalidArgument {
                op: "gradcheck",
                detail: format!("input {i} is {:?}; gradcheck needs F64", x.dtype()),
            });
        }
    }
    let leaves: Vec<Tensor> = inputs
        .iter()
        .map(|x| x.detach().requires_grad_(true))
        .collect();
    let out = f(&leaves)?;
    let weights = crate::Rng::seed(0x9e37).uniform(out.shape(), 0.5, 1.5, DType::F64);
    let objective = |xs: &[Tensor]| -> Result<f64> { f(xs)?.mul(&weights)?.sum_all()?.item() };
    let scalar = out.mul(&weights)?.sum_all()?;
    let analytic = if scalar.requires_grad() {
        grad(&scalar, &leaves.iter().collect::<Vec<_>>(), None, false)?
    } else {
        leaves.iter().map(|l| l.zeros_like()).collect()
    };
    for (i, x) in inputs.iter().enumerate() {
        let base = x.to_vec::<f64>()?;
        let analytic_i = analytic[i].to_vec::<f64>()?;
        for j in 0..base.len() {
            let at = |delta: f64| -> Result<f64> {
                let mut v = base.clone();
                v[j] += delta;
                let mut xs: Vec<Tensor> = inputs.iter().map(|t| t.detach()).collect();
                xs[i] = Tensor::from_vec(v, x.shape())?;
                objective(&xs)
            };
            let numeric = (at(opts.eps)? - at(-opts.eps)?) / (2.0 * opts.eps);
            let a = analytic_i[j];
            if (a - numeric).abs() > opts.atol + opts.rtol * numeric.abs() {
                return Err(TensorError::Autodiff(format!(
                    "gradcheck failed for input {i} (shape {:?}) at element {j}: analytic {a:.10e}, numeric {numeric:.10e}",
                    x.shape()
                )));
            }
        }
    }
    Ok(())
}

/// Checks second derivatives: runs [`gradcheck`] on the function `x -> grad(sum(f(x) * w), x)`
/// computed with `create_graph`, so the backward rules are differentiated.
///
/// # Errors
/// As [`gradcheck`].
///
/// ```
/// use gradus_tensor::{gradgradcheck, GradcheckOptions, Tensor};
/// let x = Tensor::from_vec(vec![0.3f64, -1.2], &[2]).unwrap();
/// gradgradcheck(|xs| xs[0].exp()?.mul(&xs[0]), &[x], GradcheckOptions::default()).unwrap();
/// ```
pub fn gradgradcheck(
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
    inputs: &[Tensor],
    opts: GradcheckOptions,
) -> Result<()> {
    let first = |xs: &[Tensor]| -> Result<Tensor> {
        // finite-difference evaluations pass plain tensors: make them leaves of a fresh graph
        let leaves: Vec<Tensor> = xs
            .iter()
            .map(|x| {
                if x.requires_grad() {
                    x.clone()
                } else {
                    x.detach().requires_grad_(true)
                }
            })
            .collect();
        let xs = &leaves[..];
        let out = f(xs)?;
        let weights = crate::Rng::seed(0x51).uniform(out.shape(), 0.5, 1.5, DType::F64);
        let s = out.mul(&weights)?.sum_all()?;
        if !s.requires_grad() {
            return Ok(Tensor::zeros(
                &[xs.iter().map(|x| x.numel()).sum()],
                DType::F64,
            ));
        }
        let gs = grad(&s, &xs.iter().collect::<Vec<_>>(), None, true)?;
        let flat = gs
            .iter()
            .map(|g| g.reshape(&[g.numel()]))
            .collect::<Result<Vec<_>>>()?;
        Tensor::concat(&flat.iter().collect::<Vec<_>>(), 0)
    };
    gradcheck(first, inputs, opts)
}
