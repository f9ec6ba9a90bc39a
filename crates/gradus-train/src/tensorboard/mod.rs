//! TensorBoard logging: event files that TensorBoard (and PyTorch's and TensorFlow's readers)
//! read, written without TensorFlow.
//!
//! - [`event_file`]: the record framing (length, masked CRC-32C, payload, masked CRC-32C).
//! - [`proto`]: the `Event`, `Summary`, `HistogramProto` and hparams-plugin messages (prost).
//! - [`histogram`]: values to a histogram's count, sums and buckets.
//! - [`writer`]: [`SummaryWriter`], PyTorch's `add_scalar` / `add_histogram` / `add_hparams`.
//! - [`observer`]: [`TensorBoardObserver`], a training observer logging losses, metrics, learning
//!   rate, gradient norms per layer, update ratios, weight and gradient histograms and the run's
//!   hyperparameters (`[train] tensorboard = true` in a run's config).

pub mod event_file;
pub mod histogram;
pub mod observer;
pub mod proto;
pub mod writer;

pub use observer::TensorBoardObserver;
pub use writer::{HParam, SessionStatus, SummaryWriter};
