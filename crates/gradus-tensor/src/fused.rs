//! Fused per-element updates: one pass over a parameter, its gradient and its state tensors.
//!
//! An optimizer writes its rule once, as a type implementing [`ElementRule`]: a `NAME` (which a
//! GPU backend uses to pick a compiled kernel) and a per-lane function generic over the element
//! type, reading like the paper (`m <- b1 m + (1 - b1) g` ...). [`fused_update`] hands the rule to
//! whichever backend holds the parameter; the CPU backend runs it in one pass over memory,
//! compiled for the widest SIMD level of the CPU and split across rayon threads for big tensors.
//! Results are bitwise independent of the thread count and of the SIMD level (no reductions, no
//! contraction into FMA unless the rule asks for `mul_add`).
//!
//! State tensors may hold a wider type than the parameter (optax's `mu_dtype`): the rule then runs
//! in the state's type, on the parameter and gradient converted to it, and the result is rounded
//! once into the parameter's type.

use crate::{DType, Element, Result, Tensor, TensorError};

/// What a fused update writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FusedTarget {
    /// `p <- delta.apply(p)` in place: the parameter is stepped and the gradient only read.
    Params,
    /// `u <- delta.value()` in place in an owned update buffer (passed as the gradient): optax's
    /// `update`, whose result a chain hands to the next transformation. The parameter is only read.
    Updates,
}

/// What a rule returns for one element: an update that is added to the parameter
/// ([`FusedTarget::Params`]) or written out ([`FusedTarget::Updates`]).
pub trait Delta<T>: Copy {
    /// The parameter after the update.
    fn apply(self, p: T) -> T;
    /// The update itself.
    fn value(self) -> T;
}

impl<T: Element> Delta<T> for T {
    #[inline(always)]
    fn apply(self, p: T) -> T {
        p + self
    }
    #[inline(always)]
    fn value(self) -> T {
        self
    }
}

/// The update `c * x`, applied to the parameter as one fused multiply-add `c.mul_add(x, p)`: the
/// single rounding of PyTorch's `p.add_(x, alpha=c)` on CPU.
#[derive(Clone, Copy, Debug)]
pub struct Scaled<T>(pub T, pub T);

impl<T: Element> Delta<T> for Scaled<T> {
    #[inline(always)]
    fn apply(self, p: T) -> T {
        self.0.mul_add(self.1, p)
    }
    #[inline(always)]
    fn value(self) -> T {
        self.0 * self.1
    }
}

/// A per-element update rule with `K` state tensors (Adam: `K = 2`, `m` and `v`).
///
/// `lane` receives one element of the parameter `p` and of the gradient `g`, and mutable
/// references to the same element of each state tensor; it updates the state and returns the
/// update. It is generic over the element type so that one definition serves every dtype and
/// backend; hyperparameters are usually kept as `f64` fields and converted with
/// [`Element::from_f64`] (which the compiler hoists out of the loop).
///
/// ```
/// use gradus_tensor::fused::{fused_update, ElementRule, FusedTarget};
/// use gradus_tensor::{DType, Element, Tensor};
/// /// SGD with momentum: `b <- mu b + g; p <- p - lr b`.
/// struct Momentum { lr: f64, mu: f64 }
/// impl ElementRule<1> for Momentum {
///     const NAME: &'static str = "sgd_momentum";
///     type Out<T: Element> = T;
///     #[inline(always)]
///     fn lane<T: Element>(&self, _p: T, g: T, [b]: [&mut T; 1]) -> T {
///         *b = T::from_f64(self.mu) * *b + g;
///         -T::from_f64(self.lr) * *b
///     }
/// }
/// let p = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap();
/// let g = Tensor::from_vec(vec![0.5f32, -1.0], &[2]).unwrap();
/// let b = Tensor::zeros(&[2], DType::F32);
/// let rule = Momentum { lr: 0.1, mu: 0.9 };
/// fused_update(FusedTarget::Params, &p, &g, [&b], &rule).unwrap();
/// assert_eq!(p.to_vec::<f32>().unwrap(), vec![0.95, 2.1]);
/// assert_eq!(b.to_vec::<f32>().unwrap(), vec![0.5, -1.0]);
/// ```
pub trait ElementRule<const K: usize>: Sync {
    /// The rule's name, unique per rule (a GPU backend selects its compiled kernel by it).
    const NAME: &'static str;
    /// What `lane` returns: `T` (added to the parameter) or [`Scaled`].
    type Out<T: Element>: Delta<T>;
    /// The update of one element.
    fn lane<T: Element>(&self, p: T, g: T, state: [&mut T; K]) -> Self::Out<T>;
}

/// Runs `rule` over every element of `param`, `grad` and the `state` tensors in one pass, on the
/// backend that holds them, writing `param` or `grad` in place after `target` (see
/// [`FusedTarget`]) and the state tensors in place.
///
/// `param` and `grad` must share shape and dtype; the state tensors must have the parameter's
/// shape and one dtype among them (the rule computes in it; with no state, in the parameter's).
/// The written operand and the state tensors must be contiguous (the operand only read may be a
/// strided view: it is then read through a contiguous copy), all on one device, and no two may
/// share storage.
///
/// # Errors
/// [`TensorError::ShapeMismatch`], [`TensorError::DTypeMismatch`] or
/// [`TensorError::InvalidArgument`] naming the rule and the offending operand.
///
/// ```
/// use gradus_tensor::fused::{fused_update, ElementRule, FusedTarget};
/// use gradus_tensor::{Element, Tensor};
/// struct Scale(f64);
/// impl ElementRule<0> for Scale {
///     const NAME: &'static str = "scale";
///     type Out<T: Element> = T;
///     fn lane<T: Element>(&self, _p: T, g: T, _: [&mut T; 0]) -> T {
///         T::from_f64(self.0) * g
///     }
/// }
/// let p = Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap();
/// let u = Tensor::from_vec(vec![3.0f64, 4.0], &[2]).unwrap();
/// fused_update(FusedTarget::Updates, &p, &u, [], &Scale(-0.5)).unwrap();
/// assert_eq!(u.to_vec::<f64>().unwrap(), vec![-1.5, -2.0]);
/// ```
pub fn fused_update<R: ElementRule<K>, const K: usize>(
    target: FusedTarget,
    param: &Tensor,
    grad: &Tensor,
    state: [&Tensor; K],
    rule: &R,
) -> Result<()> {
    // the operand only read may be a strided view (a transposed gradient): read a contiguous
    // copy of it, as a host transfer of it would
    let contiguous = |t: &Tensor| {
        if t.is_contiguous() {
            Ok(t.clone())
        } else {
            t.detach().contiguous()
        }
    };
    match target {
        FusedTarget::Params => {
            let grad = contiguous(grad)?;
            check(param, Some(&grad), &state, R::NAME)?;
            run(target, param, Some(&grad), state, rule)
        }
        FusedTarget::Updates => {
            let param = contiguous(param)?;
            check(&param, Some(grad), &state, R::NAME)?;
            run(target, grad, Some(&param), state, rule)
        }
    }
}

/// [`fused_update`] of one operand: `t` is the parameter ([`FusedTarget::Params`], and the rule
/// reads a zero gradient) or the update buffer ([`FusedTarget::Updates`], and the rule reads a zero
/// parameter). For rules that need only one of them: scaling or clipping an update, or moving a
/// parameter towards a state tensor.
///
/// # Errors
/// As [`fused_update`].
///
/// ```
/// use gradus_tensor::fused::{fused_update_one, ElementRule, FusedTarget};
/// use gradus_tensor::{Element, Tensor};
/// struct Clamp(f64);
/// impl ElementRule<0> for Clamp {
///     const NAME: &'static str = "clamp";
///     type Out<T: Element> = T;
///     fn lane<T: Element>(&self, _p: T, u: T, _: [&mut T; 0]) -> T {
///         u.max(T::from_f64(-self.0)).min(T::from_f64(self.0))
///     }
/// }
/// let u = Tensor::from_vec(vec![-3.0f32, 0.5], &[2]).unwrap();
/// fused_update_one(FusedTarget::Updates, &u, [], &Clamp(1.0)).unwrap();
/// assert_eq!(u.to_vec::<f32>().unwrap(), vec![-1.0, 0.5]);
/// ```
pub fn fused_update_one<R: ElementRule<K>, const K: usize>(
    target: FusedTarget,
    t: &Tensor,
    state: [&Tensor; K],
    rule: &R,
) -> Result<()> {
    check(t, None, &state, R::NAME)?;
    run(target, t, None, state, rule)
}

/// The squared L2 norm of `t`: every element widened to f64, squared and added in the fixed order
/// of [`Tensor::sum_squares`], on the backend that holds it, and read back to the host (a synchronization). What
/// gradient clipping and the trust ratios of LAMB and LARS compare against a threshold.
///
/// # Errors
/// Never for valid tensors; kept fallible as every backend call.
///
/// ```
/// use gradus_tensor::{fused::squared_l2_norm, Tensor};
/// let t = Tensor::from_vec(vec![3.0f32, 4.0], &[2]).unwrap();
/// assert_eq!(squared_l2_norm(&t).unwrap(), 25.0);
/// ```
pub fn squared_l2_norm(t: &Tensor) -> Result<f64> {
    t.detach().sum_squares()?.item()
}

/// Locks the operands (checked by the caller) and makes the backend call.
fn run<R: ElementRule<K>, const K: usize>(
    target: FusedTarget,
    dst: &Tensor,
    src: Option<&Tensor>,
    state: [&Tensor; K],
    rule: &R,
) -> Result<()> {
    let mut dst_guard = dst.0.storage.write().expect("storage lock");
    let src_guard = src.map(|s| (s.0.storage.read().expect("storage lock"), s.layout().offset));
    let mut state_guards = state.map(|s| s.0.storage.write().expect("storage lock"));
    let state_offsets = state.map(|s| s.layout().offset);
    dst_guard.fused_update(
        target,
        (dst.layout().offset, dst.numel()),
        src_guard.as_ref().map(|(g, offset)| (&**g, *offset)),
        (state_guards.each_mut().map(|g| &mut **g), state_offsets),
        rule,
    )
}

/// Validates the operands of [`fused_update`] (`grad` absent for [`fused_update_one`]).
fn check<const K: usize>(
    param: &Tensor,
    grad: Option<&Tensor>,
    state: &[&Tensor; K],
    rule: &'static str,
) -> Result<()> {
    let invalid = |detail: String| TensorError::InvalidArgument { op: rule, detail };
    if let Some(grad) = grad {
        if grad.shape() != param.shape() {
            return Err(TensorError::ShapeMismatch {
                op: rule,
                lhs: param.shape().to_vec(),
                rhs: grad.shape().to_vec(),
                detail: " (parameter and gradient)".into(),
            });
        }
        if grad.dtype() != param.dtype() {
            return Err(TensorError::DTypeMismatch {
                op: rule,
                lhs: param.dtype(),
                rhs: grad.dtype(),
            });
        }
    }
    let state_dtype: Option<DType> = state.first().map(|s| s.dtype());
    for (k, s) in state.iter().enumerate() {
        if s.shape() != param.shape() {
            return Err(invalid(format!(
                "state tensor {k} has shape {:?}, the parameter {:?}",
                s.shape(),
                param.shape()
            )));
        }
        if Some(s.dtype()) != state_dtype {
            return Err(invalid(format!(
                "state tensors hold different dtypes ({:?} and {:?})",
                state_dtype,
                s.dtype()
            )));
        }
    }
    let all: Vec<(&str, &Tensor)> = [("parameter", Some(param)), ("gradient", grad)]
        .into_iter()
        .filter_map(|(name, t)| t.map(|t| (name, t)))
        .chain(state.iter().map(|s| ("state tensor", *s)))
        .collect();
    for (i, (name, t)) in all.iter().enumerate() {
        if !t.is_contiguous() {
            return Err(invalid(format!(
                "the {name} must be contiguous, got strides {:?}",
                t.layout().strides()
            )));
        }
        if t.device() != param.device() {
            return Err(invalid(format!(
                "the {name} is on {:?}, the parameter on {:?}",
                t.device(),
                param.device()
            )));
        }
        for (other, u) in &all[..i] {
            if t.shares_storage(u) {
                return Err(invalid(format!(
                    "the {name} shares storage with the {other} (updated in place, they must not alias)"
                )));
            }
        }
    }
    Ok(())
}
