//! A learned optimizer ("learning to optimize"): a small MLP applied to every coordinate, from
//! gradient features to an update, meta-trained on a family of tasks.
//!
//! - [`features`]: the per-coordinate inputs (momenta at three rates over an RMS normalizer).
//! - [`LearnedOptimizerNet`] (`net.rs`): the MLP, its step `Δθ = -lr · d · exp(s)` and its
//!   safetensors file.
//! - [`LearnedOptimizer`] (`optimizer.rs`): the network as a [`GradientTransformation`](crate::GradientTransformation),
//!   with its state as tensors (checkpoints and resume as for Adam).
//! - [`tasks`]: the task family (random ill-conditioned quadratics, small MLPs on data subsets).
//! - [`meta_train`] (`meta_train.rs`): truncated backpropagation through unrolled optimization
//!   (Andrychowicz et al. 2016), and [`run_task`] to compare optimizers on a task.
//!
//! `cargo run --release -p gradus-optim --example learned_optimizer` meta-trains one and writes its
//! weights; the repository ships such a file as `examples/learned-optimizer.safetensors`.

pub mod features;
mod meta_train;
mod net;
mod optimizer;
pub mod tasks;

pub use meta_train::{mean_log_loss, meta_train, run_task, MetaTrainConfig};
pub use net::{LearnedOptimizerNet, LOG_STEP_BOUND, TENSOR_NAMES};
pub use optimizer::LearnedOptimizer;
