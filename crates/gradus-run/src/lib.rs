//! # gradus-run
//!
//! A training run built from a TOML config, the same way for the `gradus` command, bindings and
//! Rust programs: [`Config`] reads and validates the config (every refused key named with its
//! allowed range; TOML errors with their line and column), [`RunBuilder`] turns it into a
//! [`Run`] (data read and shaped for the model, the model with seeded weights, the optimizer and
//! its learning-rate schedule sized to the steps the run takes, a ready
//! [`Trainer`](gradus_train::Trainer)), and [`Run::train`] trains it and writes the run
//! directory (`metrics.csv`, `model.safetensors`, checkpoint, `summary.json`, `report.html`).
//! [`load_model`] reads a trained model back for evaluation and prediction.
//!
//! ```
//! use gradus_run::{Config, RunBuilder};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // 32 points of y = 2x + 1
//! let dir = tempfile::tempdir()?;
//! let csv = dir.path().join("line.csv");
//! let rows: String = (0..32)
//!     .map(|i| format!("{},{}\n", i as f64 / 8.0, 2.0 * i as f64 / 8.0 + 1.0))
//!     .collect();
//! std::fs::write(&csv, format!("x,y\n{rows}"))?;
//! let config = Config::from_toml_str(&format!(
//!     r#"
//!     epochs = 20
//!     [data]
//!     format = "csv"
//!     path = {csv:?}
//!     target = "y"
//!     task = "regression"
//!     [model]
//!     kind = "linear"
//!     [optimizer]
//!     name = "sgd"
//!     lr = 0.1
//!     [batch]
//!     mode = "full"
//!     "#
//! ))?;
//! let mut run = RunBuilder::new(config)
//!     .out_dir(dir.path().join("run"))
//!     .quiet(true)
//!     .build()?;
//! let (before, _) = run.trainer.evaluate(&run.train)?;
//! let outcome = run.train()?;
//! assert_eq!(outcome.summary.steps, 20); // full batch: one step per epoch
//! let (after, _) = run.trainer.evaluate(&run.train)?;
//! assert!(after < 0.1 * before, "{before} -> {after}");
//! assert!(dir.path().join("run/model.safetensors").exists());
//! # Ok(()) }
//! ```
//!
//! Layout: `config.rs` and `config/` (the TOML structs, their validation rules one table per
//! file, the `--resume` allow-list), `setup.rs` (config to data, model spec, schedules and
//! optimizer), `builder.rs` ([`RunBuilder`]), `run.rs` ([`Run::train`]), `model_file.rs`
//! ([`load_model`]), `hparams.rs` (the config as TensorBoard hyperparameters), `onnx/` (ONNX export),
//! `report/` (`report.html`: charts, ticks, smoothing, the task view), `steps.rs` (`steps.csv`),
//! `error.rs` ([`RunError`]).
#![warn(missing_docs)]

pub mod arrays;
mod builder;
pub mod config;
mod error;
pub mod federated;
pub mod generate;
pub mod hparams;
pub mod init_from;
mod model_file;
pub mod onnx;
pub mod report;
mod run;
pub mod setup;
pub mod steps;

pub use builder::{RunBuilder, DEFAULT_OUT_DIR};
pub use config::{Config, ConfigError, Invalid};
pub use error::{Result, RunError};
pub use model_file::{load_model, SPEC_KEY};
pub use run::{Outcome, Run};
pub use setup::ModelSpec;
