//! 16-bit floating point for mixed precision: the formats ([`Half`]), their conversions to and
//! from f32 ([`convert`]), a differentiable rounding op for autocast ([`Tensor::round_to`]),
//! 16-bit storage ([`HalfTensor`]) and a matrix multiply of 16-bit inputs with f32
//! accumulation ([`HalfTensor::matmul`]).
//!
//! Tensors compute in f32 or f64 only ([`crate::DType`]): the f32 and f64 kernels are untouched.
//! Mixed precision as PyTorch's autocast does it on the CPU rounds the inputs and outputs of
//! matmul-like ops to 16 bits and keeps the products and sums in f32 (the op list is in
//! [`autocast`]), which [`Tensor::round_to`] expresses on f32 tensors; [`HalfTensor`] holds 16-bit values where memory matters (files, stored
//! activations).
//!
//! ```
//! use gradus_tensor::precision::Half;
//! use gradus_tensor::Tensor;
//! # fn main() -> gradus_tensor::Result<()> {
//! let x = Tensor::from_vec(vec![1.0f32 + 1.0 / 256.0, 3.0], &[2])?;
//! // bf16 keeps 8 significant bits: 1 + 2^-8 is a tie, rounded to the even 1.0
//! assert_eq!(x.round_to(Half::BF16)?.to_vec::<f32>()?, vec![1.0, 3.0]);
//! let h = x.to_half(Half::F16)?;
//! assert_eq!(h.to_tensor(gradus_tensor::DType::F32)?.to_vec::<f32>()?, vec![1.0 + 1.0 / 256.0, 3.0]);
//! # Ok(()) }
//! ```

pub mod autocast;
pub mod convert;
mod half_tensor;
mod matmul;
mod round;
pub mod stochastic;

pub use half::{bf16, f16};
pub use half_tensor::HalfTensor;

/// A 16-bit floating-point format.
///
/// ```
/// use gradus_tensor::precision::Half;
/// assert_eq!(Half::BF16.name(), "BF16");
/// assert_eq!(Half::F16.epsilon(), 2f64.powi(-10));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Half {
    /// bfloat16 (Google Brain): f32's 8 exponent bits, 7 mantissa bits; `torch.bfloat16`.
    BF16,
    /// IEEE 754 binary16: 5 exponent bits, 10 mantissa bits; `torch.float16`.
    F16,
}

impl Half {
    /// The safetensors dtype name (`"BF16"`, `"F16"`).
    pub fn name(self) -> &'static str {
        match self {
            Half::BF16 => "BF16",
            Half::F16 => "F16",
        }
    }

    /// The gap between 1 and the next representable number (`torch.finfo(dtype).eps`): the
    /// relative error of one rounding is at most half of it.
    pub fn epsilon(self) -> f64 {
        match self {
            Half::BF16 => 2f64.powi(-7),
            Half::F16 => 2f64.powi(-10),
        }
    }

    /// The f32 value nearest to `x` in this format (round to nearest, ties to even).
    ///
    /// ```
    /// use gradus_tensor::precision::Half;
    /// assert_eq!(Half::F16.round(65520.0), f32::INFINITY);
    /// ```
    pub fn round(self, x: f32) -> f32 {
        match self {
            Half::BF16 => convert::bf16_bits_to_f32(convert::f32_to_bf16_bits(x)),
            Half::F16 => convert::f16_bits_to_f32(convert::f32_to_f16_bits(x)),
        }
    }
}
