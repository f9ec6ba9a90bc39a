//! The fused elementwise driver every per-element optimizer runs on.
//!
//! One pass over memory per parameter: the rule reads `p`, `g` and its state buffers and returns the
//! update `delta`; the driver writes either `p += delta` (applying to parameters, the hot path) or
//! `g = delta` (producing optax-style updates for a chain). Buffers above [`PAR_MIN`] elements are
//! split into chunks processed by rayon; results do not depend on the thread count (no reductions).

use crate::state::{Buffer, Scalar};
use crate::Result;
use gradus_tensor::simd::{with_widest_simd, SimdKernel};
use gradus_tensor::{Element, Tensor};
use rayon::prelude::*;

/// Buffers with at least this many elements are processed in parallel.
pub(crate) const PAR_MIN: usize = 1 << 16;
/// Elements per parallel chunk (fits comfortably in L2 for four streams).
const CHUNK: usize = 1 << 14;

/// Runs `$body` with the type alias `$T` bound to `f32` or `f64` after `$dtype`.
macro_rules! dispatch {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            gradus_tensor::DType::F32 => {
                type $T = f32;
                $body
            }
            gradus_tensor::DType::F64 => {
                type $T = f64;
                $body
            }
            #[allow(unreachable_patterns)]
            other => {
                return Err($crate::OptimError::StateMismatch(format!(
                    "unsupported dtype {other:?}"
                )))
            }
        }
    };
}
pub(crate) use dispatch;

/// What the elementwise driver writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// `p += delta` in place (the gradient is only read).
    Params,
    /// `g = delta` in place in an owned update buffer (the parameter is only read).
    Updates,
}

/// What a rule returns: the update `delta`, which the driver adds to the parameter or writes out.
pub(crate) trait Delta<T>: Copy {
    /// The parameter after the update.
    fn apply(self, p: T) -> T;
    /// The update itself.
    fn value(self) -> T;
}

impl<T: Scalar> Delta<T> for T {
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
#[derive(Clone, Copy)]
pub(crate) struct Scaled<T>(pub T, pub T);

impl<T: Scalar> Delta<T> for Scaled<T> {
    #[inline(always)]
    fn apply(self, p: T) -> T {
        self.0.mul_add(self.1, p)
    }
    #[inline(always)]
    fn value(self) -> T {
        self.0 * self.1
    }
}

/// Applies `rule(p, g, slots) -> delta` to every element of one parameter (see the module doc).
pub(crate) fn elementwise<T: Scalar, const K: usize, F>(
    target: Target,
    param: &Tensor,
    grad: &Tensor,
    slots: [&mut Buffer; K],
    rule: F,
) -> Result<()>
where
    F: Fn(T, T, [&mut T; K]) -> T + Sync,
{
    elementwise_delta::<T, K, T, F>(target, param, grad, slots, rule)
}

/// [`elementwise`] for a rule that returns any [`Delta`] (such as [`Scaled`]).
pub(crate) fn elementwise_delta<T: Scalar, const K: usize, D: Delta<T>, F>(
    target: Target,
    param: &Tensor,
    grad: &Tensor,
    slots: [&mut Buffer; K],
    rule: F,
) -> Result<()>
where
    F: Fn(T, T, [&mut T; K]) -> D + Sync,
{
    let mut views = Vec::with_capacity(K);
    for b in slots {
        views.push(b.values_mut::<T>()?);
    }
    let views: [&mut [T]; K] = match views.try_into() {
        Ok(v) => v,
        Err(_) => unreachable!("K views collected"),
    };
    match target {
        Target::Params => param
            .update_data(|p: &mut [T]| grad.with_data(|g: &[T]| run(p, g, views, true, &rule)))??,
        Target::Updates => grad.update_data(|g: &mut [T]| {
            param.with_data(|p: &[T]| run(g, p, views, false, &rule))
        })??,
    }
    Ok(())
}

/// `dst` is written (`p` when `dst_is_param`, else the update), `src` is the other operand.
fn run<T: Scalar, const K: usize, D: Delta<T>, F>(
    dst: &mut [T],
    src: &[T],
    slots: [&mut [T]; K],
    dst_is_param: bool,
    rule: &F,
) where
    F: Fn(T, T, [&mut T; K]) -> D + Sync,
{
    let chunk = |dst, src, slots| {
        with_widest_simd(Chunk {
            dst,
            src,
            slots,
            dst_is_param,
            rule,
        })
    };
    if dst.len() < PAR_MIN {
        chunk(dst, src, slots);
        return;
    }
    let mut slot_chunks = slots.map(|s| s.chunks_mut(CHUNK));
    let jobs: Vec<_> = dst
        .chunks_mut(CHUNK)
        .zip(src.chunks(CHUNK))
        .map(|(d, s)| {
            (
                d,
                s,
                slot_chunks
                    .each_mut()
                    .map(|it| it.next().expect("equal lengths")),
            )
        })
        .collect();
    jobs.into_par_iter()
        .for_each(|(dst, src, slots)| chunk(dst, src, slots));
}

/// One chunk's loop, compiled for the widest vector instructions the CPU has: at 4 SSE lanes the
/// square roots and divisions of the adaptive optimizers are not hidden behind memory traffic.
struct Chunk<'a, T, const K: usize, F> {
    dst: &'a mut [T],
    src: &'a [T],
    slots: [&'a mut [T]; K],
    dst_is_param: bool,
    rule: &'a F,
}

impl<T: Scalar, const K: usize, D: Delta<T>, F> SimdKernel for Chunk<'_, T, K, F>
where
    F: Fn(T, T, [&mut T; K]) -> D,
{
    #[inline(always)]
    fn run(self) {
        let (rule, n) = (self.rule, self.dst.len());
        assert!(
            self.src.len() == n && self.slots.iter().all(|s| s.len() == n),
            "parameter, gradient and state lengths differ"
        );
        // re-slicing to exactly `n` lets the compiler drop bounds checks and vectorize the loop
        let (dst, src) = (&mut self.dst[..n], &self.src[..n]);
        let mut slots = self.slots.map(|s| &mut s[..n]);
        if self.dst_is_param {
            for i in 0..n {
                let d = rule(dst[i], src[i], slots.each_mut().map(|s| &mut s[i]));
                dst[i] = d.apply(dst[i]);
            }
        } else {
            for i in 0..n {
                dst[i] = rule(src[i], dst[i], slots.each_mut().map(|s| &mut s[i])).value();
            }
        }
    }
}

/// `sign(x)` with `sign(0) = 0`.
#[inline(always)]
pub(crate) fn sign<T: Scalar>(x: T) -> T {
    let zero = T::from_f64(0.0);
    if x > zero {
        T::from_f64(1.0)
    } else if x < zero {
        T::from_f64(-1.0)
    } else {
        zero
    }
}

/// A new tensor with its own contiguous storage holding `t`'s values (updates are overwritten in
/// place, so they must never alias a parameter's `.grad()`).
pub(crate) fn owned(t: &Tensor) -> Result<Tensor> {
    Ok(dispatch!(t.dtype(), T => Tensor::from_vec(t.to_vec::<T>()?, t.shape())?))
}

/// Owned copies of all `grads`.
pub(crate) fn owned_all(grads: &[Tensor]) -> Result<Vec<Tensor>> {
    grads.iter().map(owned).collect()
}

/// The L2 norm of one tensor, accumulated in f64 in a fixed order.
pub(crate) fn l2_norm(t: &Tensor) -> f64 {
    t.to_vec_f64().iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Multiplies every element of an owned update in place by `c`.
pub(crate) fn scale_in_place(t: &Tensor, c: f64) -> Result<()> {
    map_in_place(t, |x| x * c)
}

/// Applies `f` (computed in f64) to every element of an owned tensor in place.
pub(crate) fn map_in_place(t: &Tensor, f: impl Fn(f64) -> f64 + Sync) -> Result<()> {
    dispatch!(t.dtype(), T => t.update_data(|v: &mut [T]| {
        v.par_iter_mut().with_min_len(CHUNK).for_each(|x| *x = T::from_f64(f(x.to_f64())))
    })?);
    Ok(())
}

/// Checks that params and grads pair up with the same shapes and dtypes.
pub(crate) fn check_pairs(params: &[Tensor], grads: &[Tensor]) -> Result<()> {
    if params.len() != grads.len() {
        return Err(crate::OptimError::StateMismatch(format!(
            "{} parameters but {} gradients",
            params.len(),
            grads.len()
        )));
    }
    for (i, (p, g)) in params.iter().zip(grads).enumerate() {
        if p.shape() != g.shape() || p.dtype() != g.dtype() {
            return Err(crate::OptimError::StateMismatch(format!(
                "parameter {i} is {:?} {:?} but its gradient is {:?} {:?}",
                p.shape(),
                p.dtype(),
                g.shape(),
                g.dtype()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{elementwise, Target, PAR_MIN};
    use crate::state::Buffer;
    use gradus_tensor::{Rng, Tensor};

    /// Values that stress every branch of IEEE arithmetic: zeros of both signs, subnormals,
    /// huge and infinite values, NaN, and ordinary normals.
    fn awkward(rng: &mut Rng, n: usize, scale: f32) -> Vec<f32> {
        let special = [
            0.0,
            -0.0,
            1e-40,
            -1e-40,
            1e30,
            -1e30,
            f32::INFINITY,
            f32::NAN,
        ];
        let normal = rng.normal(&[n], 0.0, 1.0, gradus_tensor::DType::F32);
        let normal = normal.to_vec::<f32>().unwrap();
        (0..n)
            .map(|i| match i % 97 {
                k if k < special.len() => special[k],
                _ => normal[i] * scale,
            })
            .collect()
    }

    /// An Adam-like rule: square root, division and max, the operations a wider vector unit
    /// must compute exactly as the scalar code does.
    fn rule(p: f32, g: f32, [m, v, vmax]: [&mut f32; 3]) -> f32 {
        *m = 0.9 * *m + 0.1 * g;
        *v = 0.999 * *v + 0.001 * g * g;
        *vmax = vmax.max(*v);
        -0.01 * p - 1e-3 * *m / (vmax.sqrt() * 1.5 + 1e-8)
    }

    #[test]
    fn the_parallel_simd_driver_matches_a_scalar_loop_bit_for_bit() {
        let n = 3 * PAR_MIN + 13; // several chunks and an odd tail
        let mut rng = Rng::seed(3);
        let (p0, g) = (awkward(&mut rng, n, 1.0), awkward(&mut rng, n, 1e-2));
        let p = Tensor::from_vec(p0.clone(), &[n]).unwrap();
        let grad = Tensor::from_vec(g.clone(), &[n]).unwrap();
        let mut slots = [0.0, 0.0, 0.0].map(|v| Buffer::full_like(&p, v));
        let [m, v, vmax] = slots.each_mut();
        elementwise::<f32, 3, _>(Target::Params, &p, &grad, [m, v, vmax], rule).unwrap();

        let (mut p1, mut state) = (p0, [vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]]);
        for i in 0..n {
            let [m, v, vmax] = state.each_mut().map(|s| &mut s[i]);
            p1[i] = p1[i] + std::hint::black_box(rule(p1[i], g[i], [m, v, vmax]));
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&p.to_vec::<f32>().unwrap()), bits(&p1));
        for (buffer, expected) in slots.iter().zip(&state) {
            assert_eq!(bits(buffer.values::<f32>().unwrap()), bits(expected));
        }
        assert!(p1.iter().filter(|x| x.is_nan()).count() < n / 10);
    }
}
