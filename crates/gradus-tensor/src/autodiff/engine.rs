//! The backward pass: topological order, chain rule, gradient accumulation.

use super::accumulate;
use super::mode::NoGradGuard;
use super::Ctx;
use crate::{Result, Tensor, TensorError, TensorId};
use std::collections::{HashMap, HashSet};

/// Tensors reachable from `root` through recorded ops, inputs before the tensors made from them;
/// the walk does not go past the tensors in `stop`.
fn topological_order(root: &Tensor, stop: &HashSet<TensorId>) -> Vec<Tensor> {
    let mut order = Vec::new();
    let mut visited = HashSet::new();
    let mut stack = vec![(root.clone(), false)];
    while let Some((t, inputs_done)) = stack.pop() {
        if inputs_done {
            order.push(t);
            continue;
        }
        if !visited.insert(t.id()) {
            continue;
        }
        stack.push((t.clone(), true));
        if stop.contains(&t.id()) {
            continue;
        }
        if let Some(node) = &t.0.node {
            for input in node.inputs.iter().filter(|i| i.requires_grad()) {
                if !visited.contains(&input.id()) {
                    stack.push((input.clone(), false));
                }
            }
        }
    }
    order
}

/// What one backward pass keeps: the totals of the tensors in `keep`; with `stop_at_kept` the pass
/// treats those tensors as leaves (partial derivatives, for an op's own backward rule).
struct Keep<'a> {
    ids: &'a HashSet<TensorId>,
    stop_at_kept: bool,
}

/// Runs the chain rule from `root` (seeded with `seed`), calling `on_leaf` with each leaf's total
/// gradient and keeping the totals of the tensors in `keep`. With `early_leaves`, a leaf's total
/// goes to `on_leaf` as soon as the last op that uses it has given its contribution (a count of
/// pending contributions per leaf, taken from the tape before the pass, as PyTorch's autograd
/// engine counts dependencies), not when the walk reaches the leaf itself.
fn propagate(
    root: &Tensor,
    seed: Tensor,
    create_graph: bool,
    keep: Keep<'_>,
    early_leaves: bool,
    mut on_leaf: impl FnMut(&Tensor, &Tensor) -> Result<()>,
) -> Result<HashMap<TensorId, Tensor>> {
    let _mode = NoGradGuard::with(create_graph);
    let mut pending = HashMap::from([(root.id(), seed)]);
    let mut kept = HashMap::new();
    let no_stop = HashSet::new();
    let stop = if keep.stop_at_kept {
        keep.ids
    } else {
        &no_stop
    };
    let order = topological_order(root, stop);
    let mut uses = early_leaves.then(|| leaf_uses(&order));
    for t in order.iter().rev() {
        if let Some(g) = pending.remove(&t.id()) {
            let is_kept = keep.ids.contains(&t.id());
            if is_kept {
                kept.insert(t.id(), g.clone());
            }
            if !(is_kept && keep.stop_at_kept) {
                chain_rule(t, g, create_graph, &mut pending, &mut on_leaf)?;
            }
        }
        if let (Some(uses), Some(node)) = (uses.as_mut(), &t.0.node) {
            for leaf in node.inputs.iter().filter(|i| is_grad_leaf(i)) {
                let left = uses.entry(leaf.id()).or_insert(1);
                *left -= 1;
                if *left == 0 {
                    if let Some(g) = pending.remove(&leaf.id()) {
                        on_leaf(leaf, &g)?;
                    }
                }
            }
        }
    }
    Ok(kept)
}

/// A leaf that gradients reach: requires them and was not made by a recorded op.
fn is_grad_leaf(t: &Tensor) -> bool {
    t.0.node.is_none() && t.requires_grad()
}

/// For each leaf, the number of contributions it will receive: one per use as an input of an op
/// in `order`.
fn leaf_uses(order: &[Tensor]) -> HashMap<TensorId, usize> {
    let mut uses = HashMap::new();
    for node in order.iter().filter_map(|t| t.0.node.as_ref()) {
        for leaf in node.inputs.iter().filter(|i| is_grad_leaf(i)) {
            *uses.entry(leaf.id()).or_insert(0) += 1;
        }
    }
    uses
}

/// Applies `t`'s backward rule to its total gradient `g`, adding the results to its inputs'
/// totals in `pending` (or hands `g` to `on_leaf` when `t` is a leaf).
fn chain_rule(
    t: &Tensor,
    g: Tensor,
    create_graph: bool,
    pending: &mut HashMap<TensorId, Tensor>,
    on_leaf: &mut impl FnMut(&Tensor, &Tensor) -> Result<()>,
) -> Result<()> {
    let Some(node) = &t.0.node else {
        return on_leaf(t, &g);
    };
    if let (false, Some((axis, start))) = (create_graph, node.op.slice_of_input()) {
        if node.inputs[0].requires_grad() {
            accumulate::add_slice(pending, &node.inputs[0], &g, axis, start)?;
        }
        return Ok(());
    }
    let ctx = Ctx {
        inputs: &node.inputs,
        output: t,
    };
    let input_grads = node.op.backward(&ctx, &g)?;
    for (input, ig) in node.inputs.iter().zip(input_grads) {
        let Some(ig) = ig else { continue };
        if !input.requires_grad() {
            continue;
        }
        if ig.shape() != input.shape() {
            return Err(TensorError::Autodiff(format!(
                "backward of {} gave a gradient of shape {:?} for an input of shape {:?}",
                node.op.name(),
                ig.shape(),
                input.shape()
            )));
        }
        accumulate::add(pending, input.id(), ig, !create_graph)?;
    }
    Ok(())
}

/// A hook called with each leaf once its gradient is final ([`Tensor::backward_with_hook`]).
type ReadyHook<'h> = &'h mut dyn FnMut(&Tensor) -> Result<()>;

fn seed_for(output: &Tensor, seed: Option<&Tensor>) -> Result<Tensor> {
    match seed {
        Some(s) if s.shape() == output.shape() => Ok(s.clone()),
        Some(s) => Err(TensorError::ShapeMismatch {
            op: "backward",
            lhs: output.shape().to_vec(),
            rhs: s.shape().to_vec(),
            detail: ": the seed gradient must have the output's shape".into(),
        }),
        None if output.numel() == 1 => Ok(output.ones_like()),
        None => Err(TensorError::Autodiff(format!(
            "backward() of a non-scalar tensor of shape {:?} needs a seed gradient (backward_with)",
            output.shape()
        ))),
    }
}

impl Tensor {
    /// Computes the gradient of this scalar with respect to every leaf that requires gradients,
    /// adding it to the leaf's [`Tensor::grad`] (gradients accumulate across calls, as in PyTorch).
    ///
    /// # Errors
    /// When the tensor has more than one element, or does not require gradients.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![2.0f64], &[1]).unwrap().requires_grad_(true);
    /// let y = x.mul(&x).unwrap().sum_all().unwrap();
    /// y.backward().unwrap();
    /// y.backward().unwrap(); // accumulates: 4 + 4
    /// assert_eq!(x.grad().unwrap().to_vec::<f64>().unwrap(), vec![8.0]);
    /// ```
    pub fn backward(&self) -> Result<()> {
        self.backward_with(None, false)
    }

    /// [`Tensor::backward`] with an explicit seed gradient (for non-scalar outputs) and optional
    /// `create_graph`, which records the backward pass so the gradients can be differentiated.
    ///
    /// # Errors
    /// On a seed of the wrong shape, or an output that does not require gradients.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap().requires_grad_(true);
    /// let y = x.mul_scalar(3.0).unwrap();
    /// y.backward_with(Some(&Tensor::from_vec(vec![1.0, 10.0], &[2]).unwrap()), false).unwrap();
    /// assert_eq!(x.grad().unwrap().to_vec::<f64>().unwrap(), vec![3.0, 30.0]);
    /// ```
    pub fn backward_with(&self, seed: Option<&Tensor>, create_graph: bool) -> Result<()> {
        self.check_backward_root()?;
        let seed = seed_for(self, seed)?;
        self.backward_into_grads(seed, create_graph, None)
    }

    /// [`Tensor::backward`] that calls `hook(leaf)` once for each leaf whose gradient is final:
    /// right after its last contribution has been added to its [`Tensor::grad`], while the rest
    /// of the backward pass still runs (PyTorch's `register_post_accumulate_grad_hook`, which
    /// `DistributedDataParallel` uses to start a bucket's all-reduce early). A leaf's last
    /// contribution is known from the tape: the pass first counts each leaf's uses, then counts
    /// them down. Leaves no gradient reaches get no call. Plain [`Tensor::backward`] does not
    /// count, so the hook costs nothing when unused.
    ///
    /// # Errors
    /// As [`Tensor::backward`], and the first error `hook` returns (the pass stops there).
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let w1 = Tensor::from_vec(vec![2.0f64], &[1]).unwrap().requires_grad_(true);
    /// let w2 = Tensor::from_vec(vec![3.0f64], &[1]).unwrap().requires_grad_(true);
    /// let y = w1.mul(&w1).unwrap().mul(&w2).unwrap().sum_all().unwrap(); // w1^2 w2
    /// let mut ready = Vec::new();
    /// y.backward_with_hook(|leaf| {
    ///     ready.push(leaf.grad().unwrap().item().unwrap());
    ///     Ok(())
    /// }).unwrap();
    /// // w2, used last, is ready first (dy/dw2 = w1^2); w1 once both its uses are in (2 w1 w2)
    /// assert_eq!(ready, vec![4.0, 12.0]);
    /// ```
    pub fn backward_with_hook(&self, mut hook: impl FnMut(&Tensor) -> Result<()>) -> Result<()> {
        self.check_backward_root()?;
        let seed = seed_for(self, None)?;
        self.backward_into_grads(seed, false, Some(&mut hook))
    }

    fn check_backward_root(&self) -> Result<()> {
        if self.requires_grad() {
            return Ok(());
        }
        Err(TensorError::Autodiff(
            "backward() on a tensor that does not require gradients: mark the parameters \
             with requires_grad_(true) and compute outside no_grad"
                .into(),
        ))
    }

    /// The backward pass that adds each leaf's gradient to its `.grad`, calling `hook` after.
    fn backward_into_grads(
        &self,
        seed: Tensor,
        create_graph: bool,
        mut hook: Option<ReadyHook<'_>>,
    ) -> Result<()> {
        let keep = Keep {
            ids: &HashSet::new(),
            stop_at_kept: false,
        };
        let early = hook.is_some();
        propagate(self, seed, create_graph, keep, early, |leaf, g| {
            let g = if create_graph { g.clone() } else { g.detach() };
            let total = match leaf.grad() {
                Some(previous) => previous.add(&g)?,
                None => g,
            };
            leaf.set_grad(Some(total));
            match hook.as_mut() {
                Some(h) => h(leaf),
                None => Ok(()),
            }
        })?;
        Ok(())
    }
}

/// The gradients of `output` (a scalar, or seeded by `seed`) with respect to `inputs`, without
/// touching their `.grad`; like `torch.autograd.grad`. Inputs that `output` does not depend on get
/// zeros. With `create_graph` the results are themselves differentiable.
///
/// # Errors
/// When `output` does not require gradients or is not a scalar and has no seed.
///
/// ```
/// use gradus_tensor::{autodiff::grad, Tensor};
/// let x = Tensor::from_vec(vec![3.0f64], &[1]).unwrap().requires_grad_(true);
/// let y = x.mul(&x).unwrap().mul(&x).unwrap().sum_all().unwrap(); // x^3
/// let dy = grad(&y, &[&x], None, true).unwrap().remove(0);           // 3x^2 = 27
/// let d2y = grad(&dy.sum_all().unwrap(), &[&x], None, false).unwrap().remove(0); // 6x = 18
/// assert_eq!((dy.item().unwrap(), d2y.item().unwrap()), (27.0, 18.0));
/// ```
pub fn grad(
    output: &Tensor,
    inputs: &[&Tensor],
    seed: Option<&Tensor>,
    create_graph: bool,
) -> Result<Vec<Tensor>> {
    if !output.requires_grad() {
        return Err(TensorError::Autodiff(
            "grad(): the output does not require gradients".into(),
        ));
    }
    let seed = seed_for(output, seed)?;
    let keep: HashSet<TensorId> = inputs.iter().map(|t| t.id()).collect();
    let keep = Keep {
        ids: &keep,
        stop_at_kept: false,
    };
    let mut kept = propagate(output, seed, create_graph, keep, false, |_, _| Ok(()))?;
    Ok(inputs
        .iter()
        .map(|t| match kept.remove(&t.id()) {
            Some(g) if create_graph => g,
            Some(g) => g.detach(),
            None => t.zeros_like(),
        })
        .collect())
}

/// The vector-Jacobian product of `output` with respect to `inputs` taken as independent
/// variables (the walk stops at them), seeded by `seed`; `None` where no gradient reaches an
/// input. Ops whose fast backward is not differentiable use it to differentiate a composed
/// recomputation of themselves under `create_graph`.
pub(crate) fn vjp(
    output: &Tensor,
    inputs: &[Tensor],
    seed: &Tensor,
    create_graph: bool,
) -> Result<Vec<Option<Tensor>>> {
    let ids: HashSet<TensorId> = inputs.iter().map(|t| t.id()).collect();
    let keep = Keep {
        ids: &ids,
        stop_at_kept: true,
    };
    let mut kept = propagate(output, seed.clone(), create_graph, keep, false, |_, _| {
        Ok(())
    })?;
    Ok(inputs.iter().map(|t| kept.remove(&t.id())).collect())
}

/// Hessian-vector product `H(x) v` of a scalar function `f`, by differentiating the gradient
/// (double backward); costs about two gradient evaluations.
///
/// # Errors
/// When `f` fails, or `v` does not have `x`'s shape.
///
/// ```
/// use gradus_tensor::{autodiff::hvp, Tensor};
/// // f(x) = sum x^3, so H = diag(6x)
/// let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap();
/// let v = Tensor::from_vec(vec![1.0f64, 1.0], &[2]).unwrap();
/// let hv = hvp(|x| x.powf(3.0)?.sum_all(), &x, &v).unwrap();
/// assert_eq!(hv.to_vec::<f64>().unwrap(), vec![6.0, 12.0]);
/// ```
pub fn hvp(f: impl Fn(&Tensor) -> Result<Tensor>, x: &Tensor, v: &Tensor) -> Result<Tensor> {
    if v.shape() != x.shape() {
        return Err(TensorError::ShapeMismatch {
            op: "hvp",
            lhs: x.shape().to_vec(),
            rhs: v.shape().to_vec(),
            detail: ": v must have x's shape".into(),
        });
    }
    let x = x.detach().requires_grad_(true);
    let y = f(&x)?;
    let g = grad(&y, &[&x], None, true)?.remove(0);
    let gv = g.mul(&v.detach())?.sum_all()?;
    if !gv.requires_grad() {
        return Ok(x.zeros_like()); // f is linear in x: the Hessian is zero
    }
    Ok(grad(&gv, &[&x], None, false)?.remove(0))
}

/// The exact Hessian of a scalar function of a 1-D tensor `x` of length n, as an n x n tensor,
/// built from n Hessian-vector products (for small parameter vectors: Newton's method).
///
/// # Errors
/// When `x` is not 1-D or `f` fails.
///
/// ```
/// use gradus_tensor::{autodiff::hessian, Tensor};
/// // f(x) = x0^2 x1, H = [[2 x1, 2 x0], [2 x0, 0]]
/// let x = Tensor::from_vec(vec![3.0f64, 5.0], &[2]).unwrap();
/// let h = hessian(|x| {
///     let x0 = x.narrow(0, 0, 1)?;
///     x0.mul(&x0)?.mul(&x.narrow(0, 1, 1)?)?.sum_all()
/// }, &x).unwrap();
/// assert_eq!(h.to_vec::<f64>().unwrap(), vec![10.0, 6.0, 6.0, 0.0]);
/// ```
pub fn hessian(f: impl Fn(&Tensor) -> Result<Tensor>, x: &Tensor) -> Result<Tensor> {
    if x.rank() != 1 {
        return Err(TensorError::InvalidShape {
            op: "hessian",
            shape: x.shape().to_vec(),
            detail: "x must be 1-D".into(),
        });
    }
    let n = x.numel();
    let x = x.detach().requires_grad_(true);
    let y = f(&x)?;
    let g = grad(&y, &[&x], None, true)?.remove(0);
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let row = if g.requires_grad() {
            grad(&g.narrow(0, i, 1)?.sum_all()?, &[&x], None, false)?.remove(0)
        } else {
            x.zeros_like().detach()
        };
        rows.push(row);
    }
    Tensor::stack(&rows.iter().collect::<Vec<_>>(), 0)
}
