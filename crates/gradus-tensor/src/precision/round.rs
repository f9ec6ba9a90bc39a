//! [`Tensor::round_to`]: the autocast cast. Values rounded to a 16-bit format, kept in the
//! tensor's dtype, so that the f32 kernels that follow compute on 16-bit inputs with f32
//! accumulation, as `torch.autocast("cpu", dtype=torch.bfloat16)` runs a matmul.

use super::{convert, Half};
use crate::autodiff::{BackwardOp, Ctx};
use crate::ops::unary::UnaryKernel;
use crate::{Element, Result, Tensor};

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
        // one parallel pass on the device; a 16-bit tensor is widened, rounded and narrowed back
        // to its own dtype (rounding bf16 to f16 or back is a second rounding)
        let storage = self.storage().unary(self.layout(), RoundTo(format))?;
        Ok(Tensor::from_op_storage(
            storage,
            self.shape(),
            RoundOp(format),
            &[self],
        ))
    }
}

/// The elementwise rounding: the value's nearest in `format` (ties to even), rounded once from
/// f64 as from f32 (`convert::f64_to_bf16_bits`, exact for f32 inputs).
#[derive(Clone, Copy)]
struct RoundTo(Half);

impl UnaryKernel for RoundTo {
    const NAME: &'static str = "round_to";
    #[inline(always)]
    fn f<T: Element>(&self, x: T) -> T {
        let v = x.to_f64();
        let w = match self.0 {
            Half::BF16 => convert::bf16_bits_to_f32(convert::f64_to_bf16_bits(v)),
            Half::F16 => convert::f16_bits_to_f32(convert::f64_to_f16_bits(v)),
        };
        T::from_f64(w as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DType;

    #[test]
    fn rounding_equals_the_scalar_conversions_on_every_kind_of_value() {
        // a sweep through the f32 bit patterns (both signs, subnormals, infinities, NaNs)
        let values: Vec<f32> = (0..200_003u32)
            .map(|i| f32::from_bits(i.wrapping_mul(21_473)))
            .chain([0.0, -0.0, f32::MIN_POSITIVE, 65520.0, 1.0 + 2f32.powi(-8)])
            .collect();
        let n = values.len();
        for format in [Half::BF16, Half::F16] {
            let t = Tensor::from_vec(values.clone(), &[n]).unwrap();
            let got = t.round_to(format).unwrap().to_vec::<f32>().unwrap();
            for (&v, g) in values.iter().zip(&got) {
                let want = format.round(v);
                assert!(
                    g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan()),
                    "{format:?} {v:e}: {g:e} against {want:e}"
                );
            }
            // a strided view rounds the elements it shows
            let m = Tensor::from_vec(values[..6].to_vec(), &[2, 3]).unwrap();
            let r = m
                .t()
                .unwrap()
                .round_to(format)
                .unwrap()
                .to_vec::<f32>()
                .unwrap();
            let want: Vec<f32> = [0, 3, 1, 4, 2, 5].map(|i| format.round(values[i])).into();
            assert_eq!(
                r.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
        }
        // f64 rounds once: just above a bf16 tie goes up
        let x = Tensor::from_vec(vec![1.0f64 + 2f64.powi(-8) + 2f64.powi(-30)], &[1]).unwrap();
        let r = x.round_to(Half::BF16).unwrap().to_vec::<f64>().unwrap();
        assert_eq!(r, vec![1.0 + 2f64.powi(-7)]);
    }

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
