//! [`Tensor::round_to`]: the autocast cast. Values rounded to a 16-bit format, kept in the
//! tensor's dtype, so that the f32 kernels that follow compute on 16-bit inputs with f32
//! accumulation, as `torch.autocast("cpu", dtype=torch.bfloat16)` runs a matmul.

use super::{convert, Half};
use crate::autodiff::{BackwardOp, Ctx};
use crate::{DType, Result, Tensor};

/// Backward of a cast to 16 bits: the gradient is cast too (in PyTorch the gradient of a
/// bf16 tensor is bf16), so dy/dx = 1 up to the rounding of the incoming gradient.
struct RoundOp(Half);
impl BackwardOp for RoundOp {
    fn name(&self) -> &'static str {
        "round_to"
    }
    fn backward(&self, _ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(g.round_to(self.0)?)])
    }
}

impl Tensor {
    /// The values rounded to the nearest `format` value (ties to even; infinities, NaNs and
    /// subnormals as [`convert`] says), in this tensor's dtype. Differentiable: the gradient is
    /// rounded the same way (straight through otherwise).
    ///
    /// # Errors
    /// None on the CPU; a device without host access would be one.
    ///
    /// ```
    /// use gradus_tensor::{precision::Half, Tensor};
    /// let x = Tensor::from_vec(vec![0.1f32, 70000.0], &[2]).unwrap();
    /// let r = x.round_to(Half::F16).unwrap().to_vec::<f32>().unwrap();
    /// assert_eq!(r, vec![0.099975586, f32::INFINITY]);
    /// ```
    pub fn round_to(&self, format: Half) -> Result<Tensor> {
        let rounded = match self.dtype() {
            DType::F64 => {
                let bits = convert::f64_to_bits(format, &self.to_vec::<f64>()?);
                let wide: Vec<f64> = convert::from_bits(format, &bits)
                    .into_iter()
                    .map(f64::from)
                    .collect();
                Tensor::from_vec_on(wide, self.shape(), self.device())?
            }
            _ => {
                let wide = self.to_dtype(DType::F32)?.to_vec::<f32>()?;
                let bits = convert::to_bits(format, &wide);
                Tensor::from_vec_on(
                    convert::from_bits(format, &bits),
                    self.shape(),
                    self.device(),
                )?
            }
        };
        // a 16-bit tensor keeps its dtype (rounding bf16 to f16 or back is a second rounding)
        let rounded = rounded.to_dtype(self.dtype())?;
        let storage = rounded.storage().clone();
        Ok(Tensor::from_op_storage(
            storage,
            self.shape(),
            RoundOp(format),
            &[self],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_values_and_gradients_and_keeps_the_dtype() {
        let x = Tensor::from_vec(vec![1.0f64 + 2f64.powi(-9), -3.0], &[2])
            .unwrap()
            .requires_grad_(true);
        let y = x.round_to(Half::BF16).unwrap();
        assert_eq!(y.dtype(), DType::F64);
        assert_eq!(y.to_vec::<f64>().unwrap(), vec![1.0, -3.0]);
        let w = Tensor::from_vec(vec![1.0f64 + 2f64.powi(-9), 2.0], &[2]).unwrap();
        y.mul(&w).unwrap().sum_all().unwrap().backward().unwrap();
        // d/dx of sum(round(x) * w) = round(w)
        assert_eq!(x.grad().unwrap().to_vec::<f64>().unwrap(), vec![1.0, 2.0]);
    }
}
