//! Losses matched to PyTorch's `torch.nn.functional`, each with a [`Reduction`].
//!
//! Regression ([`regression`]): MSE, L1, Huber, BCE with logits. Classification
//! ([`classification`]): cross-entropy on class indices (class weights, `ignore_index`, label
//! smoothing, PyTorch's weighted mean), NLL, KL divergence.

pub mod classification;
pub mod regression;

pub use classification::{cross_entropy, kl_div, nll_loss, CrossEntropyOptions};
pub use regression::{bce_with_logits, huber_loss, l1_loss, mse_loss};

use gradus_tensor::{Result, Tensor};

/// How per-element losses are combined.
///
/// ```
/// use gradus_nn::loss::{mse_loss, Reduction};
/// use gradus_tensor::Tensor;
/// let a = Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap();
/// let b = Tensor::from_vec(vec![0.0f64, 0.0], &[2]).unwrap();
/// assert_eq!(mse_loss(&a, &b, Reduction::Sum).unwrap().item().unwrap(), 5.0);
/// assert_eq!(mse_loss(&a, &b, Reduction::None).unwrap().shape(), &[2]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// The per-element losses.
    None,
    /// Their mean (PyTorch's default).
    #[default]
    Mean,
    /// Their sum.
    Sum,
    /// The sum divided by the batch size (`input.shape[0]`; KL divergence's proper mean).
    BatchMean,
}

/// Applies a reduction to per-element losses.
///
/// An empty batch gives NaN for `Mean` and `BatchMean` (0 / 0, as PyTorch) and 0 for `Sum`.
///
/// # Errors
/// On a tensor error.
///
/// ```
/// use gradus_nn::loss::{reduce, Reduction};
/// use gradus_tensor::Tensor;
/// let l = Tensor::from_vec(vec![1.0f64, 3.0, 2.0, 2.0], &[2, 2]).unwrap();
/// assert_eq!(reduce(&l, Reduction::Mean).unwrap().item().unwrap(), 2.0);
/// assert_eq!(reduce(&l, Reduction::BatchMean).unwrap().item().unwrap(), 4.0);
/// ```
pub fn reduce(losses: &Tensor, reduction: Reduction) -> Result<Tensor> {
    match reduction {
        Reduction::None => Ok(losses.clone()),
        Reduction::Mean => losses.mean_all(),
        Reduction::Sum => losses.sum_all(),
        Reduction::BatchMean => {
            // sum / batch size, as torch: an empty batch gives 0 / 0 = NaN (as `Mean` does)
            let n = losses.shape().first().copied().unwrap_or(1);
            losses.sum_all()?.mul_scalar(1.0 / n as f64)
        }
    }
}
