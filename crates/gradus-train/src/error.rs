//! Errors of a training run.

use std::path::PathBuf;

/// What stopped a run. Every variant says what to look at; `Diverged` also says what to try.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A tensor operation failed (usually data that does not fit the model's shapes).
    #[error(transparent)]
    Tensor(#[from] gradus_tensor::TensorError),
    /// A model-level failure (state dict, layer configuration).
    #[error(transparent)]
    Nn(#[from] gradus_nn::NnError),
    /// An optimizer failure (bad hyperparameter, state mismatch).
    #[error(transparent)]
    Optim(#[from] gradus_optim::OptimError),
    /// A data failure (file, batching).
    #[error(transparent)]
    Data(#[from] gradus_data::DataError),
    /// Reading or writing a run file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A run that cannot train as set up: no batches or no epochs (the message gives the
    /// numbers), or one-sample batches for a model with batch norm.
    #[error("{0}")]
    Setup(String),
    /// A collective of data-parallel training failed (transport, ranks out of step).
    #[error("distributed training: {0}")]
    Distributed(#[from] gradus_dist::DistError),
    /// A checkpoint that cannot be used to resume.
    #[error("checkpoint {}: {detail}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// The loss became NaN/inf or grew far above its start.
    #[error("training diverged at epoch {epoch}, step {step}: {what}; the gradient of layer `{layer}` blew up first (norm {grad_norm:.3e}). Hint: lower the learning rate (now {lr:.3e}), add gradient clipping (clip_grad_norm = 1.0), or standardize the features.{checkpoint}")]
    Diverged {
        /// Epoch (1-based).
        epoch: usize,
        /// Optimizer step (1-based) at which it was detected.
        step: u64,
        /// "loss is NaN", "loss 1.2e9 is 1000x its start"...
        what: String,
        /// The layer whose gradient was non-finite first, or the largest.
        layer: String,
        /// That layer's gradient norm.
        grad_norm: f64,
        /// The learning rate in use.
        lr: f64,
        /// A sentence about the last good checkpoint kept, or empty.
        checkpoint: String,
    },
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TrainError {
        let path = path.into();
        move |source| TrainError::Io { path, source }
    }
}

/// `Result` with [`TrainError`].
pub type Result<T> = std::result::Result<T, TrainError>;
