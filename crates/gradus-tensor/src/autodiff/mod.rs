//! Reverse-mode automatic differentiation on a define-by-run tape.
//!
//! Every op that runs while gradients are enabled and touches a tensor that requires them records
//! a node: its backward rule and its inputs. [`Tensor::backward`] walks that graph from the
//! output in reverse topological order and applies the chain rule. Backward rules are written in
//! differentiable tensor ops, so with `create_graph` the gradients themselves are recorded and can
//! be differentiated again: see [`grad`], [`hvp`] and [`hessian`]. [`checkpoint`] frees a
//! function's activations after its forward pass and recomputes them in the backward pass.

mod accumulate;
mod checkpoint;
mod engine;
mod mode;

pub use checkpoint::checkpoint;
pub(crate) use engine::vjp;
pub use engine::{grad, hessian, hvp};
pub use mode::{is_grad_enabled, no_grad, NoGradGuard};

use crate::{Result, Tensor};

/// The backward rule of one op: maps the gradient of the output to gradients of the inputs.
pub(crate) trait BackwardOp: Send + Sync {
    /// A short name for messages and debugging (`"matmul"`).
    fn name(&self) -> &'static str;
    /// Gradients of each input, in input order (`None` where no gradient flows).
    fn backward(&self, ctx: &Ctx<'_>, grad: &Tensor) -> Result<Vec<Option<Tensor>>>;
    /// `Some((axis, start))` when the output is the slice of the single input starting at `start`
    /// on `axis` (`narrow`). Without `create_graph` the engine then adds the gradient into that
    /// region of the input's total in place; `backward` (zero-padding) is the recorded rule.
    fn slice_of_input(&self) -> Option<(usize, usize)> {
        None
    }
}

/// A recorded op application: the rule and its inputs (the output is the tensor holding it).
pub(crate) struct Node {
    pub(crate) op: Box<dyn BackwardOp>,
    pub(crate) inputs: Vec<Tensor>,
}

/// What a backward rule may look at: the op's inputs and output.
pub(crate) struct Ctx<'a> {
    pub(crate) inputs: &'a [Tensor],
    pub(crate) output: &'a Tensor,
}

impl Ctx<'_> {
    pub(crate) fn input(&self, i: usize) -> &Tensor {
        &self.inputs[i]
    }

    pub(crate) fn output(&self) -> &Tensor {
        self.output
    }
}
