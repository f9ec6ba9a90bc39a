//! Vectors in parameter space: one tensor per parameter, in the order of the parameters (as
//! PyHessian's lists of tensors). The arithmetic stays in tensor ops; only the scalars (dot
//! products, norms) are read on the host.

use crate::Result;
use gradus_tensor::{autodiff::no_grad, Rng, Tensor};

/// A vector in parameter space: one tensor per parameter, each of that parameter's shape.
pub type ParamVector = Vec<Tensor>;

/// `Σᵢ ⟨aᵢ, bᵢ⟩` over the parameters.
///
/// # Errors
/// When the lists differ in length or a pair differs in shape.
///
/// ```
/// use gradus_analysis::vector::dot;
/// use gradus_tensor::Tensor;
/// let a = vec![Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap()];
/// let b = vec![Tensor::from_vec(vec![3.0f64, 4.0], &[2]).unwrap()];
/// assert_eq!(dot(&a, &b).unwrap(), 11.0);
/// ```
pub fn dot(a: &[Tensor], b: &[Tensor]) -> Result<f64> {
    same_length(a, b)?;
    no_grad(|| {
        a.iter().zip(b).try_fold(0.0, |acc, (x, y)| {
            Ok(acc
                + x.mul(y)?
                    .to_dtype(gradus_tensor::DType::F64)?
                    .sum_all()?
                    .item()?)
        })
    })
}

/// The Euclidean norm `‖a‖` over all parameters (squares summed in f64).
///
/// # Errors
/// Never for valid tensors.
///
/// ```
/// use gradus_analysis::vector::norm;
/// use gradus_tensor::Tensor;
/// let a = vec![Tensor::from_vec(vec![3.0f32], &[1]).unwrap(), Tensor::from_vec(vec![4.0f32], &[1]).unwrap()];
/// assert_eq!(norm(&a).unwrap(), 5.0);
/// ```
pub fn norm(a: &[Tensor]) -> Result<f64> {
    no_grad(|| {
        a.iter()
            .try_fold(0.0, |acc, x| Ok(acc + x.sum_squares()?.item()?))
            .map(f64::sqrt)
    })
}

/// `y + alpha·x`, parameter by parameter.
///
/// # Errors
/// When the lists differ in length or a pair differs in shape.
///
/// ```
/// use gradus_analysis::vector::axpy;
/// use gradus_tensor::Tensor;
/// let y = vec![Tensor::from_vec(vec![1.0f64], &[1]).unwrap()];
/// let x = vec![Tensor::from_vec(vec![2.0f64], &[1]).unwrap()];
/// assert_eq!(axpy(&y, 3.0, &x).unwrap()[0].to_vec::<f64>().unwrap(), vec![7.0]);
/// ```
pub fn axpy(y: &[Tensor], alpha: f64, x: &[Tensor]) -> Result<ParamVector> {
    same_length(y, x)?;
    no_grad(|| {
        y.iter()
            .zip(x)
            .map(|(y, x)| Ok(y.add(&x.mul_scalar(alpha)?)?))
            .collect()
    })
}

/// `c·a`, parameter by parameter.
///
/// # Errors
/// Never for valid tensors.
///
/// ```
/// use gradus_analysis::vector::scale;
/// use gradus_tensor::Tensor;
/// let a = vec![Tensor::from_vec(vec![1.0f64, -2.0], &[2]).unwrap()];
/// assert_eq!(scale(&a, -2.0).unwrap()[0].to_vec::<f64>().unwrap(), vec![-2.0, 4.0]);
/// ```
pub fn scale(a: &[Tensor], c: f64) -> Result<ParamVector> {
    no_grad(|| a.iter().map(|t| Ok(t.mul_scalar(c)?)).collect())
}

/// A Rademacher vector (entries ±1 with probability ½ each) shaped like `like`, on its devices
/// and in its dtypes: Hutchinson's probe.
///
/// # Errors
/// When a tensor cannot be moved to `like`'s device.
///
/// ```
/// use gradus_analysis::vector::rademacher;
/// use gradus_tensor::{DType, Rng, Tensor};
/// let z = rademacher(&[Tensor::zeros(&[100], DType::F64)], &mut Rng::seed(0)).unwrap();
/// assert!(z[0].to_vec::<f64>().unwrap().iter().all(|v| v.abs() == 1.0));
/// ```
pub fn rademacher(like: &[Tensor], rng: &mut Rng) -> Result<ParamVector> {
    like.iter()
        .map(|t| {
            let bits = rng.bernoulli(t.shape(), 0.5, t.dtype())?;
            Ok(bits
                .mul_scalar(2.0)?
                .add_scalar(-1.0)?
                .to_device(t.device())?)
        })
        .collect()
}

/// A standard normal vector shaped like `like` (Lanczos' random start).
///
/// # Errors
/// When a tensor cannot be moved to `like`'s device.
///
/// ```
/// use gradus_analysis::vector::gaussian;
/// use gradus_tensor::{DType, Rng, Tensor};
/// let z = gaussian(&[Tensor::zeros(&[3, 2], DType::F32)], &mut Rng::seed(0)).unwrap();
/// assert_eq!(z[0].shape(), &[3, 2]);
/// ```
pub fn gaussian(like: &[Tensor], rng: &mut Rng) -> Result<ParamVector> {
    like.iter()
        .map(|t| {
            Ok(rng
                .normal(t.shape(), 0.0, 1.0, t.dtype())
                .to_device(t.device())?)
        })
        .collect()
}

fn same_length(a: &[Tensor], b: &[Tensor]) -> Result<()> {
    if a.len() != b.len() {
        return Err(crate::AnalysisError::Invalid(format!(
            "parameter vectors of {} and {} tensors: both must hold one tensor per parameter",
            a.len(),
            b.len()
        )));
    }
    Ok(())
}
