//! # gradus-analysis
//!
//! The curvature of a model's training loss at its weights, matrix-free through gradus's double
//! backward: Hessian-vector products ([`Objective::hvp`]), the extreme eigenvalues by Lanczos
//! ([`lanczos`]; the smallest tells a saddle point, [`Saddle`]), the trace by Hutchinson's
//! estimator ([`hutchinson`]), the eigenvalue density by stochastic Lanczos quadrature
//! ([`slq`]), each parameter's top eigenvalue, and sharpness ([`sharpness`]: the top eigenvalue
//! against `2/lr`, Keskar et al.'s ε-sharpness). [`analyze`] runs them all into an
//! [`Analysis`] (`analysis.json` of `gradus analyze`). The measures follow PyHessian (Yao et al.
//! 2020) and Ghorbani et al. 2019.
//!
//! ```
//! use gradus_analysis::{analyze, AnalysisOptions, Objective};
//! use gradus_tensor::{Param, Tensor};
//! # fn main() -> Result<(), gradus_analysis::AnalysisError> {
//! // L(x) = x0² − x1² + 2 x2²: H = diag(2, −2, 4), a saddle at 0
//! let x = Param::new(Tensor::from_vec(vec![0.0f64; 3], &[3])?);
//! let (p, c) = (x.clone(), Tensor::from_vec(vec![1.0f64, -1.0, 2.0], &[3])?);
//! let f = Objective::new(vec![("x".into(), x)], vec![1.0], move |_| {
//!     Ok(p.tensor().mul(&p.tensor())?.mul(&c)?.sum_all()?)
//! })?;
//! let options = AnalysisOptions { top_k: 1, ..AnalysisOptions::default() };
//! let a = analyze(&f, &options)?;
//! assert!((a.top_eigenvalues[0].value - 4.0).abs() < 1e-9);
//! assert!(a.saddle.detected && (a.saddle.min_eigenvalue + 2.0).abs() < 1e-9);
//! # Ok(()) }
//! ```
//!
//! Layout: `objective.rs` (the loss as a function of the parameters), `hvp.rs`, `vector.rs`
//! (parameter-space vectors), `lanczos.rs`, `hutchinson.rs`, `slq.rs`, `sharpness.rs`,
//! `model_objective.rs` (a model on batches of a data set), `report.rs` ([`analyze`]),
//! `error.rs`.
#![warn(missing_docs)]

mod error;
pub mod hutchinson;
mod hvp;
pub mod lanczos;
pub mod landscape;
pub mod model_objective;
mod objective;
mod report;
pub mod sharpness;
pub mod slq;
pub mod vector;

pub use error::{AnalysisError, Result};
pub use objective::{BatchLoss, Objective};
pub use report::{analyze, Analysis, AnalysisOptions, LayerEigenvalue, Saddle, Sharpness};
