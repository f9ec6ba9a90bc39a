//! What the optimizers share: the fused per-element driver (which lives behind the tensor crate's
//! backend seam, [`gradus_tensor::fused`]), the small rules of the transforms (scale, clamp,
//! penalties, `p += u`), and tensor helpers (owned copies, norms).
//!
//! One pass over memory per parameter: a rule reads `p`, `g` and its state tensors and returns the
//! update `delta`; the backend writes either `p += delta` (applying to parameters, the hot path) or
//! `g = delta` (producing optax-style updates for a chain).

use crate::{OptimError, ParamRef, Result};
use gradus_tensor::fused::Delta;
pub(crate) use gradus_tensor::fused::{
    fused_update, fused_update_one, ElementRule, FusedTarget as Target, Scaled,
};
use gradus_tensor::{Element, Tensor};

/// `sign(x)` with `sign(0) = 0`.
#[inline(always)]
pub(crate) fn sign<T: Element>(x: T) -> T {
    let zero = T::from_f64(0.0);
    if x > zero {
        T::from_f64(1.0)
    } else if x < zero {
        T::from_f64(-1.0)
    } else {
        zero
    }
}

/// An update that sets the parameter to a value (`p <- s`, Lookahead's sync).
#[derive(Clone, Copy)]
pub(crate) struct Set<T> {
    pub(crate) new: T,
    pub(crate) old: T,
}

impl<T: Element> Delta<T> for Set<T> {
    #[inline(always)]
    fn apply(self, _p: T) -> T {
        self.new
    }
    #[inline(always)]
    fn value(self) -> T {
        self.new - self.old
    }
}

/// An update that leaves the parameter untouched (rules that only advance their state, such as
/// an average of the parameters).
#[derive(Clone, Copy)]
pub(crate) struct Keep;

impl<T: Element> Delta<T> for Keep {
    #[inline(always)]
    fn apply(self, p: T) -> T {
        p
    }
    #[inline(always)]
    fn value(self) -> T {
        T::from_f64(0.0)
    }
}

/// `p += u` (applying updates).
pub(crate) struct AddUpdate;

impl ElementRule<0> for AddUpdate {
    const NAME: &'static str = "apply_updates";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, _p: T, u: T, _: [&mut T; 0]) -> T {
        u
    }
}

/// `u <- c u`, computed in f64 and rounded once.
pub(crate) struct ScaleUpdate(pub(crate) f64);

impl ElementRule<0> for ScaleUpdate {
    const NAME: &'static str = "scale_update";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, _p: T, u: T, _: [&mut T; 0]) -> T {
        T::from_f64(u.to_f64() * self.0)
    }
}

/// `u <- clamp(u, -m, m)`.
pub(crate) struct ClampUpdate(pub(crate) f64);

impl ElementRule<0> for ClampUpdate {
    const NAME: &'static str = "clamp_update";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, _p: T, u: T, _: [&mut T; 0]) -> T {
        T::from_f64(u.to_f64().clamp(-self.0, self.0))
    }
}

/// Multiplies every element of an owned update `u` in place by `c`.
pub(crate) fn scale_in_place(u: &Tensor, c: f64) -> Result<()> {
    Ok(fused_update_one(Target::Updates, u, [], &ScaleUpdate(c))?)
}

/// Clamps every element of an owned update `u` in place to `[-m, m]`.
pub(crate) fn clamp_in_place(u: &Tensor, m: f64) -> Result<()> {
    Ok(fused_update_one(Target::Updates, u, [], &ClampUpdate(m))?)
}

/// A new tensor with its own contiguous storage holding `t`'s values (updates are overwritten in
/// place, so they must never alias a parameter's `.grad()`).
pub(crate) fn owned(t: &Tensor) -> Result<Tensor> {
    let out = Tensor::zeros(t.shape(), t.dtype());
    out.copy_from(t)?;
    Ok(out)
}

/// Owned copies of all `grads`.
pub(crate) fn owned_all(grads: &[Tensor]) -> Result<Vec<Tensor>> {
    grads.iter().map(owned).collect()
}

/// The L2 norm of one tensor, accumulated in f64 in a fixed order (read back to the host: a
/// synchronization).
pub(crate) fn l2_norm(t: &Tensor) -> Result<f64> {
    Ok(gradus_tensor::fused::squared_l2_norm(t)?.sqrt())
}

/// Checks that params and grads pair up with the same shapes and dtypes.
///
/// # Errors
/// [`OptimError::StateMismatch`] when the counts differ, [`OptimError::GradMismatch`] naming
/// the first parameter whose gradient does not fit it.
pub(crate) fn check_pairs(params: &[Tensor], grads: &[Tensor]) -> Result<()> {
    if params.len() != grads.len() {
        return Err(OptimError::StateMismatch(format!(
            "{} parameters but {} gradients",
            params.len(),
            grads.len()
        )));
    }
    for (i, (p, g)) in params.iter().zip(grads).enumerate() {
        if p.shape() != g.shape() || p.dtype() != g.dtype() {
            return Err(OptimError::GradMismatch {
                param: ParamRef::index(i),
                shape: p.shape().to_vec(),
                dtype: p.dtype(),
                grad_shape: g.shape().to_vec(),
                grad_dtype: g.dtype(),
            });
        }
    }
    Ok(())
}
