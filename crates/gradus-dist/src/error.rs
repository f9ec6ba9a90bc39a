//! The errors of distributed training.

/// What went wrong in a collective, a reducer or federated averaging.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DistError {
    /// Ranks passed buffers of different lengths to one collective.
    #[error("{op}: rank {rank} passed {got} values, rank 0 passed {expected}")]
    LengthMismatch {
        /// The collective.
        op: &'static str,
        /// The rank whose buffer differs.
        rank: usize,
        /// Its length.
        got: usize,
        /// Rank 0's length.
        expected: usize,
    },
    /// A setting out of its range (the message names it and its allowed values).
    #[error("{0}")]
    Invalid(String),
    /// The ranks' parameters differ after a step (a bug, or ranks built different models).
    #[error("rank {rank} holds different parameters from rank 0: {detail}")]
    OutOfSync {
        /// The rank.
        rank: usize,
        /// Which parameter, where.
        detail: String,
    },
    /// The transport failed (MPI, or a thread of a local group that panicked).
    #[error("{0}")]
    Transport(String),
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] gradus_tensor::TensorError),
}

/// The result of this crate's operations.
pub type Result<T> = std::result::Result<T, DistError>;
