//! `Checkpoint`: gradient checkpointing of any module (`torch.utils.checkpoint`, and the
//! `checkpoint_wrapper` of PyTorch's FSDP), with its random state replayed.

use crate::module::Module;
use crate::param::{Buffer, Param};
use gradus_tensor::autodiff::checkpoint;
use gradus_tensor::{Result, Rng, Tensor};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Wraps a module so that its forward pass keeps only its output: the activations inside are
/// freed and recomputed in the backward pass ([`gradus_tensor::autodiff::checkpoint`]).
/// Gradients are the ones of the plain module, bit for bit: the random generators of the
/// module's dropout layers ([`Module::own_rng`]) are set back to their state before the forward
/// pass for the recomputation, then restored. Parameter, buffer and child names are the wrapped
/// module's own (no prefix), so state dicts are unchanged.
///
/// BatchNorm running statistics are updated once more by the recomputation, as in PyTorch.
///
/// ```
/// use gradus_nn::{layers::{Checkpoint, Dropout, Linear, Sequential}, Module};
/// use gradus_tensor::{DType, Rng, Tensor};
/// let net = |seed| Sequential::new()
///     .push(Linear::new(4, 8, true, &mut Rng::seed(seed)))
///     .push(Dropout::new(0.5, seed));
/// let (plain, wrapped) = (net(0), Checkpoint::new(net(0)));
/// let x = Tensor::ones(&[2, 4], DType::F32);
/// plain.forward(&x).unwrap().sum_all().unwrap().backward().unwrap();
/// wrapped.forward(&x).unwrap().sum_all().unwrap().backward().unwrap();
/// let grads = |m: &dyn Module| m.parameters().iter().map(|p| p.grad().unwrap().to_vec_f64()).collect::<Vec<_>>();
/// assert_eq!(grads(&plain), grads(&wrapped));
/// assert_eq!(wrapped.named_parameters()[0].0, "0.weight");
/// ```
pub struct Checkpoint<M> {
    module: Arc<M>,
}

impl<M: Module + 'static> Checkpoint<M> {
    /// Checkpoints `module`.
    ///
    /// ```
    /// use gradus_nn::{layers::{Checkpoint, Linear}, Module};
    /// use gradus_tensor::Rng;
    /// let c = Checkpoint::new(Linear::new(2, 3, true, &mut Rng::seed(0)));
    /// assert_eq!(c.num_parameters(), 9);
    /// ```
    pub fn new(module: M) -> Checkpoint<M> {
        Checkpoint {
            module: Arc::new(module),
        }
    }

    /// The wrapped module.
    ///
    /// ```
    /// use gradus_nn::layers::{Checkpoint, Linear};
    /// use gradus_tensor::Rng;
    /// let c = Checkpoint::new(Linear::new(2, 3, false, &mut Rng::seed(0)));
    /// assert!(c.module().bias.is_none());
    /// ```
    pub fn module(&self) -> &M {
        &self.module
    }
}

/// The random generators of `m` and its descendants, depth first.
fn rngs<'a>(m: &'a dyn Module, out: &mut Vec<&'a Mutex<Rng>>) {
    out.extend(m.own_rng());
    for (_, child) in m.children() {
        rngs(child, out);
    }
}

/// The states of the random generators of `m` and its descendants.
fn rng_states(m: &dyn Module) -> Vec<Rng> {
    let mut found = Vec::new();
    rngs(m, &mut found);
    found
        .iter()
        .map(|r| r.lock().unwrap_or_else(|e| e.into_inner()).clone())
        .collect()
}

/// Sets the random generators of `m` and its descendants to `states` (from [`rng_states`]).
fn set_rng_states(m: &dyn Module, states: &[Rng]) {
    let mut found = Vec::new();
    rngs(m, &mut found);
    for (r, s) in found.iter().zip(states) {
        *r.lock().unwrap_or_else(|e| e.into_inner()) = s.clone();
    }
}

impl<M: Module + 'static> Module for Checkpoint<M> {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let module = self.module.clone();
        let before = rng_states(&*module);
        let first = AtomicBool::new(true);
        let run = move |xs: &[Tensor]| {
            if first.swap(false, Ordering::Relaxed) {
                return module.forward(&xs[0]);
            }
            // a recomputation: draw the same random numbers as the first run, then carry on
            // from where the generators are now
            let now = rng_states(&*module);
            set_rng_states(&*module, &before);
            let out = module.forward(&xs[0]);
            set_rng_states(&*module, &now);
            out
        };
        checkpoint(run, &[x])
    }

    fn own_params(&self) -> Vec<(String, Param)> {
        self.module.own_params()
    }

    fn own_buffers(&self) -> Vec<(String, Buffer)> {
        self.module.own_buffers()
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.module.children()
    }

    fn set_own_training(&self, on: bool) {
        self.module.set_own_training(on);
    }

    fn own_rng(&self) -> Option<&Mutex<Rng>> {
        self.module.own_rng()
    }
}
