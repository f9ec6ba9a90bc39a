//! The fused per-element update on the CPU (see [`crate::fused`]): one pass over the written
//! operand, the read one and the state buffers, compiled for the widest SIMD level available and
//! split into rayon chunks for big buffers. Results do not depend on the thread count (no
//! reductions) nor on the SIMD level (no contraction into FMA).

use super::simd::{with_widest_simd, SimdKernel};
use super::CpuStorage;
use crate::backend::BackendStorage;
use crate::fused::{Delta, ElementRule, FusedTarget};
use crate::{DType, Element, Result, TensorError};
use rayon::prelude::*;

/// Buffers with at least this many elements are processed in parallel.
pub(crate) const PAR_MIN: usize = 1 << 16;
/// Elements per parallel chunk (fits comfortably in L2 for four streams).
const CHUNK: usize = 1 << 14;

/// Runs `rule` over `dst` (elements `start .. start + n`), `src` (zeros when absent) and the state
/// buffers; the rule computes in the state's element type (the parameter's when there is none).
pub(crate) fn fused_update<R: ElementRule<K>, const K: usize>(
    dst: &mut CpuStorage,
    target: FusedTarget,
    (start, n): (usize, usize),
    src: Option<(&CpuStorage, usize)>,
    (slots, starts): ([&mut CpuStorage; K], [usize; K]),
    rule: &R,
) -> Result<()> {
    let state_dtype = slots.first().map_or(dst.dtype(), |s| s.dtype());
    let args = Args {
        target,
        n,
        start,
        src,
        starts,
        rule,
    };
    match (dst.dtype(), state_dtype) {
        (DType::F32, DType::F32) => args.run::<f32, f32>(dst, slots),
        (DType::F32, DType::F64) => args.run::<f32, f64>(dst, slots),
        (DType::F64, DType::F64) => args.run::<f64, f64>(dst, slots),
        (DType::F64, DType::F32) => args.run::<f64, f32>(dst, slots),
        #[allow(unreachable_patterns)]
        (p, s) => {
            return Err(TensorError::InvalidArgument {
                op: R::NAME,
                detail: format!("no CPU fused update for {p:?} parameters with {s:?} state"),
            })
        }
    }
    Ok(())
}

/// Conversion between the stored type (`Self`) and the compute type `S`: the identity when they
/// are the same, so same-dtype updates are bitwise those of a plain loop.
trait Lane<S>: Element {
    fn up(self) -> S;
    fn down(s: S) -> Self;
}

macro_rules! lane {
    ($p:ty, $s:ty) => {
        impl Lane<$s> for $p {
            #[inline(always)]
            fn up(self) -> $s {
                self as $s
            }
            #[inline(always)]
            fn down(s: $s) -> $p {
                s as $p
            }
        }
    };
}
lane!(f32, f32);
lane!(f64, f64);
lane!(f32, f64);
lane!(f64, f32);

/// The operands other than the written buffer and the state buffers.
struct Args<'a, R, const K: usize> {
    target: FusedTarget,
    n: usize,
    start: usize,
    src: Option<(&'a CpuStorage, usize)>,
    starts: [usize; K],
    rule: &'a R,
}

impl<R: ElementRule<K>, const K: usize> Args<'_, R, K> {
    fn run<P: Lane<S>, S: Element>(self, dst: &mut CpuStorage, slots: [&mut CpuStorage; K]) {
        let n = self.n;
        let dst = &mut dst.slice_mut::<P>()[self.start..self.start + n];
        let src = self.src.map(|(s, o)| &s.slice::<P>()[o..o + n]);
        let mut k = 0;
        let slots = slots.map(|s| {
            let o = self.starts[k];
            k += 1;
            &mut s.slice_mut::<S>()[o..o + n]
        });
        let dst_is_param = self.target == FusedTarget::Params;
        let chunk = |dst, src, slots| {
            with_widest_simd(Chunk::<P, S, R, K> {
                dst,
                src,
                slots,
                dst_is_param,
                rule: self.rule,
            })
        };
        if n < PAR_MIN {
            chunk(dst, src, slots);
            return;
        }
        let mut slot_chunks = slots.map(|s| s.chunks_mut(CHUNK));
        let mut src_chunks = src.map(|s| s.chunks(CHUNK));
        let jobs: Vec<_> = dst
            .chunks_mut(CHUNK)
            .map(|d| {
                let s = src_chunks
                    .as_mut()
                    .map(|it| it.next().expect("equal lengths"));
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
}

/// One chunk's loop, compiled for the widest vector instructions the CPU has: at 4 SSE lanes the
/// square roots and divisions of the adaptive optimizers are not hidden behind memory traffic.
struct Chunk<'a, P, S, R, const K: usize> {
    dst: &'a mut [P],
    src: Option<&'a [P]>,
    slots: [&'a mut [S]; K],
    dst_is_param: bool,
    rule: &'a R,
}

impl<P: Lane<S>, S: Element, R: ElementRule<K>, const K: usize> SimdKernel
    for Chunk<'_, P, S, R, K>
{
    #[inline(always)]
    fn run(self) {
        lanes(self.rule, self.dst, self.src, self.slots, self.dst_is_param);
    }
}

/// The loop of [`Chunk`]. `rule` is a parameter of its own (not a field read through the chunk)
/// so that the compiler knows no store of the loop writes it: the rule's hyperparameters and
/// their conversions from f64 (`T::from_f64(self.b1)`) are then hoisted out of the loop before
/// vectorization, and an f32 loop runs at full f32 width (16 lanes with AVX-512, not the 8 of a
/// loop that converts f64 values per element).
#[inline(always)]
fn lanes<P: Lane<S>, S: Element, R: ElementRule<K>, const K: usize>(
    rule: &R,
    dst: &mut [P],
    src: Option<&[P]>,
    slots: [&mut [S]; K],
    dst_is_param: bool,
) {
    let n = dst.len();
    assert!(
        src.is_none_or(|s| s.len() == n) && slots.iter().all(|s| s.len() == n),
        "parameter, gradient and state lengths differ"
    );
    // re-slicing to exactly `n` lets the compiler drop bounds checks and vectorize the loop
    let dst = &mut dst[..n];
    let mut slots = slots.map(|s| &mut s[..n]);
    let zero = S::from_f64(0.0);
    match (dst_is_param, src) {
        (true, Some(src)) => {
            let src = &src[..n];
            for i in 0..n {
                let p = dst[i].up();
                let d = rule.lane(p, src[i].up(), slots.each_mut().map(|s| &mut s[i]));
                dst[i] = P::down(d.apply(p));
            }
        }
        (false, Some(src)) => {
            let src = &src[..n];
            for i in 0..n {
                let s = slots.each_mut().map(|s| &mut s[i]);
                dst[i] = P::down(rule.lane(src[i].up(), dst[i].up(), s).value());
            }
        }
        (true, None) => {
            for i in 0..n {
                let p = dst[i].up();
                let d = rule.lane(p, zero, slots.each_mut().map(|s| &mut s[i]));
                dst[i] = P::down(d.apply(p));
            }
        }
        (false, None) => {
            for i in 0..n {
                let s = slots.each_mut().map(|s| &mut s[i]);
                dst[i] = P::down(rule.lane(zero, dst[i].up(), s).value());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PAR_MIN;
    use crate::fused::{fused_update, ElementRule, FusedTarget};
    use crate::{DType, Element, Rng, Tensor};

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
        let normal = rng.normal(&[n], 0.0, 1.0, DType::F32);
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
    struct AdamLike;

    impl ElementRule<3> for AdamLike {
        const NAME: &'static str = "adam_like";
        type Out<T: Element> = T;
        #[inline(always)]
        fn lane<T: Element>(&self, p: T, g: T, [m, v, vmax]: [&mut T; 3]) -> T {
            let c = T::from_f64;
            *m = c(0.9) * *m + c(0.1) * g;
            *v = c(0.999) * *v + c(0.001) * g * g;
            *vmax = vmax.max(*v);
            c(-0.01) * p - c(1e-3) * *m / (vmax.sqrt() * c(1.5) + c(1e-8))
        }
    }

    #[test]
    fn the_parallel_simd_driver_matches_a_scalar_loop_bit_for_bit() {
        let n = 3 * PAR_MIN + 13; // several chunks and an odd tail
        let mut rng = Rng::seed(3);
        let (p0, g) = (awkward(&mut rng, n, 1.0), awkward(&mut rng, n, 1e-2));
        let p = Tensor::from_vec(p0.clone(), &[n]).unwrap();
        let grad = Tensor::from_vec(g.clone(), &[n]).unwrap();
        let slots = [0.0, 0.0, 0.0].map(|_| Tensor::zeros(&[n], DType::F32));
        let [m, v, vmax] = slots.each_ref();
        fused_update(FusedTarget::Params, &p, &grad, [m, v, vmax], &AdamLike).unwrap();

        let (mut p1, mut state) = (p0, [vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]]);
        for i in 0..n {
            let [m, v, vmax] = state.each_mut().map(|s| &mut s[i]);
            p1[i] = p1[i] + std::hint::black_box(AdamLike.lane(p1[i], g[i], [m, v, vmax]));
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&p.to_vec::<f32>().unwrap()), bits(&p1));
        for (buffer, expected) in slots.iter().zip(&state) {
            assert_eq!(bits(&buffer.to_vec::<f32>().unwrap()), bits(expected));
        }
        assert!(p1.iter().filter(|x| x.is_nan()).count() < n / 10);
    }

    #[test]
    fn wider_state_computes_in_its_type_and_rounds_the_parameter_once() {
        let n = PAR_MIN + 5;
        let mut rng = Rng::seed(4);
        let (p0, g) = (awkward(&mut rng, n, 1.0), awkward(&mut rng, n, 1e-2));
        let p = Tensor::from_vec(p0.clone(), &[n]).unwrap();
        let grad = Tensor::from_vec(g.clone(), &[n]).unwrap();
        let slots = [0; 3].map(|_| Tensor::zeros(&[n], DType::F64));
        let [m, v, vmax] = slots.each_ref();
        fused_update(FusedTarget::Params, &p, &grad, [m, v, vmax], &AdamLike).unwrap();
        let mut state = [vec![0.0f64; n], vec![0.0f64; n], vec![0.0f64; n]];
        let expected: Vec<f32> = (0..n)
            .map(|i| {
                let [m, v, vmax] = state.each_mut().map(|s| &mut s[i]);
                let p = p0[i] as f64;
                (p + AdamLike.lane(p, g[i] as f64, [m, v, vmax])) as f32
            })
            .collect();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&p.to_vec::<f32>().unwrap()), bits(&expected));
        let bits64 = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for (buffer, expected) in slots.iter().zip(&state) {
            assert_eq!(bits64(&buffer.to_vec::<f64>().unwrap()), bits64(expected));
        }
    }

    #[test]
    fn aliasing_or_mismatched_operands_are_refused_with_the_rule_name() {
        let p = Tensor::zeros(&[4], DType::F32);
        let g = Tensor::zeros(&[4], DType::F32);
        let short = Tensor::zeros(&[3], DType::F32);
        let mixed = Tensor::zeros(&[4], DType::F64);
        let run = |state: [&Tensor; 3]| {
            fused_update(FusedTarget::Params, &p, &g, state, &AdamLike)
                .unwrap_err()
                .to_string()
        };
        let m = Tensor::zeros(&[4], DType::F32);
        let v = Tensor::zeros(&[4], DType::F32);
        assert!(run([&m, &m, &v]).contains("shares storage"));
        assert!(run([&m, &v, &short]).contains("shape"));
        assert!(run([&m, &v, &mixed]).contains("different dtypes"));
        assert!(run([&m, &v, &p]).contains("adam_like"));
    }
}
