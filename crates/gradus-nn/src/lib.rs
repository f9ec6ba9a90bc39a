//! # gradus-nn: layers, initializers, losses and PyTorch-compatible state dicts
//!
//! A guided tour:
//! - [`Module`] (in `module.rs`): `forward(&self, x)`, parameters and buffers named as PyTorch
//!   names them (`0.weight`, `blocks.1.norm1.bias`), counting, freezing, `train`/`eval`.
//! - [`Param`] (from `gradus-tensor`) and [`Buffer`]: shared slots holding leaf tensors; optimizers
//!   hold the same `Param` handles, so freezing, casting or moving a model ([`Module::to`])
//!   never orphans its optimizer.
//! - [`layers`]: one file per layer (Linear, Conv2d, BatchNorm, LSTM, MultiheadAttention, LoRA...).
//! - [`init`]: PyTorch's default initializers and the classic ones, seeded with `gradus_tensor::Rng`.
//! - [`loss`]: MSE, L1, Huber, BCE with logits, cross-entropy, NLL, KL divergence.
//! - [`models`]: MLP, LeNet, LSTM classifier, GPT, matrix factorization.
//! - [`state_dict`]: safetensors files that `safetensors.torch.load_file` +
//!   `model.load_state_dict` accept for the equivalent PyTorch model, and back;
//!   [`safetensors_check`] says what is wrong with a damaged one, and where.
//!
//! ```
//! use gradus_nn::{layers::Activation, loss, models::Mlp, state_dict, Module};
//! use gradus_tensor::{DType, Rng, Tensor};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mlp = Mlp::new(&[2, 8, 1], Activation::Tanh, &mut Rng::seed(0));
//! let x = Tensor::ones(&[4, 2], DType::F32);
//! let l = loss::mse_loss(&mlp.forward(&x)?, &Tensor::zeros(&[4, 1], DType::F32), loss::Reduction::Mean)?;
//! l.backward()?;
//! assert!(mlp.parameters().iter().all(|p| p.grad().is_some()));
//! let copy = Mlp::new(&[2, 8, 1], Activation::Tanh, &mut Rng::seed(1));
//! state_dict::from_bytes(&copy, &state_dict::to_bytes(&mlp)?)?;
//! assert_eq!(copy.forward(&x)?.to_vec_f64(), mlp.forward(&x)?.to_vec_f64());
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod error;
pub mod init;
pub mod layers;
pub mod loss;
pub mod models;
pub mod module;
mod param;
pub mod safetensors_check;
pub mod safetensors_reader;
pub mod state_dict;

pub use error::{NnError, Result};
pub use module::Module;
pub use param::{Buffer, Param};
