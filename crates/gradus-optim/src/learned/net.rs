//! The learned optimizer's network: a per-coordinate MLP from the [`features`](super::features)
//! to a direction and a log step size (Metz et al. 2020, "Tasks, stability, architecture, and
//! compute in training learned optimizers", §3.1), and its safetensors file.
//!
//! For feature rows `x` (n, 4):
//! ```text
//! h1 = relu(x  w1 + b1)          w1 (4, H), b1 (H)
//! h2 = relu(h1 w2 + b2)          w2 (H, H), b2 (H)
//! o  = h2 w3 + b3                w3 (H, 2), b3 (2)
//! d  = x[:, 2] + tanh(o[:, 0])   direction: the Adam direction m̂_0.9 / (sqrt(v̂) + eps) plus a bounded learned correction
//! s  = 3 tanh(o[:, 1] / 3)       log step multiplier, so exp(s) is in [e^-3, e^3]
//! Δθ = -lr · d · exp(s)
//! ```
//! The bounds keep meta-training stable: without them an unroll that meta-training rewards
//! for large steps learns multipliers that make later steps diverge (seen here with unbounded
//! outputs: the meta-loss grew after about 100 meta-steps). With `w3 = b3 = 0` the step is exactly Adam's (betas 0.9, 0.999) at rate `lr`; a fresh
//! network ([`LearnedOptimizerNet::new`]) starts near that, so an untrained learned optimizer
//! is a tame Adam step and meta-training learns a correction to it (the "nominal term" of
//! Harrison et al. 2022, "A closer look at learned optimization").

use super::features::{ADAM_FEATURE, NUM_FEATURES};
use crate::{OptimError, Result};
use gradus_tensor::{DType, Rng, Tensor};
use std::collections::HashMap;
use std::path::Path;

/// The bound of the log step multiplier `s`: the step is at most `e^3 ≈ 20` times `lr · |d|`.
pub const LOG_STEP_BOUND: f64 = 3.0;

/// The tensor names in the weights file, in order.
pub const TENSOR_NAMES: [&str; 6] = ["w1", "b1", "w2", "b2", "w3", "b3"];

/// The weights of the per-coordinate MLP (see the module docs for the shapes and the step).
///
/// ```
/// use gradus_optim::LearnedOptimizerNet;
/// use gradus_tensor::Tensor;
/// let net = LearnedOptimizerNet::new(8, 0);
/// let x = Tensor::from_vec(vec![1.0f32, 1.0, 1.0, 1.0], &[1, 4]).unwrap();
/// let step = net.step(&x, 0.1).unwrap(); // about -0.1: Adam's first step
/// assert!((step.item().unwrap() + 0.1).abs() < 0.01);
/// ```
#[derive(Clone, Debug)]
pub struct LearnedOptimizerNet {
    /// The weights in [`TENSOR_NAMES`] order: `w1 (4, H), b1 (H), w2 (H, H), b2 (H), w3 (H, 2), b3 (2)`.
    pub weights: [Tensor; 6],
}

impl LearnedOptimizerNet {
    /// A fresh f32 network of `hidden` units per layer: He-normal `w1`, `w2`, zero biases, and a
    /// small `w3` (std 1e-3) so the first steps are close to Adam's.
    pub fn new(hidden: usize, seed: u64) -> LearnedOptimizerNet {
        let mut rng = Rng::seed(seed);
        let f = DType::F32;
        let he = |fan_in: usize| (2.0 / fan_in as f64).sqrt();
        LearnedOptimizerNet {
            weights: [
                rng.normal(&[NUM_FEATURES, hidden], 0.0, he(NUM_FEATURES), f),
                Tensor::zeros(&[hidden], f),
                rng.normal(&[hidden, hidden], 0.0, he(hidden), f),
                Tensor::zeros(&[hidden], f),
                rng.normal(&[hidden, 2], 0.0, 1e-3, f),
                Tensor::zeros(&[2], f),
            ],
        }
    }

    /// Units per hidden layer.
    pub fn hidden(&self) -> usize {
        self.weights[1].numel()
    }

    /// The same network in `dtype` (a copy; meta-training runs in f64, files hold f32).
    ///
    /// # Errors
    /// When a cast fails.
    pub fn to_dtype(&self, dtype: DType) -> Result<LearnedOptimizerNet> {
        let cast = |t: &Tensor| t.detach().to_dtype(dtype).map(|t| t.detach());
        let w = &self.weights;
        Ok(LearnedOptimizerNet {
            weights: [
                cast(&w[0])?,
                cast(&w[1])?,
                cast(&w[2])?,
                cast(&w[3])?,
                cast(&w[4])?,
                cast(&w[5])?,
            ],
        })
    }

    /// The direction `d` and log step multiplier `s`, each `(n)`, for feature rows `x (n, 4)`.
    /// Differentiable in the weights (meta-training backpropagates through it).
    ///
    /// # Errors
    /// When `x` is not `(n, 4)` or its dtype differs from the weights'.
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let [w1, b1, w2, b2, w3, b3] = &self.weights;
        let n = x.shape().first().copied().unwrap_or(0);
        let h1 = x.matmul(w1)?.add(b1)?.relu()?;
        let h2 = h1.matmul(w2)?.add(b2)?.relu()?;
        let o = h2.matmul(w3)?.add(b3)?;
        let adam = x.narrow(1, ADAM_FEATURE, 1)?;
        let d = adam.add(&o.narrow(1, 0, 1)?.tanh()?)?.reshape(&[n])?;
        let s = o
            .narrow(1, 1, 1)?
            .mul_scalar(1.0 / LOG_STEP_BOUND)?
            .tanh()?
            .mul_scalar(LOG_STEP_BOUND)?
            .reshape(&[n])?;
        Ok((d, s))
    }

    /// The update `Δθ = -lr · d · exp(s)`, `(n)`, for feature rows `x (n, 4)`.
    ///
    /// # Errors
    /// As [`LearnedOptimizerNet::forward`].
    pub fn step(&self, x: &Tensor, lr: f64) -> Result<Tensor> {
        let (d, s) = self.forward(x)?;
        Ok(d.mul(&s.exp()?)?.mul_scalar(-lr)?)
    }

    /// Writes the weights as f32 tensors named [`TENSOR_NAMES`] to a safetensors file, with
    /// `metadata` (e.g. the learning rate it was meta-trained at) in its header.
    ///
    /// # Errors
    /// [`OptimError::Weights`] naming the file when it cannot be written.
    pub fn save(&self, path: &Path, metadata: &HashMap<String, String>) -> Result<()> {
        let fail = |detail: String| OptimError::Weights {
            path: path.display().to_string(),
            detail,
        };
        let mut bytes = Vec::with_capacity(TENSOR_NAMES.len());
        for w in &self.weights {
            let values = w.detach().to_dtype(DType::F32)?.to_vec::<f32>()?;
            bytes.push(
                values
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect::<Vec<u8>>(),
            );
        }
        let mut views = Vec::with_capacity(TENSOR_NAMES.len());
        for ((name, w), b) in TENSOR_NAMES.iter().zip(&self.weights).zip(&bytes) {
            let view = safetensors::tensor::TensorView::new(
                safetensors::Dtype::F32,
                w.shape().to_vec(),
                b,
            )
            .map_err(|e| fail(format!("tensor `{name}`: {e}")))?;
            views.push((name.to_string(), view));
        }
        let data = safetensors::tensor::serialize(views, &Some(metadata.clone()))
            .map_err(|e| fail(e.to_string()))?;
        std::fs::write(path, data).map_err(|e| fail(e.to_string()))
    }

    /// Reads weights written by [`LearnedOptimizerNet::save`] (f32 or f64 tensors), and the
    /// file's metadata.
    ///
    /// # Errors
    /// [`OptimError::Weights`] naming the file, and the tensor at fault with the shape it has
    /// and the shape it should have, when the file is missing, not safetensors, lacks a tensor,
    /// or holds one of another shape or dtype.
    pub fn load(path: &Path) -> Result<(LearnedOptimizerNet, HashMap<String, String>)> {
        let fail = |detail: String| OptimError::Weights {
            path: path.display().to_string(),
            detail,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let file = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| fail(format!("not a safetensors file ({e})")))?;
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| fail(format!("not a safetensors file ({e})")))?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let read = |name: &str| -> Result<Tensor> {
            let view = file.tensor(name).map_err(|_| {
                fail(format!(
                    "has no tensor `{name}` (expected {})",
                    TENSOR_NAMES.join(", ")
                ))
            })?;
            let shape = view.shape().to_vec();
            let data = view.data();
            let t = match view.dtype() {
                safetensors::Dtype::F32 => Tensor::from_vec(
                    data.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect::<Vec<_>>(),
                    &shape,
                )?,
                safetensors::Dtype::F64 => Tensor::from_vec(
                    data.chunks_exact(8)
                        .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                        .collect::<Vec<_>>(),
                    &shape,
                )?
                .to_dtype(DType::F32)?,
                other => {
                    return Err(fail(format!(
                        "tensor `{name}` is {other:?}, expected F32 or F64"
                    )))
                }
            };
            Ok(t)
        };
        let weights = [
            read("w1")?,
            read("b1")?,
            read("w2")?,
            read("b2")?,
            read("w3")?,
            read("b3")?,
        ];
        let hidden = weights[1].numel();
        let expected: [Vec<usize>; 6] = [
            vec![NUM_FEATURES, hidden],
            vec![hidden],
            vec![hidden, hidden],
            vec![hidden],
            vec![hidden, 2],
            vec![2],
        ];
        for ((name, w), shape) in TENSOR_NAMES.iter().zip(&weights).zip(&expected) {
            if w.shape() != shape.as_slice() {
                return Err(fail(format!(
                    "tensor `{name}` has shape {:?}, expected {shape:?} ({NUM_FEATURES} features, {hidden} hidden units as `b1` says)",
                    w.shape()
                )));
            }
        }
        Ok((LearnedOptimizerNet { weights }, metadata))
    }
}
