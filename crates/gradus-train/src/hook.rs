//! The gradient hook: the stage of a training step between backward and the divergence guard,
//! where every step's gradients can be read and changed before anything measures or applies them
//! (PyTorch DDP's gradient hooks, Lightning's `on_before_optimizer_step`).
//!
//! Without a hook the stage is the identity. All-reduce for data parallelism, unscaling for f16
//! mixed precision, or a gradient-noise-scale estimate plug in here: the guard, the gradient norms
//! in `metrics.csv` and the optimizer all see the gradients the hook leaves.

use crate::error::Result;
use gradus_nn::Param;
use std::fmt;
use std::sync::{Arc, Mutex};

/// Sees (and may change) the gradients of every step, after backward and before the guard and
/// the optimizer step.
///
/// `params` are the trainable parameters by name, in the model's order; each gradient is
/// `p.tensor().grad()` (absent for a parameter the loss does not reach), and a hook changes it
/// with `p.tensor().set_grad(..)`. `step` is the 1-based optimizer step being taken. An error
/// stops the run: [`Trainer::fit`](crate::Trainer::fit) returns it as it is.
///
/// Any `FnMut(&[(String, Param)], u64) -> Result<()> + Send` is a hook.
///
/// ```
/// use gradus_nn::Param;
/// use gradus_train::hook::GradientHook;
/// use gradus_tensor::Tensor;
///
/// /// Multiplies every gradient by a constant (as unscaling a loss-scaled f16 step does).
/// struct Scale(f64);
/// impl GradientHook for Scale {
///     fn on_gradients(&mut self, params: &[(String, Param)], _step: u64) -> gradus_train::Result<()> {
///         for (_, p) in params {
///             let t = p.tensor();
///             if let Some(g) = t.grad() {
///                 t.set_grad(Some(g.mul_scalar(self.0)?));
///             }
///         }
///         Ok(())
///     }
/// }
///
/// let p = Param::new(Tensor::from_vec(vec![1.0f64], &[1]).unwrap());
/// p.tensor().set_grad(Some(Tensor::from_vec(vec![4.0f64], &[1]).unwrap()));
/// Scale(0.5).on_gradients(&[("w".into(), p.clone())], 1).unwrap();
/// assert_eq!(p.tensor().grad().unwrap().to_vec::<f64>().unwrap(), vec![2.0]);
/// ```
pub trait GradientHook: Send {
    /// Called once per step with the step's gradients in place.
    ///
    /// # Errors
    /// Whatever the hook reports; the run stops with it.
    fn on_gradients(&mut self, params: &[(String, Param)], step: u64) -> Result<()>;
}

impl<F> GradientHook for F
where
    F: FnMut(&[(String, Param)], u64) -> Result<()> + Send,
{
    fn on_gradients(&mut self, params: &[(String, Param)], step: u64) -> Result<()> {
        self(params, step)
    }
}

/// A gradient hook as [`TrainOptions::gradient_hook`](crate::TrainOptions::gradient_hook) holds
/// it: a shared handle (cloning the options shares the hook), so the caller can keep a clone and
/// read what the hook gathered after the run.
///
/// ```
/// use gradus_train::hook::SharedGradientHook;
/// let seen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
/// let s = seen.clone();
/// let hook = SharedGradientHook::new(move |_: &[(String, gradus_nn::Param)], step: u64| {
///     s.store(step, std::sync::atomic::Ordering::SeqCst);
///     Ok(())
/// });
/// hook.on_gradients(&[], 7).unwrap();
/// assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 7);
/// ```
#[derive(Clone)]
pub struct SharedGradientHook(Arc<Mutex<dyn GradientHook>>);

impl SharedGradientHook {
    /// Wraps `hook`.
    pub fn new(hook: impl GradientHook + 'static) -> SharedGradientHook {
        SharedGradientHook(Arc::new(Mutex::new(hook)))
    }

    /// Runs the hook on one step's gradients.
    ///
    /// # Errors
    /// The hook's error.
    pub fn on_gradients(&self, params: &[(String, Param)], step: u64) -> Result<()> {
        // a hook that panicked before left no half-done state the trainer relies on
        let mut hook = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        hook.on_gradients(params, step)
    }
}

impl fmt::Debug for SharedGradientHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedGradientHook(..)")
    }
}
