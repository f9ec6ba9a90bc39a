//! The error type of `gradus-graph`.

use gradus_optim::OptimError;
use gradus_tensor::TensorError;

/// What went wrong building, reading or training on a graph.
///
/// ```
/// use gradus_graph::GraphError;
/// let e = GraphError::Parse { file: "edges.csv".into(), line: 3, detail: "expected `u,v`".into() };
/// assert_eq!(e.to_string(), "edges.csv:3: expected `u,v`");
/// ```
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// An optimizer failed.
    #[error(transparent)]
    Optim(#[from] OptimError),
    /// A file could not be read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A line of a file does not parse.
    #[error("{file}:{line}: {detail}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        detail: String,
    },
    /// A graph or configuration value out of its range.
    #[error("invalid graph: `{key}` {detail}")]
    Invalid {
        /// The field or argument.
        key: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}

/// `Result` with [`GraphError`].
pub type Result<T> = std::result::Result<T, GraphError>;
