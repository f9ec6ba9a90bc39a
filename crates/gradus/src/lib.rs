//! # gradus
//!
//! The crate users depend on: it re-exports the parts of gradus under short names and gathers
//! the everyday types in a [`prelude`].
//!
//! - [`tensor`]: tensors, ops and reverse-mode autodiff (`gradus-tensor`).
//! - [`nn`]: modules, layers, losses, models, safetensors state dicts (`gradus-nn`).
//! - [`optim`]: optimizers, schedules and gradient transforms (`gradus-optim`).
//! - [`data`]: readers, batching, splits and scaling (`gradus-data`).
//! - [`train`]: the trainer, diagnostics, checkpoints and reports (`gradus-train`).
//! - [`run`]: a whole run built from a TOML config, as the `gradus` command builds it
//!   (`gradus-run`).
//! - [`tune`]: hyperparameter search over run configs: search spaces, grid/random/TPE/GP
//!   samplers, median and ASHA pruners, a crash-safe journal (`gradus-tune`).
//! - [`analysis`]: the curvature of a training loss: Hessian spectrum, trace, eigenvalue
//!   density, sharpness (`gradus-analysis`).
//!
//! ```
//! use gradus::prelude::*;
//! # fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
//! let mut rng = Rng::seed(0);
//! let model = Mlp::new(&[2, 16, 1], Activation::Tanh, &mut rng);
//! let mut opt = Optimizer::with_params(Adam::new(0.01), &model.parameters())?;
//! let x = rng.normal(&[32, 2], 0.0, 1.0, DType::F32);
//! let y = x.narrow(1, 0, 1)?.mul(&x.narrow(1, 1, 1)?)?; // learn x0 * x1
//! let first = mse_loss(&model.forward(&x)?, &y, Reduction::Mean)?.item()?;
//! for _ in 0..200 {
//!     let loss = mse_loss(&model.forward(&x)?, &y, Reduction::Mean)?;
//!     loss.backward()?;
//!     opt.step()?;
//!     opt.zero_grad();
//! }
//! assert!(mse_loss(&model.forward(&x)?, &y, Reduction::Mean)?.item()? < 0.5 * first);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub use gradus_analysis as analysis;
pub use gradus_data as data;
pub use gradus_nn as nn;
pub use gradus_optim as optim;
pub use gradus_run as run;
pub use gradus_tensor as tensor;
pub use gradus_train as train;
pub use gradus_tune as tune;

/// The types most programs use.
pub mod prelude {
    pub use gradus_nn::layers::{Activation, Linear, Sequential};
    pub use gradus_nn::loss::{cross_entropy, mse_loss, CrossEntropyOptions, Reduction};
    pub use gradus_nn::models::Mlp;
    pub use gradus_nn::Module;
    pub use gradus_optim::{Adam, AdamW, Chain, GradientTransformation, Optimizer, Schedule, Sgd};
    pub use gradus_tensor::autodiff::no_grad;
    pub use gradus_tensor::{DType, Device, Param, Rng, Tensor};
}
