//! Regression and binary losses: MSE, L1, Huber, BCE with logits.

use super::{reduce, Reduction};
use gradus_tensor::{Result, Tensor};

/// Mean squared error `(x - y)^2`.
///
/// # Errors
/// On shapes that do not broadcast.
///
/// ```
/// use gradus_nn::loss::{mse_loss, Reduction};
/// use gradus_tensor::Tensor;
/// let x = Tensor::from_vec(vec![1.0f64, 3.0], &[2]).unwrap();
/// assert_eq!(mse_loss(&x, &x.zeros_like(), Reduction::Mean).unwrap().item().unwrap(), 5.0);
/// ```
pub fn mse_loss(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    let d = input.sub(target)?;
    reduce(&d.mul(&d)?, reduction)
}

/// Mean absolute error `|x - y|`.
///
/// # Errors
/// On shapes that do not broadcast.
///
/// ```
/// use gradus_nn::loss::{l1_loss, Reduction};
/// use gradus_tensor::Tensor;
/// let x = Tensor::from_vec(vec![1.0f64, -3.0], &[2]).unwrap();
/// assert_eq!(l1_loss(&x, &x.zeros_like(), Reduction::Sum).unwrap().item().unwrap(), 4.0);
/// ```
pub fn l1_loss(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    reduce(&input.sub(target)?.abs()?, reduction)
}

/// Huber loss: `0.5 d^2` where `|d| < delta`, else `delta (|d| - 0.5 delta)`.
///
/// # Errors
/// On shapes that do not broadcast.
///
/// ```
/// use gradus_nn::loss::{huber_loss, Reduction};
/// use gradus_tensor::Tensor;
/// let x = Tensor::from_vec(vec![0.5f64, 3.0], &[2]).unwrap();
/// let l = huber_loss(&x, &x.zeros_like(), 1.0, Reduction::None).unwrap();
/// assert_eq!(l.to_vec_f64(), vec![0.125, 2.5]);
/// ```
pub fn huber_loss(
    input: &Tensor,
    target: &Tensor,
    delta: f64,
    reduction: Reduction,
) -> Result<Tensor> {
    let d = input.sub(target)?;
    let a = d.abs()?;
    let quadratic = d.mul(&d)?.mul_scalar(0.5)?;
    let linear = a.add_scalar(-0.5 * delta)?.mul_scalar(delta)?;
    let small = a.detach().lt(&Tensor::full(&[], delta, a.dtype()))?;
    reduce(&small.where_cond(&quadratic, &linear)?, reduction)
}

/// Binary cross-entropy on logits, `softplus(x) - x y` (stable for large `|x|`), targets in
/// `[0, 1]`.
///
/// # Errors
/// On shapes that do not broadcast.
///
/// ```
/// use gradus_nn::loss::{bce_with_logits, Reduction};
/// use gradus_tensor::Tensor;
/// let x = Tensor::from_vec(vec![0.0f64], &[1]).unwrap();
/// let l = bce_with_logits(&x, &Tensor::from_vec(vec![1.0f64], &[1]).unwrap(), Reduction::Mean).unwrap();
/// assert!((l.item().unwrap() - 2f64.ln()).abs() < 1e-12);
/// ```
pub fn bce_with_logits(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    // softplus without PyTorch module's linear threshold, so the value is exact for all x
    let sp = input.softplus(1.0, f64::INFINITY)?;
    reduce(&sp.sub(&input.mul(target)?)?, reduction)
}
