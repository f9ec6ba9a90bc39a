//! # gradus-tune
//!
//! Hyperparameter search over gradus run configs: a `[search]` section names the config keys to
//! search and their ranges ([`SearchSpace`]), the objective (a `metrics.csv` column and a
//! [`Direction`]), the sampler and the pruner ([`SearchSpec`]); [`split_config`] separates it from
//! the run config. A [`Study`] draws trials (grid, random, TPE or GP-EI [`sampler`]s), stops bad ones
//! early (median or ASHA [`pruner`]s) and writes every event to a [`journal`] first, so a killed
//! search resumes where it stopped. [`runner`] runs the trials as parallel `gradus train`
//! processes; [`output`] writes `best.toml` and `trials.csv`, [`report`] the HTML report.
//!
//! ```
//! use gradus_tune::{split_config, Study};
//! let text = r#"
//! [search]
//! metric = "val_loss"
//! sampler = { name = "tpe", n_startup_trials = 5 }
//! [search.params]
//! "optimizer.lr" = { type = "log_uniform", low = 1e-4, high = 1.0 }
//! "#;
//! let mut study = Study::new(split_config(text, "example").unwrap().spec);
//! for _ in 0..30 {
//!     let n = study.ask().unwrap().unwrap();
//!     let lr = study.value_f64(n, "optimizer.lr").unwrap();
//!     study.complete(n, (lr.ln() - 0.01f64.ln()).powi(2)).unwrap(); // best at lr = 0.01
//! }
//! let best = study.value_f64(study.best().unwrap().number, "optimizer.lr").unwrap();
//! assert!((best.ln() - 0.01f64.ln()).abs() < 1.0, "{best}");
//! ```
//!
//! Layout: `spec.rs` (`[search]`), `space.rs` (distributions), `sampler/` (`grid.rs`,
//! `random.rs`, `tpe.rs` with `parzen.rs` and `normal.rs`, `gp.rs`), `pruner/` (`median.rs`, `asha.rs`),
//! `trial.rs`, `study.rs`, `journal.rs`, `trial_config.rs` (a trial's run config), `runner.rs`
//! (child processes), `output.rs` (`best.toml`, `trials.csv`, the table), `report.rs` and `importance.rs`
//! (`report.html`).
#![warn(missing_docs)]

mod error;
pub mod importance;
pub mod journal;
mod metrics_file;
pub mod output;
pub mod pruner;
pub mod report;
pub mod runner;
pub mod sampler;
pub mod space;
pub mod spec;
mod study;
pub mod trial;
pub mod trial_config;

pub use error::{Result, TuneError};
pub use space::{Distribution, Param, ParamValue, Params, SearchSpace};
pub use spec::{
    split_config, Direction, PrunerSpec, SamplerSpec, SearchSpec, SplitConfig, TpeOptions,
};
pub use study::Study;
pub use trial::{Trial, TrialState};
