//! # gradus-quant: post-training int8 quantization
//!
//! A guided tour:
//! - [`scheme`]: the numbers. Weights are int8, symmetric, one scale per output channel;
//!   activations are unsigned 7-bit with a zero point (PyTorch's x86 `reduce_range` scheme).
//! - [`linear::QLinear`]: dynamic quantization (as `torch.ao.quantization.quantize_dynamic`):
//!   each input row is quantized on the fly with its own range.
//! - [`conv2d::QConv2d`]: static quantization: the input quantizer is fixed by
//!   [`observer::MinMaxObserver`] over a few calibration batches.
//! - Both multiply with [`packed_gemm`] (i32 accumulation; AVX2 `vpmaddubsw` or VNNI `vpdpbusd`
//!   where the CPU has them, each tested bit for bit against the portable loops): weights packed
//!   once, when the layer is made, in the layout of a `4 x 16` register-tiled micro-kernel, with
//!   dequantization, bias and ReLU done on the tiles as they leave the registers (no i32 matrix,
//!   no separate ReLU pass). `QConv2d` quantizes each image once into zero-point-padded planes
//!   and feeds the kernel im2col rows copied from them.
//! - [`model::QuantizedModel`]: the layers in order, run on reused buffers with no autodiff tape
//!   ([`model::QuantizedModel::predict_into`]); it is also a `Module` ([`module`]).
//! - [`predictor::Predictor`]: the same program with the layers kept in f32
//!   ([`f32_linear::F32Linear`] on gradus-tensor's f32 GEMM, [`f32_conv2d::F32Conv2d`] on its
//!   direct convolution at stride 1): tape-free f32 inference, equal to the model's `forward`.
//! - [`observer::Observer`]: calibration by min/max or by percentile (clipping outliers).
//! - [`convert::quantize_model`]: from a trained `linear`/`logistic`/`softmax`/`mlp`/`cnn` model;
//!   [`file`]: the quantized safetensors file (about 4x smaller than the f32 one).
//!
//! ```
//! use gradus_quant::{convert::quantize_model, file};
//! use gradus_run::ModelSpec;
//! use gradus_tensor::Rng;
//! let spec: ModelSpec = serde_json::from_str(r#"{"data":{"format":"csv","path":"x"},
//!     "model":{"kind":"mlp","hidden":[8]},"task":"classification","outputs":3,
//!     "input_shape":[4],"dtype":"f32","features":[],"target":null,"vocab":null,
//!     "scaler":null,"users_items":null}"#).unwrap();
//! let f32_model = spec.build(&mut Rng::seed(0)).unwrap();
//! let (q, names) = quantize_model(f32_model.as_ref(), &spec).unwrap();
//! let mut y = Vec::new();
//! q.predict_into(&[0.1, 0.2, 0.3, 0.4], 1, &mut y).unwrap();
//! assert_eq!(y.len(), 3);
//! let bytes = file::to_bytes(&q, &names, &spec).unwrap();
//! let (back, _) = file::from_bytes(&bytes).unwrap();
//! assert_eq!(back.ops.len(), q.ops.len());
//! ```
#![warn(missing_docs)]

pub mod conv2d;
pub mod convert;
mod error;
pub mod f32_conv2d;
pub mod f32_linear;
pub mod file;
pub mod linear;
pub mod model;
pub mod module;
pub mod observer;
pub use gradus_tensor::packed_gemm;
pub mod predictor;
pub mod scheme;

pub use error::{QuantError, Result};
pub use model::QuantizedModel;
pub use predictor::Predictor;
