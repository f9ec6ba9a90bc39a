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
    /// A collective did not complete in time: another rank died or hangs.
    #[error(
        "{op} did not complete within {seconds} s on rank {rank} of {size} ranks: another rank \
         died or hangs (distributed.timeout_s sets the wait)"
    )]
    Timeout {
        /// The collective (`"all_reduce"`, `"all_gather"`, `"broadcast"`, `"barrier"`).
        op: &'static str,
        /// The rank that gave up.
        rank: usize,
        /// Ranks in the job.
        size: usize,
        /// The timeout.
        seconds: f64,
    },
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] gradus_tensor::TensorError),
}

/// The result of this crate's operations.
pub type Result<T> = std::result::Result<T, DistError>;
