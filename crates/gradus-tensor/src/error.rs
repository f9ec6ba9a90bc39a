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
    /// A value of an index tensor that cannot index its axis: negative, not a whole number, or
    /// not below the axis size. Indices are whole numbers held in a float dtype (gradus has no
    /// integer dtype); `position` is where the value sits in the index tensor.
    #[error("{op}: index {value} at position {position:?} {}", index_problem(*.value, *.size))]
    InvalidIndex {
        /// The operation.
        op: &'static str,
        /// The offending value's position in the index tensor (one coordinate per axis).
        position: Vec<usize>,
        /// The offending value.
        value: f64,
        /// The size of the indexed axis (or the number of classes).
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

/// What is wrong with an index `value` for an axis of `size`.
fn index_problem(value: f64, size: usize) -> String {
    if value.is_nan() || (value.is_finite() && value.fract() != 0.0) {
        "is not a whole number".into()
    } else if value < 0.0 {
        "is negative".into()
    } else {
        format!("is out of range for an axis of size {size}")
    }
}

impl TensorError {
    /// An [`TensorError::InvalidIndex`] restated for the caller that built the index tensor: named
    /// `op`, its position taken from an index tensor of shape `passed` (what the failing op saw)
    /// to one of shape `shown` (what the caller's user gave, with as many elements). Any other
    /// error comes back unchanged.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let w = Tensor::zeros(&[3, 2], DType::F32);
    /// let ids = Tensor::from_vec(vec![0.0f32, 1.0, 2.0, 7.0], &[2, 2]).unwrap();
    /// let err = w.index_select(0, &ids.reshape(&[4]).unwrap()).unwrap_err();
    /// let err = err.for_indices("embedding", &[4], &[2, 2]);
    /// assert_eq!(
    ///     err.to_string(),
    ///     "embedding: index 7 at position [1, 1] is out of range for an axis of size 3"
    /// );
    /// ```
    pub fn for_indices(self, op: &'static str, passed: &[usize], shown: &[usize]) -> TensorError {
        match self {
            TensorError::InvalidIndex {
                position,
                value,
                size,
                ..
            } => {
                let mut flat = position
                    .iter()
                    .zip(passed)
                    .fold(0, |acc, (&i, &d)| acc * d + i);
                let mut position = vec![0; shown.len()];
                for (p, &d) in position.iter_mut().zip(shown).rev() {
                    *p = flat % d.max(1);
                    flat /= d.max(1);
                }
                TensorError::InvalidIndex {
                    op,
                    position,
                    value,
                    size,
                }
            }
            other => other,
        }
    }
}

/// `Result` with [`TensorError`].
pub type Result<T> = std::result::Result<T, TensorError>;
