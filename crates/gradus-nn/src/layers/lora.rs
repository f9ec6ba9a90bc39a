//! LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models"): a frozen weight
//! `W [out, in]` plus a trainable low-rank change, `y = x W^T + b + (alpha / r) x A^T B^T`, with
//! `A [r, in]` Kaiming-uniform and `B [out, r]` zero, so that a new adapter changes nothing.
//!
//! Layers that can take an adapter hold a [`LoraSlot`] and list it in
//! [`Module::own_lora_targets`]: [`Linear`](super::Linear) (the layer itself) and
//! [`MultiheadAttention`](super::MultiheadAttention) (`in_proj`, its packed query/key/value
//! projection; `out_proj` is a `Linear`). [`add_lora`] attaches adapters to the targets a list
//! of names picks, as PEFT's `LoraConfig(r, lora_alpha, target_modules)` does, and freezes
//! everything else; [`merge_lora`] folds them into the weights (`W += (alpha / r) B A`) and
//! removes them, leaving a plain model. An adapter's parameters are named after its layer:
//! `blocks.0.linear1.lora_A.weight`, `blocks.0.self_attn.in_proj.lora_A.weight`.
//!
//! ```
//! use gradus_nn::layers::{lora, Activation};
//! use gradus_nn::{models::Mlp, Module};
//! use gradus_tensor::{DType, Rng, Tensor};
//! let mut rng = Rng::seed(0);
//! let mlp = Mlp::new(&[4, 8, 2], Activation::ReLU, &mut rng);
//! let x = Tensor::ones(&[3, 4], DType::F32);
//! let before = mlp.forward(&x).unwrap().to_vec_f64();
//! let config = lora::LoraConfig { rank: 2, alpha: 4.0, target_modules: vec!["0".into()] };
//! assert_eq!(lora::add_lora(&mlp, &config, &mut rng).unwrap(), 1);
//! assert_eq!(mlp.num_trainable_parameters(), 2 * 4 + 8 * 2); // A [2, 4] and B [8, 2]
//! assert_eq!(mlp.forward(&x).unwrap().to_vec_f64(), before); // B starts at zero
//! assert_eq!(lora::merge_lora(&mlp).unwrap(), 1);
//! assert_eq!(mlp.named_parameters().len(), 4); // a plain MLP again
//! ```

use crate::error::{NnError, Result};
use crate::init;
use crate::module::Module;
use crate::param::Param;
use gradus_tensor::{autodiff, Rng, Tensor};
use std::sync::{Arc, RwLock};

/// A low-rank adapter on a weight `W [out, in]`: `A [r, in]`, `B [out, r]` and the scale
/// `alpha / r`.
#[derive(Clone, Debug)]
pub struct LoraAdapter {
    /// `lora_A`, `[r, in]`, Kaiming-uniform (PyTorch's `Linear` default) at creation.
    pub lora_a: Param,
    /// `lora_B`, `[out, r]`, zero at creation.
    pub lora_b: Param,
    /// `alpha / r`.
    pub scaling: f64,
}

impl LoraAdapter {
    /// A rank-`rank` adapter for `weight [out, in]`, in its dtype, scaled by `alpha / rank`.
    ///
    /// ```
    /// use gradus_nn::layers::lora::LoraAdapter;
    /// use gradus_tensor::{DType, Rng, Tensor};
    /// let a = LoraAdapter::new(&Tensor::ones(&[3, 5], DType::F32), 2, 8.0, &mut Rng::seed(0));
    /// assert_eq!((a.lora_a.shape(), a.lora_b.shape(), a.scaling), (vec![2, 5], vec![3, 2], 4.0));
    /// ```
    pub fn new(weight: &Tensor, rank: usize, alpha: f64, rng: &mut Rng) -> LoraAdapter {
        let (out, inp) = (weight.shape()[0], weight.shape()[1]);
        LoraAdapter {
            lora_a: Param::new(init::default_weight(&[rank, inp], weight.dtype(), rng)),
            lora_b: Param::new(Tensor::zeros(&[out, rank], weight.dtype())),
            scaling: alpha / rank as f64,
        }
    }

    /// The adapter's change to the output for input `x [.., in]`: `(alpha / r) x A^T B^T`,
    /// `[.., out]`.
    ///
    /// # Errors
    /// When `x`'s last axis is not `in`.
    pub fn delta(&self, x: &Tensor) -> gradus_tensor::Result<Tensor> {
        // the scale goes on B [out, r], not on the [.., out] output: one full-size tensor less
        let low = super::linear::linear(x, &self.lora_a.tensor(), None)?;
        let b = self.lora_b.tensor().mul_scalar(self.scaling)?;
        super::linear::linear(&low, &b, None)
    }
}

/// Where a layer holds its adapter, if any. Clones share the slot, as [`Param`] handles share
/// their tensor.
#[derive(Clone, Debug, Default)]
pub struct LoraSlot(Arc<RwLock<Option<LoraAdapter>>>);

impl LoraSlot {
    /// The adapter, if one is attached.
    pub fn adapter(&self) -> Option<LoraAdapter> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, adapter: Option<LoraAdapter>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = adapter;
    }

    /// `y` plus the adapter's change for input `x` (`y` itself when no adapter is attached).
    ///
    /// # Errors
    /// When `x` does not fit the adapter.
    pub fn apply(&self, x: &Tensor, y: Tensor) -> gradus_tensor::Result<Tensor> {
        match self.adapter() {
            Some(a) => y.add(&a.delta(x)?),
            None => Ok(y),
        }
    }

    /// The adapter's parameters named under `prefix` (`""` for the layer itself):
    /// `lora_A.weight`, `lora_B.weight`; none without an adapter.
    pub fn named_params(&self, prefix: &str) -> Vec<(String, Param)> {
        let Some(a) = self.adapter() else {
            return Vec::new();
        };
        let dot = if prefix.is_empty() { "" } else { "." };
        vec![
            (format!("{prefix}{dot}lora_A.weight"), a.lora_a),
            (format!("{prefix}{dot}lora_B.weight"), a.lora_b),
        ]
    }
}

/// A weight that can take an adapter, and its slot (see [`Module::own_lora_targets`]).
pub struct LoraTarget<'a> {
    /// The adapted weight, `[out, in]`.
    pub weight: &'a Param,
    /// Where its adapter goes.
    pub slot: &'a LoraSlot,
}

/// Which layers get adapters, as PEFT's `LoraConfig`.
#[derive(Clone, Debug, PartialEq)]
pub struct LoraConfig {
    /// Rank `r` of the change (PEFT's `r`), at least 1.
    pub rank: usize,
    /// `alpha` (PEFT's `lora_alpha`): the change is scaled by `alpha / r`; positive.
    pub alpha: f64,
    /// Layer names: a target matches a layer whose dotted name equals it or ends with `.`
    /// and it (`linear1` matches every block's `linear1`, `blocks.0.linear1` one of them).
    pub target_modules: Vec<String>,
}

/// Every weight of `model` that can take an adapter, with its dotted layer name
/// (`blocks.0.linear1`, `blocks.0.self_attn.in_proj`), depth first.
pub fn named_lora_targets(model: &dyn Module) -> Vec<(String, LoraTarget<'_>)> {
    fn walk<'a>(m: &'a dyn Module, prefix: &str, out: &mut Vec<(String, LoraTarget<'a>)>) {
        let join = |name: &str| match (prefix.is_empty(), name.is_empty()) {
            (true, _) => name.to_string(),
            (false, true) => prefix.to_string(),
            (false, false) => format!("{prefix}.{name}"),
        };
        for (name, t) in m.own_lora_targets() {
            out.push((join(&name), t));
        }
        for (name, child) in m.children() {
            walk(child, &join(&name), out);
        }
    }
    let mut out = Vec::new();
    walk(model, "", &mut out);
    out
}

fn matches(name: &str, target: &str) -> bool {
    name == target || name.ends_with(&format!(".{target}"))
}

/// Freezes every parameter of `model` but its adapters and attaches a fresh adapter to each
/// layer that `config.target_modules` names; returns how many. Only the adapters (these and
/// any attached before) train afterwards.
///
/// # Errors
/// [`NnError::InvalidConfig`] naming the problem: a rank of 0 or an alpha that is not a
/// positive number, no targets, a target that names no adaptable layer (the message lists
/// them), a layer that already has an adapter, or a weight shared with another parameter
/// (tied weights: merging would change the other one too).
pub fn add_lora(model: &dyn Module, config: &LoraConfig, rng: &mut Rng) -> Result<usize> {
    let bad = |detail: String| NnError::InvalidConfig {
        layer: "lora",
        detail,
    };
    if config.rank == 0 {
        return Err(bad("rank must be at least 1".into()));
    }
    if !(config.alpha.is_finite() && config.alpha > 0.0) {
        return Err(bad(format!(
            "alpha must be a positive number, got {}",
            config.alpha
        )));
    }
    if config.target_modules.is_empty() {
        return Err(bad("target_modules is empty".into()));
    }
    let targets = named_lora_targets(model);
    for t in &config.target_modules {
        if !targets.iter().any(|(name, _)| matches(name, t)) {
            let names: Vec<&str> = targets.iter().map(|(n, _)| n.as_str()).collect();
            return Err(bad(format!(
                "target_modules: `{t}` names no layer that takes an adapter (these do: {})",
                names.join(", ")
            )));
        }
    }
    let params = model.named_parameters();
    let chosen: Vec<_> = targets
        .iter()
        .filter(|(name, _)| config.target_modules.iter().any(|t| matches(name, t)))
        .collect();
    for (name, t) in &chosen {
        if t.slot.adapter().is_some() {
            return Err(bad(format!("`{name}` already has an adapter")));
        }
        let shared: Vec<&str> = params
            .iter()
            .filter(|(_, p)| p.same_as(t.weight))
            .map(|(n, _)| n.as_str())
            .collect();
        if shared.len() > 1 {
            return Err(bad(format!(
                "`{name}`'s weight is shared by {} (tied weights); merging its adapter would change them all",
                shared.join(", ")
            )));
        }
    }
    // everything but the adapters (those attached before too) stops training
    let adapters: Vec<Param> = targets
        .iter()
        .flat_map(|(_, t)| t.slot.named_params(""))
        .map(|(_, p)| p)
        .collect();
    for (_, p) in &params {
        if !adapters.iter().any(|a| a.same_as(p)) {
            p.set_requires_grad(false);
        }
    }
    for (_, t) in &chosen {
        let adapter = LoraAdapter::new(&t.weight.tensor(), config.rank, config.alpha, rng);
        t.slot.set(Some(adapter));
    }
    Ok(chosen.len())
}

/// Folds every adapter of `model` into its weight (`W += (alpha / r) B A`) and removes it;
/// returns how many. The forward pass is then the plain layers', equal up to rounding.
///
/// # Errors
/// On a tensor error (not expected for adapters made by [`add_lora`]).
pub fn merge_lora(model: &dyn Module) -> Result<usize> {
    let mut merged = 0;
    for (_, t) in named_lora_targets(model) {
        let Some(a) = t.slot.adapter() else {
            continue;
        };
        autodiff::no_grad(|| -> gradus_tensor::Result<()> {
            let w = t.weight.tensor();
            let delta = a
                .lora_b
                .tensor()
                .matmul(&a.lora_a.tensor())?
                .mul_scalar(a.scaling)?;
            w.copy_from(&w.add(&delta)?)
        })?;
        t.slot.set(None);
        merged += 1;
    }
    Ok(merged)
}
