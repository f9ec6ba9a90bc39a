//! [`HalfTensor`]: a row-major buffer of 16-bit floats with a shape, for what is stored rather
//! than computed on (state dicts in BF16/F16, kept activations, matmul inputs).

use super::{convert, Half};
use crate::memory::MemoryToken;
use crate::{DType, Result, Tensor, TensorError};

/// 16-bit values (bit patterns of `format`) in row-major order, counted in [`crate::memory`]
/// at 2 bytes an element. Not differentiable: compute on [`Tensor`]s, convert at the edges.
///
/// ```
/// use gradus_tensor::precision::{Half, HalfTensor};
/// let h = HalfTensor::from_bits(Half::BF16, vec![0x3f80, 0x4000], &[2]).unwrap();
/// assert_eq!(h.to_f32(), vec![1.0, 2.0]);
/// assert_eq!(h.size_in_bytes(), 4);
/// ```
#[derive(Clone, Debug)]
pub struct HalfTensor {
    format: Half,
    shape: Vec<usize>,
    bits: Vec<u16>,
    #[allow(dead_code)] // held for its Drop: counts the buffer in `crate::memory`
    token: MemoryToken,
}

impl HalfTensor {
    /// A tensor from bit patterns of `format`.
    ///
    /// # Errors
    /// [`TensorError::InvalidShape`] when `bits.len()` is not the product of `shape`.
    pub fn from_bits(format: Half, bits: Vec<u16>, shape: &[usize]) -> Result<HalfTensor> {
        if bits.len() != shape.iter().product::<usize>() {
            return Err(TensorError::InvalidShape {
                op: "HalfTensor::from_bits",
                shape: shape.to_vec(),
                detail: format!("{} values given", bits.len()),
            });
        }
        let token = MemoryToken::new(bits.len() * 2);
        Ok(HalfTensor {
            format,
            shape: shape.to_vec(),
            bits,
            token,
        })
    }

    /// The format of the values.
    pub fn format(&self) -> Half {
        self.format
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The bit patterns, row-major (little-endian when written as bytes: safetensors' layout).
    pub fn bits(&self) -> &[u16] {
        &self.bits
    }

    /// Bytes the values take (2 per element).
    pub fn size_in_bytes(&self) -> usize {
        self.bits.len() * 2
    }

    /// The values widened to f32 (exact).
    pub fn to_f32(&self) -> Vec<f32> {
        convert::from_bits(self.format, &self.bits)
    }

    /// The values as a tensor of `dtype` (exact: every 16-bit value is an f32 and an f64).
    ///
    /// # Errors
    /// None for f32 and f64.
    pub fn to_tensor(&self, dtype: DType) -> Result<Tensor> {
        Tensor::from_vec(self.to_f32(), &self.shape)?.to_dtype(dtype)
    }
}

impl Tensor {
    /// The values rounded to `format` in 16-bit storage ([`HalfTensor`]); f64 values are
    /// rounded once, not through f32. Detached from the autodiff graph.
    ///
    /// # Errors
    /// None on the CPU.
    ///
    /// ```
    /// use gradus_tensor::{precision::Half, DType, Tensor};
    /// let x = Tensor::from_vec(vec![1.5f64, -0.25], &[1, 2]).unwrap();
    /// let h = x.to_half(Half::BF16).unwrap();
    /// assert_eq!((h.shape(), h.bits()), (&[1usize, 2][..], &[0x3fc0u16, 0xbe80][..]));
    /// ```
    pub fn to_half(&self, format: Half) -> Result<HalfTensor> {
        let bits = match self.dtype() {
            DType::F64 => convert::f64_to_bits(format, &self.to_vec::<f64>()?),
            DType::F32 => convert::to_bits(format, &self.to_vec::<f32>()?),
            _ => convert::to_bits(format, &self.to_dtype(DType::F32)?.to_vec::<f32>()?),
        };
        HalfTensor::from_bits(format, bits, self.shape())
    }
}
