//! Buffers that hold tensor elements: the seam where other backends plug in.
//!
//! The CPU backend keeps one `Vec` per dtype. A CUDA backend adds device buffers as new variants;
//! ops dispatch on the variant, so layers and optimizers never see where a tensor lives.

use crate::DType;

/// A flat buffer of elements owned by one or more tensors (views share it).
///
/// ```
/// use gradus_tensor::{DType, Tensor};
/// let t = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap();
/// assert_eq!(t.dtype(), DType::F32);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Storage {
    /// f32 elements in host memory.
    F32(Vec<f32>),
    /// f64 elements in host memory.
    F64(Vec<f64>),
}

impl Storage {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Storage::F32(_) => DType::F32,
            Storage::F64(_) => DType::F64,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Storage::F32(v) => v.len(),
            Storage::F64(v) => v.len(),
        }
    }

    /// True when it holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
