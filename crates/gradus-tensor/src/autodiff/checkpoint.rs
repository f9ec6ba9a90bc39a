//! Gradient checkpointing (activation recomputation, Chen et al. 2016, "Training Deep Nets with
//! Sublinear Memory Cost"; PyTorch's `torch.utils.checkpoint`, JAX's `jax.checkpoint`): a
//! function's intermediate tensors are freed after its forward pass and computed again in the
//! backward pass, trading one more forward for the memory of its activations.

use super::engine::vjp;
use super::mode::NoGradGuard;
use super::{is_grad_enabled, BackwardOp, Ctx};
use crate::{Result, Tensor, TensorError, TensorId};
use std::collections::HashSet;
use std::sync::Arc;

/// The function a checkpoint runs again in the backward pass.
type Recompute = Arc<dyn Fn(&[Tensor]) -> Result<Tensor> + Send + Sync>;

/// Runs `f(inputs)` keeping only its output: the tensors `f` makes on the way are freed when it
/// returns, and recomputed by running `f` again when the backward pass reaches the output.
/// Gradients are the same as without the checkpoint, bit for bit when `f` is deterministic (same
/// ops in the same order), and can be differentiated again (`create_graph`): the recomputation is
/// recorded then.
///
/// Tensors that `f` captures rather than takes as an input (a module's parameters) receive their
/// gradients too: the forward pass records which tensors made before the call `f`'s output
/// depends on, and the checkpoint's node takes them as its inputs. `f` must compute the same
/// thing when run again, from the same tensors: replay any random state it draws (dropout; the
/// `Checkpoint` module of gradus-nn does), and do not replace a parameter between the forward and
/// the backward pass.
///
/// Memory: the output, `inputs` and what `f` captures stay alive until the backward pass; the
/// intermediate tensors of one checkpointed call are alive only while it runs (forward) or is
/// recomputed (backward). Outside gradient recording ([`super::no_grad`]) it just calls `f`.
///
/// # Errors
/// What `f` returns; in the backward pass, [`TensorError::Autodiff`] when the recomputation
/// depends on other tensors than the first run (a parameter replaced in between).
///
/// ```
/// use gradus_tensor::{autodiff::checkpoint, Tensor};
/// # fn main() -> gradus_tensor::Result<()> {
/// let w = Tensor::from_vec(vec![0.5f64, -1.0], &[2])?.requires_grad_(true);
/// let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2])?.requires_grad_(true);
/// let w2 = w.clone();
/// // tanh(x * w): the product is not kept; `w` is captured, `x` passed
/// let y = checkpoint(move |xs| xs[0].mul(&w2)?.tanh(), &[&x])?;
/// y.sum_all()?.backward()?;
/// let expect: Vec<f64> = [(1.0, 0.5), (2.0, -1.0)]
///     .iter()
///     .map(|&(x, w): &(f64, f64)| x * (1.0 - (x * w).tanh().powi(2)))
///     .collect();
/// let got = w.grad().unwrap().to_vec::<f64>()?;
/// assert!(got.iter().zip(&expect).all(|(a, b)| (a - b).abs() < 1e-12));
/// assert!(x.grad().is_some());
/// # Ok(()) }
/// ```
pub fn checkpoint<F>(f: F, inputs: &[&Tensor]) -> Result<Tensor>
where
    F: Fn(&[Tensor]) -> Result<Tensor> + Send + Sync + 'static,
{
    let args: Vec<Tensor> = inputs.iter().map(|&t| t.clone()).collect();
    if !is_grad_enabled() {
        return f(&args);
    }
    let start = TensorId::watermark();
    let out = f(&args)?;
    if !out.requires_grad() {
        return Ok(out);
    }
    let boundary = boundary(&out, start);
    let op = CheckpointBackward {
        f: Arc::new(f),
        args,
        ids: boundary.iter().map(Tensor::id).collect(),
    };
    let storage = out.0.storage.clone();
    let layout = out.layout().clone();
    // `out` and the graph behind it (the activations) are dropped on return
    Ok(Tensor::from_op(
        storage,
        layout,
        op,
        &boundary.iter().collect::<Vec<_>>(),
    ))
}

/// The tensors made before `start` that `out` depends on through recorded ops and that require
/// gradients: the inputs and captured tensors of the call that made `out`, in id order.
fn boundary(out: &Tensor, start: TensorId) -> Vec<Tensor> {
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![out.clone()];
    while let Some(t) = stack.pop() {
        if !seen.insert(t.id()) {
            continue;
        }
        if t.id() < start {
            found.push(t);
            continue;
        }
        if let Some(node) = &t.0.node {
            stack.extend(node.inputs.iter().filter(|i| i.requires_grad()).cloned());
        }
    }
    found.sort_by_key(Tensor::id);
    found
}

/// The checkpoint's node: its inputs are the boundary tensors; its backward reruns `f`.
struct CheckpointBackward {
    f: Recompute,
    /// The explicit inputs, for the rerun.
    args: Vec<Tensor>,
    /// The boundary found in the forward pass (the node's inputs), to check the rerun against.
    ids: Vec<TensorId>,
}

impl BackwardOp for CheckpointBackward {
    fn name(&self) -> &'static str {
        "checkpoint"
    }

    fn backward(&self, ctx: &Ctx<'_>, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        // the engine records the backward pass exactly when it was asked for `create_graph`
        let create_graph = is_grad_enabled();
        let out = {
            let _recording = NoGradGuard::with(true);
            let start = TensorId::watermark();
            let out = (self.f)(&self.args)?;
            let again: Vec<TensorId> = if out.requires_grad() {
                boundary(&out, start).iter().map(Tensor::id).collect()
            } else {
                Vec::new()
            };
            if again != self.ids {
                return Err(TensorError::Autodiff(format!(
                    "checkpoint: the recomputed forward depends on {} tensors requiring gradients \
                     where the first run depended on {} (or on other ones): a parameter or \
                     captured tensor was replaced or frozen between the forward and the backward \
                     pass",
                    again.len(),
                    self.ids.len()
                )));
            }
            out
        };
        if out.shape() != grad.shape() {
            return Err(TensorError::ShapeMismatch {
                op: "checkpoint",
                lhs: grad.shape().to_vec(),
                rhs: out.shape().to_vec(),
                detail: ": the recomputed output has another shape than the first".into(),
            });
        }
        vjp(&out, ctx.inputs, grad, create_graph)
    }
}
