//! The error type of tensor operations.

/// What went wrong in a tensor operation. Every variant names the operation and, where shapes are
/// at fault, the shapes involved.
///
/// ```
/// use gradus_tensor::{DType, Tensor};
/// let a = Tensor::zeros(&[2, 3], DType::F32);
/// let b = Tensor::zeros(&[4, 5], DType::F32);
/// let err = a.matmul(&b).unwrap_err();
/// assert!(err.to_string().contains("[2, 3]") && err.to_string().contains("[4, 5]"));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TensorError {
    /// Two shapes that must agree (after broadcasting) do not.
    #[error("{op}: incompatible shapes {lhs:?} and {rhs:?}{detail}")]
    ShapeMismatch {
        /// The operation.
        op: &'static str,
        /// The first shape.
        lhs: Vec<usize>,
        /// The second shape.
        rhs: Vec<usize>,
        /// Extra explanation, may be empty.
        detail: String,
    },
    /// A shape that is invalid for the operation on its own.
    #[error("{op}: invalid shape {shape:?}: {detail}")]
    InvalidShape {
        /// The operation.
        op: &'static str,
        /// The shape at fault.
        shape: Vec<usize>,
        /// What is wrong with it.
        detail: String,
    },
    /// Two tensors of different element types met in one operation.
    #[error("{op}: dtype mismatch ({lhs:?} and {rhs:?}); convert one with to_dtype")]
    DTypeMismatch {
        /// The operation.
        op: &'static str,
        /// The first dtype.
        lhs: crate::DType,
        /// The second dtype.
        rhs: crate::DType,
    },
    /// An axis outside `-rank..rank`.
    #[error("{op}: axis {axis} is out of range for a tensor of shape {shape:?}")]
    AxisOutOfRange {
        /// The operation.
        op: &'static str,
        /// The requested axis.
        axis: isize,
        /// The tensor's shape.
        shape: Vec<usize>,
    },
    /// An index outside the size of the axis it indexes.
    #[error("{op}: index {index} is out of range for an axis of size {size}")]
    IndexOutOfRange {
        /// The operation.
        op: &'static str,
        /// The offending index.
        index: usize,
        /// The size of the indexed axis.
        size: usize,
    },
    /// A bad argument that is not a shape (a negative probability, a zero stride...).
    #[error("{op}: {detail}")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A misuse of the autodiff engine (backward of a non-scalar without a seed, ...).
    #[error("autodiff: {0}")]
    Autodiff(String),
}

/// `Result` with [`TensorError`].
pub type Result<T> = std::result::Result<T, TensorError>;
