//! Ready models built from the layers: [`Mlp`], [`LeNet`], [`LstmClassifier`], [`LstmLm`],
//! [`Gpt`] and [`MatrixFactorization`].

pub mod gpt;
pub mod lenet;
pub mod lstm_classifier;
pub mod lstm_lm;
pub mod mf;
pub mod mlp;

pub use gpt::{Gpt, GptConfig};
pub use lenet::LeNet;
pub use lstm_classifier::LstmClassifier;
pub use lstm_lm::LstmLm;
pub use mf::MatrixFactorization;
pub use mlp::Mlp;
