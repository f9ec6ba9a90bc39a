//! The error type of `gradus-generative`.

use gradus_optim::OptimError;
use gradus_tensor::TensorError;

/// What went wrong in a generative model or a metric.
///
/// ```
/// use gradus_generative::GenError;
/// let e = GenError::InvalidConfig { key: "steps", detail: "must be at least 1".into() };
/// assert_eq!(e.to_string(), "invalid config: `steps` must be at least 1");
/// ```
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// An optimizer failed.
    #[error(transparent)]
    Optim(#[from] OptimError),
    /// A configuration value out of its range.
    #[error("invalid config: `{key}` {detail}")]
    InvalidConfig {
        /// The field's name.
        key: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// Samples of the wrong shape for a metric.
    #[error("{metric}: {detail}")]
    BadSamples {
        /// The metric's name.
        metric: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// Images of the wrong shape for a grid, or points for a scatter plot.
    #[error("{what}: {detail}")]
    BadImages {
        /// What was being drawn (`image grid`, `scatter plot`).
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A report file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// `Result` with [`GenError`].
pub type Result<T> = std::result::Result<T, GenError>;
