//! The [`Module`] trait: forward, named parameters and buffers with PyTorch names, training mode.
//!
//! Design: every method takes `&self`. A forward pass must mutate a little state (dropout's RNG,
//! BatchNorm's running statistics), and doing that through interior mutability (`Mutex`,
//! atomics, the shared slots of [`Param`]/[`Buffer`]) keeps `forward(&self)` usable from shared
//! references, keeps modules `Send + Sync`, and lets one visitor (`&dyn Module`) serve
//! parameters, buffers and the training flag alike.

use crate::layers::lora::LoraTarget;
use crate::param::{Buffer, Param};
use gradus_tensor::{DType, Device, Result, Rng, Tensor};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// A layer or model. Implementors provide `forward` and describe their own parameters, buffers
/// and children; names, counting, freezing, dtype casts and training mode come for free.
///
/// ```
/// use gradus_nn::{layers::Linear, Module};
/// use gradus_tensor::{DType, Rng, Tensor};
/// let lin = Linear::new(3, 2, true, &mut Rng::seed(0));
/// let names: Vec<String> = lin.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["weight", "bias"]);
/// assert_eq!(lin.num_parameters(), 8);
/// let y = lin.forward(&Tensor::ones(&[4, 3], DType::F32)).unwrap();
/// assert_eq!(y.shape(), &[4, 2]);
/// ```
pub trait Module: Send + Sync {
    /// Applies the module to `x`.
    ///
    /// # Errors
    /// When `x` has a shape the module cannot take.
    ///
    /// ```
    /// use gradus_nn::{layers::Linear, Module};
    /// use gradus_tensor::Rng;
    /// let lin = Linear::new(3, 2, true, &mut Rng::seed(0));
    /// use gradus_tensor::{DType, Tensor};
    /// assert!(lin.forward(&Tensor::ones(&[1, 3], DType::F32)).is_ok());
    /// assert!(lin.forward(&Tensor::ones(&[1, 4], DType::F32)).is_err());
    /// ```
    fn forward(&self, x: &Tensor) -> Result<Tensor>;

    /// `BCEWithLogits(self.forward(x), target)` averaged over the samples, in one fused pass,
    /// for a module that has one; `None` (the default) for the others, whose callers run
    /// `forward` and then the loss. Returns the loss (a scalar with its graph) and the output
    /// `[N, 1]` as a constant (no graph; for accuracy and such). [`Linear`](crate::layers::Linear)
    /// with one output and a bias has one, logistic regression's
    /// [`Tensor::linear_bce_with_logits_and_logits`], which reads `x` once for the loss, both
    /// gradients and the output (outside autocast, LoRA and layer capture, in f32 and f64).
    /// `x [N, in]`, `target [N]` in `[0, 1]`.
    ///
    /// # Errors
    /// As the fused op: shapes that do not fit.
    ///
    /// ```
    /// use gradus_nn::{layers::Linear, Module};
    /// use gradus_nn::loss::{bce_with_logits, Reduction};
    /// use gradus_tensor::{DType, Rng, Tensor};
    /// let lin = Linear::new(3, 1, true, &mut Rng::seed(0));
    /// let x = Tensor::randn(&[5, 3], DType::F32, 1);
    /// let y = Tensor::from_vec(vec![1.0f32, 0.0, 1.0, 1.0, 0.0], &[5]).unwrap();
    /// let (loss, out) = lin.fused_bce_with_logits(&x, &y).unwrap().unwrap();
    /// let composed_out = lin.forward(&x).unwrap();
    /// let composed = bce_with_logits(&composed_out, &y.reshape(&[5, 1]).unwrap(), Reduction::Mean).unwrap();
    /// assert!((loss.item().unwrap() - composed.item().unwrap()).abs() < 1e-6);
    /// assert_eq!(out.shape(), &[5, 1]);
    /// // a layer with two outputs has no fused loss
    /// assert!(Linear::new(3, 2, true, &mut Rng::seed(0)).fused_bce_with_logits(&x, &y).is_none());
    /// ```
    fn fused_bce_with_logits(
        &self,
        _x: &Tensor,
        _target: &Tensor,
    ) -> Option<Result<(Tensor, Tensor)>> {
        None
    }

    /// This module's own parameters (not its children's), with local names.
    ///
    /// ```
    /// use gradus_nn::{layers::{BatchNorm, Linear, Sequential}, Module};
    /// use gradus_tensor::Rng;
    /// let net = Sequential::new().push(Linear::new(3, 2, true, &mut Rng::seed(0))).push(BatchNorm::new_1d(2));
    /// assert!(net.own_params().is_empty());
    /// assert_eq!(net.named_parameters().len(), 4);
    /// ```
    fn own_params(&self) -> Vec<(String, Param)> {
        Vec::new()
    }

    /// This module's own weights that can take a LoRA adapter, with local names (`""`: the
    /// module itself, as for `Linear`); see [`crate::layers::lora`].
    ///
    /// ```
    /// use gradus_nn::{layers::{Linear, MultiheadAttention}, Module};
    /// use gradus_tensor::Rng;
    /// assert_eq!(Linear::new(3, 2, true, &mut Rng::seed(0)).own_lora_targets()[0].0, "");
    /// assert_eq!(MultiheadAttention::new(4, 2, true, &mut Rng::seed(0)).own_lora_targets()[0].0, "in_proj");
    /// ```
    fn own_lora_targets(&self) -> Vec<(String, LoraTarget<'_>)> {
        Vec::new()
    }

    /// This module's own buffers, with local names.
    ///
    /// ```
    /// use gradus_nn::{layers::BatchNorm, Module};
    /// assert_eq!(BatchNorm::new_1d(2).own_buffers().len(), 3);
    /// ```
    fn own_buffers(&self) -> Vec<(String, Buffer)> {
        Vec::new()
    }

    /// Direct children with their attribute names (`"0"`, `"encoder"`).
    ///
    /// ```
    /// use gradus_nn::{layers::{BatchNorm, Linear, Sequential}, Module};
    /// use gradus_tensor::Rng;
    /// let net = Sequential::new().push(Linear::new(3, 2, true, &mut Rng::seed(0))).push(BatchNorm::new_1d(2));
    /// let names: Vec<String> = net.children().into_iter().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["0", "1"]);
    /// ```
    fn children(&self) -> Vec<(String, &dyn Module)> {
        Vec::new()
    }

    /// Sets this module's own training flag (children are handled by [`Module::train`]).
    ///
    /// ```
    /// use gradus_nn::{layers::Dropout, Module};
    /// use gradus_tensor::{DType, Tensor};
    /// let d = Dropout::new(1.0, 0);
    /// d.set_own_training(false);
    /// assert_eq!(d.forward(&Tensor::ones(&[2], DType::F32)).unwrap().to_vec_f64(), vec![1.0, 1.0]);
    /// ```
    fn set_own_training(&self, _on: bool) {}

    /// The random number generator this module itself draws from in `forward` (dropout's masks),
    /// if any: [`Checkpoint`](crate::layers::Checkpoint) replays it when it recomputes a forward
    /// pass. A module drawing random numbers without exposing them here cannot be checkpointed
    /// exactly.
    ///
    /// ```
    /// use gradus_nn::{layers::{Dropout, Linear}, Module};
    /// use gradus_tensor::Rng;
    /// assert!(Dropout::new(0.5, 0).own_rng().is_some());
    /// assert!(Linear::new(2, 2, true, &mut Rng::seed(0)).own_rng().is_none());
    /// ```
    fn own_rng(&self) -> Option<&Mutex<Rng>> {
        None
    }

    /// All parameters with dotted PyTorch names (`encoder.layers.1.norm.bias`), depth first.
    ///
    /// ```
    /// use gradus_nn::{layers::{BatchNorm, Linear, Sequential}, Module};
    /// use gradus_tensor::Rng;
    /// let net = Sequential::new().push(Linear::new(3, 2, true, &mut Rng::seed(0))).push(BatchNorm::new_1d(2));
    /// assert_eq!(net.named_parameters()[3].0, "1.bias");
    /// ```
    fn named_parameters(&self) -> Vec<(String, Param)> {
        let mut out = self.own_params();
        for (name, child) in self.children() {
            out.extend(
                child
                    .named_parameters()
                    .into_iter()
                    .map(|(n, p)| (format!("{name}.{n}"), p)),
            );
        }
        out
    }

    /// All buffers with dotted names.
    ///
    /// ```
    /// use gradus_nn::{layers::{BatchNorm, Linear, Sequential}, Module};
    /// use gradus_tensor::Rng;
    /// let net = Sequential::new().push(Linear::new(3, 2, true, &mut Rng::seed(0))).push(BatchNorm::new_1d(2));
    /// assert_eq!(net.named_buffers()[0].0, "1.running_mean");
    /// ```
    fn named_buffers(&self) -> Vec<(String, Buffer)> {
        let mut out = self.own_buffers();
        for (name, child) in self.children() {
            out.extend(
                child
                    .named_buffers()
                    .into_iter()
                    .map(|(n, b)| (format!("{name}.{n}"), b)),
            );
        }
        out
    }

    /// The parameters without names, each shared parameter once (tied weights count once).
    ///
    /// ```
    /// use gradus_nn::{layers::Linear, Module};
    /// use gradus_tensor::Rng;
    /// let lin = Linear::new(3, 2, true, &mut Rng::seed(0));
    /// assert_eq!(lin.parameters().len(), 2);
    /// ```
    fn parameters(&self) -> Vec<Param> {
        let mut out: Vec<Param> = Vec::new();
        for (_, p) in self.named_parameters() {
            if !out.iter().any(|q| q.same_as(&p)) {
                out.push(p);
            }
        }
        out
    }

    /// Number of scalar parameters (tied weights counted once).
    ///
    /// ```
    /// use gradus_nn::{layers::Linear, Module};
    /// use gradus_tensor::Rng;
    /// let lin = Linear::new(3, 2, true, &mut Rng::seed(0));
    /// assert_eq!(lin.num_parameters(), 3 * 2 + 2);
    /// ```
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(Param::numel).sum()
    }

    /// Number of scalar parameters that require grad.
    ///
    /// ```
    /// use gradus_nn::{layers::Linear, Module};
    /// use gradus_tensor::Rng;
    /// let lin = Linear::new(3, 2, true, &mut Rng::seed(0));
    /// lin.bias.as_ref().unwrap().set_requires_grad(false);
    /// assert_eq!(lin.num_trainable_parameters(), 6);
    /// ```
    fn num_trainable_parameters(&self) -> usize {
        self.parameters()
            .iter()
            .filter(|p| p.requires_grad())
            .map(Param::numel)
            .sum()
    }

    /// Training (`true`, the default) or evaluation mode, for this module and all descendants.
    ///
    /// ```
    /// use gradus_nn::{layers::{BatchNorm, Linear, Sequential}, Module};
    /// use gradus_tensor::Rng;
    /// let net = Sequential::new().push(Linear::new(3, 2, true, &mut Rng::seed(0))).push(BatchNorm::new_1d(2));
    /// use gradus_tensor::{DType, Tensor};
    /// net.train(false);
    /// net.forward(&Tensor::ones(&[4, 3], DType::F32)).unwrap();
    /// assert_eq!(net.named_buffers()[2].1.tensor().item().unwrap(), 0.0); // no batch counted
    /// ```
    fn train(&self, on: bool) {
        self.set_own_training(on);
        for (_, child) in self.children() {
            child.train(on);
        }
    }

    /// Evaluation mode: `train(false)`.
    ///
    /// ```
    /// use gradus_nn::{layers::Dropout, Module};
    /// use gradus_tensor::{DType, Tensor};
    /// let d = Dropout::new(1.0, 0);
    /// d.eval();
    /// assert_eq!(d.forward(&Tensor::ones(&[2], DType::F32)).unwrap().to_vec_f64(), vec![1.0, 1.0]);
    /// ```
    fn eval(&self) {
        self.train(false);
    }

    /// Freezes every parameter (`requires_grad` false).
    ///
    /// ```
    /// use gradus_nn::{layers::Linear, Module};
    /// use gradus_tensor::Rng;
    /// let lin = Linear::new(3, 2, true, &mut Rng::seed(0));
    /// lin.freeze();
    /// assert_eq!(lin.num_trainable_parameters(), 0);
    /// ```
    fn freeze(&self) {
        self.parameters()
            .iter()
            .for_each(|p| p.set_requires_grad(false));
    }

    /// Unfreezes every parameter.
    ///
    /// ```
    /// use gradus_nn::{layers::Linear, Module};
    /// use gradus_tensor::Rng;
    /// let lin = Linear::new(3, 2, true, &mut Rng::seed(0));
    /// lin.freeze();
    /// lin.unfreeze();
    /// assert_eq!(lin.num_trainable_parameters(), 8);
    /// ```
    fn unfreeze(&self) {
        self.parameters()
            .iter()
            .for_each(|p| p.set_requires_grad(true));
    }

    /// Clears every parameter's gradient.
    ///
    /// ```
    /// use gradus_nn::{layers::Linear, Module};
    /// use gradus_tensor::Rng;
    /// let lin = Linear::new(3, 2, true, &mut Rng::seed(0));
    /// use gradus_tensor::{DType, Tensor};
    /// lin.forward(&Tensor::ones(&[1, 3], DType::F32)).unwrap().sum_all().unwrap().backward().unwrap();
    /// lin.zero_grad();
    /// assert!(lin.parameters().iter().all(|p| p.grad().is_none()));
    /// ```
    fn zero_grad(&self) {
        self.parameters().iter().for_each(Param::zero_grad);
    }

    /// Converts all parameters and buffers to `dtype` (e.g. F64 for gradient checks).
    ///
    /// # Errors
    /// Never for F32/F64.
    ///
    /// ```
    /// use gradus_nn::{layers::Linear, Module};
    /// use gradus_tensor::Rng;
    /// let lin = Linear::new(3, 2, true, &mut Rng::seed(0));
    /// use gradus_tensor::DType;
    /// lin.cast(DType::F64).unwrap();
    /// assert_eq!(lin.weight.tensor().dtype(), DType::F64);
    /// ```
    fn cast(&self, dtype: DType) -> Result<()> {
        for p in self.parameters() {
            p.cast(dtype)?;
        }
        for (_, b) in self.named_buffers() {
            b.cast(dtype)?;
        }
        Ok(())
    }

    /// Moves every parameter and buffer to `device` and converts it to `dtype`, in place through
    /// the shared handles (PyTorch's `module.to(device, dtype)`). An optimizer built before holds
    /// the same [`Param`] handles, so it keeps training the moved parameters (its state is
    /// converted to match at its next step).
    ///
    /// # Errors
    /// When a tensor cannot be moved or converted ([`Tensor::to_device`], [`Tensor::to_dtype`]).
    ///
    /// ```
    /// use gradus_nn::{layers::Linear, Module};
    /// use gradus_tensor::{DType, Device, Rng};
    /// let lin = Linear::new(3, 2, true, &mut Rng::seed(0));
    /// let held = lin.parameters(); // e.g. by an optimizer
    /// lin.to(Device::Cpu, DType::F64).unwrap();
    /// assert!(held.iter().all(|p| p.dtype() == DType::F64 && p.device() == Device::Cpu));
    /// ```
    fn to(&self, device: Device, dtype: DType) -> Result<()> {
        for p in self.parameters() {
            p.to(device, dtype)?;
        }
        for (_, b) in self.named_buffers() {
            b.to(device, dtype)?;
        }
        Ok(())
    }
}

/// A training flag for layers whose forward depends on the mode (true by default).
///
/// ```
/// use gradus_nn::module::TrainingFlag;
/// let f = TrainingFlag::default();
/// assert!(f.get());
/// f.set(false);
/// assert!(!f.get());
/// ```
#[derive(Debug)]
pub struct TrainingFlag(AtomicBool);

impl Default for TrainingFlag {
    fn default() -> Self {
        TrainingFlag(AtomicBool::new(true))
    }
}

impl TrainingFlag {
    /// Whether the layer is in training mode.
    ///
    /// ```
    /// assert!(gradus_nn::module::TrainingFlag::default().get());
    /// ```
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets the mode.
    ///
    /// ```
    /// let f = gradus_nn::module::TrainingFlag::default();
    /// f.set(false);
    /// assert!(!f.get());
    /// ```
    pub fn set(&self, on: bool) {
        self.0.store(on, Ordering::Relaxed)
    }
}
