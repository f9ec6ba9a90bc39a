//! The error type of `gradus-embed`.

use gradus_optim::OptimError;
use gradus_tensor::TensorError;

/// What went wrong building a vocabulary or training embeddings.
///
/// ```
/// use gradus_embed::EmbedError;
/// let e = EmbedError::Invalid { key: "window", detail: "must be at least 1".into() };
/// assert_eq!(e.to_string(), "invalid config: `window` must be at least 1");
/// ```
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// An optimizer failed.
    #[error(transparent)]
    Optim(#[from] OptimError),
    /// A configuration value or argument out of its range.
    #[error("invalid config: `{key}` {detail}")]
    Invalid {
        /// The field or argument.
        key: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A word that is not in the vocabulary.
    #[error("`{0}` is not in the vocabulary")]
    UnknownWord(String),
}

/// `Result` with [`EmbedError`].
pub type Result<T> = std::result::Result<T, EmbedError>;
