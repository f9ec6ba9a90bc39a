//! # gradus-train: the training loop and what it writes
//!
//! - [`trainer`]: [`Trainer::fit`] runs epochs of batches (full, stochastic or mini-batch),
//!   validates, stops early, detects divergence, and writes the run directory; it ends with a
//!   [`StopReason`] ([`stop`]).
//! - [`step`]: one training step in stages: forward, backward, gradient hook ([`hook`]),
//!   divergence guard, optimizer step, recording; host reads at sync points ([`sync`]).
//! - [`batch`]: the data boundary, where host rows become tensors.
//! - [`task`]: the loss and metrics of classification, binary classification and regression.
//! - [`diagnostics`]: gradient norms per layer, update ratios, vanishing/exploding warnings.
//! - [`lr_finder`]: the learning-rate range test (Smith 2017, fastai's `lr_find`).
//! - [`divergence`]: the divergence check on a running mean of the loss.
//! - [`epoch`]: per-epoch sums (sample-weighted losses) and the position inside an epoch.
//! - [`early_stop`]: patience and minimum improvement.
//! - [`plan`]: how epochs are cut into batches, checked before the first step.
//! - [`checkpoint`]: atomic writes and resumable checkpoints.
//! - [`checkpoint_file`]: the checkpoint layout (optimizer buffers as tensors, a small header)
//!   and its streaming writer.
//! - [`observer`]: callbacks that see each step, epoch and the run's end ([`tensorboard`] logs
//!   them as TensorBoard event files).
//! - [`parallel`]: data parallelism over MPI ranks (or threads): sharded batches, gradients
//!   all-reduced before the optimizer step, rank 0 writing the run.
//! - [`metrics`], [`report`], [`model_file`], [`progress`]: `metrics.csv`, `report.html`, model
//!   files with metadata, and the progress bar; [`row_file`]: logs that grow by appending.
#![warn(missing_docs)]

pub mod batch;
pub mod checkpoint;
pub mod checkpoint_file;
pub mod diagnostics;
pub mod divergence;
pub mod early_stop;
pub mod epoch;
mod error;
pub mod hook;
pub mod lr_finder;
pub mod metrics;
pub mod model_file;
pub mod noise_scale;
pub mod observer;
pub mod parallel;
pub mod plan;
pub mod precision;
pub mod progress;
pub mod report;
pub mod row_file;
pub mod step;
pub mod stop;
pub mod sync;
pub mod task;
pub mod tensorboard;
pub mod timing;
pub mod trainer;

pub use error::{Result, TrainError};
pub use stop::StopReason;
pub use trainer::{Summary, TrainOptions, Trainer};
