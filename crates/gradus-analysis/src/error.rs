//! [`AnalysisError`]: what can go wrong while measuring curvature.

use gradus_tensor::TensorError;

/// An analysis failed: a tensor op, an eigensolver, or arguments that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// A tensor op failed (shapes, dtypes, a loss that cannot be differentiated).
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// The data could not be cut into batches or moved to the model.
    #[error("data: {0}")]
    Data(String),
    /// An argument cannot be used (the message names it and the allowed range).
    #[error("{0}")]
    Invalid(String),
    /// The dense eigensolver of a small symmetric matrix failed to converge.
    #[error("eigensolver: {0}")]
    Eigen(String),
}

/// The result type of this crate.
pub type Result<T, E = AnalysisError> = std::result::Result<T, E>;
