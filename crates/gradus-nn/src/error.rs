//! The error type of `gradus-nn`: tensor errors plus state-dict and configuration errors.

use gradus_tensor::TensorError;

/// What went wrong in a module, a state dict or a layer configuration.
///
/// ```
/// use gradus_nn::NnError;
/// let e = NnError::MissingTensor("0.weight".into());
/// assert!(e.to_string().contains("0.weight"));
/// ```
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// The model has a parameter or buffer that the state dict lacks.
    #[error("state dict: missing tensor `{0}`")]
    MissingTensor(String),
    /// The state dict holds a tensor the model does not have.
    #[error("state dict: unexpected tensor `{0}`")]
    UnexpectedTensor(String),
    /// A tensor in the state dict has the wrong shape.
    #[error("state dict: tensor `{name}` has shape {found:?}, the model expects {expected:?}")]
    ShapeMismatch {
        /// The tensor's name.
        name: String,
        /// The shape in the model.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor in the file has a dtype other than F32, F64 or (for counters) I64.
    #[error("state dict: tensor `{name}` has unsupported dtype {dtype}")]
    UnsupportedDType {
        /// The tensor's name.
        name: String,
        /// The dtype as safetensors names it.
        dtype: String,
    },
    /// The safetensors file could not be read or written (the message says what and where).
    #[error("{0}")]
    Safetensors(String),
    /// A file could not be read.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// A layer or loss configuration is invalid.
    #[error("{layer}: {detail}")]
    InvalidConfig {
        /// The layer or loss.
        layer: &'static str,
        /// What is wrong.
        detail: String,
    },
}

impl From<safetensors::SafeTensorError> for NnError {
    fn from(e: safetensors::SafeTensorError) -> Self {
        NnError::Safetensors(format!("safetensors: {e}"))
    }
}

/// `Result` with [`NnError`].
pub type Result<T> = std::result::Result<T, NnError>;
