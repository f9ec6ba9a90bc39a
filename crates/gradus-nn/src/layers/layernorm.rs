//! `LayerNorm`: normalization over the trailing dimensions with an elementwise affine.

use crate::module::Module;
use crate::param::Param;
use gradus_tensor::{DType, Result, Tensor, TensorError};

/// Layer normalization over the last `normalized_shape.len()` axes (`torch.nn.LayerNorm`).
///
/// Its statistics are per sample, so a batch of one is fine; a normalized shape of one element
/// gives the bias (each value minus itself), without an error, as PyTorch.
///
/// ```
/// use gradus_nn::{layers::LayerNorm, Module};
/// use gradus_tensor::{DType, Rng};
/// let ln = LayerNorm::new(&[6]);
/// let y = ln.forward(&Rng::seed(0).normal(&[2, 6], 3.0, 2.0, DType::F32)).unwrap();
/// assert!(y.mean(&[-1], false).unwrap().to_vec_f64().iter().all(|m| m.abs() < 1e-5));
/// ```
#[derive(Debug, Clone)]
pub struct LayerNorm {
    /// The trailing shape normalized over.
    pub normalized_shape: Vec<usize>,
    /// Added to the variance.
    pub eps: f64,
    /// `normalized_shape`, ones
    pub weight: Param,
    /// `normalized_shape`, zeros
    pub bias: Param,
}

impl LayerNorm {
    /// A layer norm with eps 1e-5, weight ones and bias zeros.
    ///
    /// ```
    /// let ln = gradus_nn::layers::LayerNorm::new(&[2, 3]);
    /// assert_eq!(ln.weight.shape(), vec![2, 3]);
    /// ```
    pub fn new(normalized_shape: &[usize]) -> LayerNorm {
        LayerNorm {
            normalized_shape: normalized_shape.to_vec(),
            eps: 1e-5,
            weight: Param::new(Tensor::ones(normalized_shape, DType::F32)),
            bias: Param::new(Tensor::zeros(normalized_shape, DType::F32)),
        }
    }

    /// Sets `eps`.
    ///
    /// ```
    /// assert_eq!(gradus_nn::layers::LayerNorm::new(&[4]).with_eps(1e-6).eps, 1e-6);
    /// ```
    pub fn with_eps(mut self, eps: f64) -> LayerNorm {
        self.eps = eps;
        self
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let k = self.normalized_shape.len();
        if x.rank() < k || x.shape()[x.rank() - k..] != self.normalized_shape[..] {
            let detail = format!("trailing dimensions must be {:?}", self.normalized_shape);
            return Err(TensorError::InvalidShape {
                op: "LayerNorm",
                shape: x.shape().to_vec(),
                detail,
            });
        }
        // one fused pass per row, forward and backward (`Tensor::layer_norm`)
        x.layer_norm(&self.weight.tensor(), &self.bias.tensor(), self.eps)
    }

    fn own_params(&self) -> Vec<(String, Param)> {
        vec![
            ("weight".into(), self.weight.clone()),
            ("bias".into(), self.bias.clone()),
        ]
    }
}
