//! Why quantizing, saving or loading a quantized model failed.

/// A quantization error; every message names the file, tensor or layer at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QuantError {
    /// A file could not be read, written or parsed (the path and why).
    #[error("{path}: {msg}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        msg: String,
    },
    /// A tensor is missing or has the wrong dtype or shape (its name and what was expected).
    #[error("tensor `{name}`: {msg}")]
    Tensor {
        /// The tensor's name in the model file.
        name: String,
        /// What was expected.
        msg: String,
    },
    /// The model kind or one of its layers cannot be quantized.
    #[error("cannot quantize: {0}")]
    Unsupported(String),
    /// An input of the wrong shape (the layer, what it takes and what it got).
    #[error("{0}")]
    Shape(String),
}

/// `Result` with a [`QuantError`].
pub type Result<T> = std::result::Result<T, QuantError>;

impl QuantError {
    pub(crate) fn tensor(name: &str, msg: impl Into<String>) -> QuantError {
        QuantError::Tensor {
            name: name.into(),
            msg: msg.into(),
        }
    }
}
