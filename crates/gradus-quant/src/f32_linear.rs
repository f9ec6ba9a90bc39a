//! An f32 `Linear` for tape-free inference: `y = x · Wᵀ + b` with gradus-tensor's f32 GEMM
//! ([`gradus_tensor::gemm_f32`], the one behind `Tensor::matmul`) on plain slices.

use crate::error::{QuantError, Result};
use gradus_tensor::gemm_f32;

/// `x` `[rows, in_features]` → `y` `[rows, out_features]`, weights kept in f32 (PyTorch's
/// `nn.Linear` in `inference_mode`).
///
/// ```
/// use gradus_quant::f32_linear::F32Linear;
/// let l = F32Linear::new(vec![1.0, 0.0, 0.0, 2.0], Some(vec![0.5, 0.0]), 2, 2).unwrap();
/// let mut y = Vec::new();
/// l.forward(&[3.0, 4.0], 1, &mut y).unwrap();
/// assert_eq!(y, vec![3.5, 8.0]);
/// ```
#[derive(Clone, Debug)]
pub struct F32Linear {
    /// `[out_features, in_features]` (PyTorch layout).
    pub weight: Vec<f32>,
    /// `[out_features]`.
    pub bias: Vec<f32>,
    /// Input width.
    pub in_features: usize,
    /// Output width.
    pub out_features: usize,
}

impl F32Linear {
    /// A layer from its `weight` `[out, inp]` and `bias` `[out]` (zeros if none).
    ///
    /// # Errors
    /// [`QuantError::Shape`] when the lengths do not match `[out, inp]`.
    pub fn new(
        weight: Vec<f32>,
        bias: Option<Vec<f32>>,
        out: usize,
        inp: usize,
    ) -> Result<F32Linear> {
        let bias = bias.unwrap_or_else(|| vec![0.0; out]);
        if weight.len() != out * inp || bias.len() != out {
            return Err(QuantError::Shape(format!(
                "Linear [{out}, {inp}]: weight has {} values, bias {}",
                weight.len(),
                bias.len()
            )));
        }
        Ok(F32Linear {
            weight,
            bias,
            in_features: inp,
            out_features: out,
        })
    }

    /// Forward pass of `rows` rows of `x` into `y` (resized; no allocation once it has grown).
    ///
    /// # Errors
    /// [`QuantError::Shape`] when `x` is not `rows · in_features` long.
    pub fn forward(&self, x: &[f32], rows: usize, y: &mut Vec<f32>) -> Result<()> {
        let (k, n) = (self.in_features, self.out_features);
        if x.len() != rows * k {
            return Err(QuantError::Shape(format!(
                "Linear [{n}, {k}]: input of {} values is not {rows} rows of {k}",
                x.len()
            )));
        }
        y.resize(rows * n, 0.0);
        // the weight [n, k] read as Wᵀ [k, n]: row stride 1, column stride k
        gemm_f32((rows, n, k), x, (k, 1), &self.weight, (1, k), y);
        for yr in y.chunks_mut(n.max(1)) {
            yr.iter_mut().zip(&self.bias).for_each(|(v, b)| *v += b);
        }
        Ok(())
    }
}
