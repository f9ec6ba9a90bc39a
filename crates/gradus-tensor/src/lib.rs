//! # gradus-tensor: tensors and reverse-mode autodiff
//!
//! A guided tour, bottom to top:
//! - [`Tensor`] (in `tensor.rs`): a reference-counted view (shape, strides, offset; see
//!   [`layout`]) of a [`Storage`] buffer of `f32` or `f64` ([`DType`]), plus its node in the
//!   autodiff graph.
//! - [`ops`]: differentiable operations, one family per file, each backward rule beside its
//!   forward. Ops return [`Result`]: a shape mismatch is an error naming the op and the shapes.
//! - [`autodiff`]: the tape. [`Tensor::backward`] fills `.grad()` of leaves created with
//!   [`Tensor::requires_grad_`]; [`autodiff::grad`] with `create_graph` gives higher derivatives,
//!   [`autodiff::hvp`] and [`autodiff::hessian`] build on it; [`autodiff::no_grad`] turns
//!   recording off.
//! - [`gradcheck()`]: finite-difference checks users can run on their own functions.
//! - [`precision`]: bf16 and f16 for mixed precision (conversions, the autocast rounding
//!   [`Tensor::round_to`], 16-bit storage and matmul with f32 accumulation).
//! - [`memory`]: bytes of tensor storage alive now and at the peak (what
//!   [`autodiff::checkpoint`] saves).
//! - `backend/`: the seam between ops and devices. An op makes one call on its input's
//!   [`Storage`] (opaque: elements, dtype, [`Device`]); `backend/cpu/` holds the CPU kernels
//!   (elementwise, reductions, im2col, gate math, GEMM, LU solve and QR via the `faer` crate) and
//!   [`simd`], which compiles hot loops for the widest vector instructions the CPU has.
//! - [`Param`]: the one handle to a trainable tensor, shared by modules and optimizers, so that
//!   freezing, casting or moving a parameter ([`Param::to`], [`Tensor::to_device`]) reaches all.
//!
//! ```
//! use gradus_tensor::{autodiff, DType, Rng, Tensor};
//! # fn main() -> gradus_tensor::Result<()> {
//! let mut rng = Rng::seed(0);
//! let x = rng.normal(&[4, 3], 0.0, 1.0, DType::F64);
//! let w = rng.normal(&[3, 2], 0.0, 0.1, DType::F64).requires_grad_(true);
//! let loss = x.matmul(&w)?.relu()?.mean_all()?;
//! loss.backward()?;
//! assert_eq!(w.grad().unwrap().shape(), &[3, 2]);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod autodiff;
mod backend;
pub mod capture;
mod device;
mod dtype;
mod error;
pub mod fused;
mod gradcheck;
mod interop;
pub mod layout;
pub mod memory;
pub mod ops;
mod param;
pub mod precision;
mod random;
mod tensor;
pub mod threads;

pub use backend::cpu::kernels::conv_direct::DirectConv2d;
pub use backend::cpu::kernels::gemm::gemm_f32;
pub use backend::cpu::kernels::gemm_bf16;
pub use backend::cpu::kernels::gemm_i8;
pub use backend::cpu::kernels::packed_gemm;
pub use backend::cpu::simd;
pub use backend::Storage;
pub use device::Device;
pub use dtype::{DType, Element};
pub use error::{Result, TensorError};
pub use gradcheck::{gradcheck, gradgradcheck, GradcheckOptions};
pub use param::Param;
pub use random::Rng;
pub use tensor::{Tensor, TensorId};
