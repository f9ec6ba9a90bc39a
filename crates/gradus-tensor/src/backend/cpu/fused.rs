//! The fused per-element update on the CPU (see [`crate::fused`]): one pass over the written
//! operand, the read one and the state buffers, compiled for the widest SIMD level available and
//! split into rayon chunks for big buffers. Results do not depend on the thread count (no
//! reductions) nor on the SIMD level (no contraction into FMA).

use super::simd::{with_widest_simd, SimdKernel};
use super::CpuStorage;
use crate::backend::BackendStorage;
use crate::fused::{Delta, ElementRule, FusedTarget};
use crate::precision::convert;
use crate::precision::stochastic::{random16, round_bf16_stochastic};
use crate::precision::{bf16, f16};
use crate::{DType, Element, Result, TensorError};
use half::slice::HalfFloatSliceExt;
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
        crate::threads::warm();
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

/// Elements per block of an update with 16-bit operands (see [`fused_update_16`]).
const BLOCK: usize = 512;

/// An operand of an update with 16-bit operands: f32, bf16 or f16 elements.
enum Narrow<'a> {
    F32(&'a [f32]),
    BF16(&'a [bf16]),
    F16(&'a [f16]),
}

/// A written operand of an update with 16-bit operands.
enum NarrowMut<'a> {
    F32(&'a mut [f32]),
    BF16(&'a mut [bf16]),
    F16(&'a mut [f16]),
}

impl<'a> Narrow<'a> {
    /// Elements `start .. start + n` of `s`; `None` for f64.
    fn of(s: &'a CpuStorage, start: usize, n: usize) -> Option<Self> {
        Some(match s {
            CpuStorage::F32(v) => Narrow::F32(&v[start..start + n]),
            CpuStorage::BF16(v) => Narrow::BF16(&v[start..start + n]),
            CpuStorage::F16(v) => Narrow::F16(&v[start..start + n]),
            _ => return None,
        })
    }

    fn split_at(self, mid: usize) -> (Self, Self) {
        match self {
            Narrow::F32(v) => (Narrow::F32(&v[..mid]), Narrow::F32(&v[mid..])),
            Narrow::BF16(v) => (Narrow::BF16(&v[..mid]), Narrow::BF16(&v[mid..])),
            Narrow::F16(v) => (Narrow::F16(&v[..mid]), Narrow::F16(&v[mid..])),
        }
    }

    /// Elements `at .. at + out.len()` widened into `out` (exact).
    #[inline(always)]
    fn load(&self, at: usize, out: &mut [f32]) {
        let n = out.len();
        match self {
            Narrow::F32(v) => out.copy_from_slice(&v[at..at + n]),
            Narrow::BF16(v) => {
                for (o, &b) in out.iter_mut().zip(&v[at..at + n]) {
                    *o = f32::from_bits(convert::widen_bf16_bits(b.to_bits()));
                }
            }
            Narrow::F16(v) => v[at..at + n].convert_to_f32_slice(out),
        }
    }
}

impl<'a> NarrowMut<'a> {
    /// Elements `start .. start + n` of `s`; `None` for f64.
    fn of(s: &'a mut CpuStorage, start: usize, n: usize) -> Option<Self> {
        Some(match s {
            CpuStorage::F32(v) => NarrowMut::F32(&mut v[start..start + n]),
            CpuStorage::BF16(v) => NarrowMut::BF16(&mut v[start..start + n]),
            CpuStorage::F16(v) => NarrowMut::F16(&mut v[start..start + n]),
            _ => return None,
        })
    }

    fn len(&self) -> usize {
        match self {
            NarrowMut::F32(v) => v.len(),
            NarrowMut::BF16(v) => v.len(),
            NarrowMut::F16(v) => v.len(),
        }
    }

    fn split_at_mut(self, mid: usize) -> (Self, Self) {
        match self {
            NarrowMut::F32(v) => {
                let (a, b) = v.split_at_mut(mid);
                (NarrowMut::F32(a), NarrowMut::F32(b))
            }
            NarrowMut::BF16(v) => {
                let (a, b) = v.split_at_mut(mid);
                (NarrowMut::BF16(a), NarrowMut::BF16(b))
            }
            NarrowMut::F16(v) => {
                let (a, b) = v.split_at_mut(mid);
                (NarrowMut::F16(a), NarrowMut::F16(b))
            }
        }
    }

    /// As [`Narrow::load`].
    #[inline(always)]
    fn load(&self, at: usize, out: &mut [f32]) {
        match self {
            NarrowMut::F32(v) => Narrow::F32(v).load(at, out),
            NarrowMut::BF16(v) => Narrow::BF16(v).load(at, out),
            NarrowMut::F16(v) => Narrow::F16(v).load(at, out),
        }
    }

    /// `values` rounded into elements `at ..`: to nearest, or for bf16 stochastically from
    /// `stream` when given, element `i` drawing with the storage index `first + i` (as
    /// `CpuStorage::narrowed_stochastic` over the whole buffer).
    #[inline(always)]
    fn store(&mut self, at: usize, values: &[f32], stochastic: Option<(u64, u64)>) {
        let n = values.len();
        match (self, stochastic) {
            (NarrowMut::F32(v), _) => v[at..at + n].copy_from_slice(values),
            (NarrowMut::BF16(v), None) => {
                for (o, &x) in v[at..at + n].iter_mut().zip(values) {
                    *o = bf16::from_bits(convert::round_bf16_bits(x.to_bits()));
                }
            }
            (NarrowMut::BF16(v), Some((stream, first))) => {
                for (i, (o, &x)) in v[at..at + n].iter_mut().zip(values).enumerate() {
                    let r = random16(stream, first + (at + i) as u64);
                    *o = bf16::from_bits(round_bf16_stochastic(x, r));
                }
            }
            (NarrowMut::F16(v), _) => v[at..at + n].convert_from_f32_slice(values),
        }
    }
}

/// [`fused_update`] when an operand is bf16 or f16 and none is f64 (`None` otherwise, with
/// nothing done: all f32 runs [`fused_update`] itself): the rule runs in f32 on blocks of [`BLOCK`] elements widened into scratch
/// (exact), and what it wrote is rounded back, so each 16-bit buffer is read and written once,
/// in cache, with no full-size f32 copies. The written bf16 operand rounds stochastically from
/// `stream` when given. Same values as widening whole buffers: the same f32 rule per element,
/// the same rounding.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fused_update_16<R: ElementRule<K>, const K: usize>(
    dst: &mut CpuStorage,
    target: FusedTarget,
    (start, n): (usize, usize),
    src: Option<(&CpuStorage, usize)>,
    (slots, starts): ([&mut CpuStorage; K], [usize; K]),
    rule: &R,
    stream: Option<u64>,
) -> Option<Result<()>> {
    let mut dtypes = slots.iter().map(|s| s.dtype()).collect::<Vec<_>>();
    dtypes.push(dst.dtype());
    dtypes.extend(src.map(|(s, _)| s.dtype()));
    let narrow = |d: &DType| matches!(d, DType::F32 | DType::BF16 | DType::F16);
    if !dtypes.iter().all(narrow) || dtypes.iter().all(|&d| d == DType::F32) {
        return None;
    }
    let src = src.map(|(s, o)| Narrow::of(s, o, n).expect("checked above"));
    let mut k = 0;
    let slots = slots.map(|s| {
        k += 1;
        NarrowMut::of(s, starts[k - 1], n).expect("checked above")
    });
    let job = HalfJob {
        dst: NarrowMut::of(dst, start, n).expect("checked above"),
        src,
        slots,
        first: start as u64,
        stream,
        dst_is_param: target == FusedTarget::Params,
        rule,
    };
    if n < PAR_MIN {
        with_widest_simd(job);
    } else {
        crate::threads::warm();
        job.split_into(CHUNK)
            .into_par_iter()
            .for_each(with_widest_simd);
    }
    Some(Ok(()))
}

/// A contiguous range of an update with 16-bit operands.
struct HalfJob<'a, R, const K: usize> {
    dst: NarrowMut<'a>,
    src: Option<Narrow<'a>>,
    slots: [NarrowMut<'a>; K],
    /// Storage index of `dst`'s first element (stochastic rounding draws by it).
    first: u64,
    stream: Option<u64>,
    dst_is_param: bool,
    rule: &'a R,
}

impl<'a, R, const K: usize> HalfJob<'a, R, K> {
    /// This range cut into consecutive jobs of `size` elements (the last shorter).
    fn split_into(self, size: usize) -> Vec<Self> {
        let mut jobs = Vec::new();
        let mut rest = self;
        while rest.dst.len() > size {
            let (dst, dst_rest) = rest.dst.split_at_mut(size);
            let (src, src_rest) = match rest.src {
                Some(s) => {
                    let (a, b) = s.split_at(size);
                    (Some(a), Some(b))
                }
                None => (None, None),
            };
            let mut heads = Vec::with_capacity(K);
            let tails = rest.slots.map(|s| {
                let (a, b) = s.split_at_mut(size);
                heads.push(a);
                b
            });
            let Ok(slots) = heads.try_into() else {
                unreachable!("K heads")
            };
            jobs.push(HalfJob {
                dst,
                src,
                slots,
                first: rest.first,
                stream: rest.stream,
                dst_is_param: rest.dst_is_param,
                rule: rest.rule,
            });
            rest = HalfJob {
                dst: dst_rest,
                src: src_rest,
                slots: tails,
                first: rest.first + size as u64,
                ..rest
            };
        }
        jobs.push(rest);
        jobs
    }
}

impl<R: ElementRule<K>, const K: usize> SimdKernel for HalfJob<'_, R, K> {
    #[inline(always)]
    fn run(self) {
        let HalfJob {
            mut dst,
            src,
            mut slots,
            first,
            stream,
            dst_is_param,
            rule,
        } = self;
        let n = dst.len();
        let (mut d, mut g) = ([0f32; BLOCK], [0f32; BLOCK]);
        let mut state = [[0f32; BLOCK]; K];
        for at in (0..n).step_by(BLOCK) {
            let len = BLOCK.min(n - at);
            dst.load(at, &mut d[..len]);
            if let Some(src) = &src {
                src.load(at, &mut g[..len]);
            }
            for (slot, s) in slots.iter().zip(&mut state) {
                slot.load(at, &mut s[..len]);
            }
            lanes::<f32, f32, R, K>(
                rule,
                &mut d[..len],
                src.as_ref().map(|_| &g[..len]),
                state.each_mut().map(|s| &mut s[..len]),
                dst_is_param,
            );
            dst.store(at, &d[..len], stream.map(|s| (s, first)));
            for (slot, s) in slots.iter_mut().zip(&state) {
                slot.store(at, &s[..len], None);
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

    /// `x` rounded to `dtype` (to nearest, or stochastically with `random`) and widened back.
    fn rounded(x: f32, dtype: DType, random: Option<u16>) -> f32 {
        use crate::precision::{convert, stochastic};
        match (dtype, random) {
            (DType::F32, _) => x,
            (DType::BF16, Some(r)) => {
                convert::bf16_bits_to_f32(stochastic::round_bf16_stochastic(x, r))
            }
            (DType::BF16, None) => convert::bf16_bits_to_f32(convert::f32_to_bf16_bits(x)),
            (DType::F16, _) => convert::f16_bits_to_f32(convert::f32_to_f16_bits(x)),
            (d, _) => unreachable!("{d:?}"),
        }
    }

    #[test]
    fn updates_of_16_bit_operands_are_the_f32_rule_rounded_once_per_step() {
        use crate::precision::stochastic::{next_stream, random16, stochastic_rounding};
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        // (parameter and gradient dtype, state dtype, stochastic rounding)
        let cases = [
            (DType::BF16, DType::BF16, false),
            (DType::BF16, DType::BF16, true),
            (DType::BF16, DType::F32, true),
            (DType::F16, DType::F16, false),
            (DType::F32, DType::BF16, false),
        ];
        for n in [700, 3 * PAR_MIN + 13] {
            for (case, &(pd, sd, sr)) in cases.iter().enumerate() {
                for target in [FusedTarget::Params, FusedTarget::Updates] {
                    let mut rng = Rng::seed(case as u64);
                    let round = |v: Vec<f32>, d| v.into_iter().map(move |x| rounded(x, d, None));
                    let p0: Vec<f32> = round(awkward(&mut rng, n, 1.0), pd).collect();
                    let g: Vec<f32> = round(awkward(&mut rng, n, 1e-2), pd).collect();
                    let p = Tensor::from_vec(p0.clone(), &[n])
                        .unwrap()
                        .to_dtype(pd)
                        .unwrap();
                    let grad = Tensor::from_vec(g.clone(), &[n])
                        .unwrap()
                        .to_dtype(pd)
                        .unwrap();
                    let slots = [0; 3].map(|_| Tensor::zeros(&[n], sd));
                    let (mut want_p, mut want_g) = (p0, g);
                    let mut want_state = [vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]];
                    // two steps, so that the second reads rounded state
                    for step in 0..2u64 {
                        let [m, v, vmax] = slots.each_ref();
                        let update = || fused_update(target, &p, &grad, [m, v, vmax], &AdamLike);
                        let stream = match sr {
                            true => {
                                stochastic_rounding(step, update).unwrap();
                                stochastic_rounding(step, next_stream)
                            }
                            false => {
                                update().unwrap();
                                None
                            }
                        };
                        for i in 0..n {
                            let r = stream.map(|s| random16(s, i as u64));
                            let [m, v, vmax] = want_state.each_mut().map(|s| &mut s[i]);
                            let d = AdamLike.lane(want_p[i], want_g[i], [m, v, vmax]);
                            match target {
                                FusedTarget::Params => want_p[i] = rounded(want_p[i] + d, pd, r),
                                FusedTarget::Updates => want_g[i] = rounded(d, pd, r),
                            }
                            for s in want_state.iter_mut() {
                                s[i] = rounded(s[i], sd, None);
                            }
                        }
                    }
                    let got = |t: &Tensor| t.to_dtype(DType::F32).unwrap().to_vec::<f32>().unwrap();
                    let what =
                        format!("{pd:?} params, {sd:?} state, stochastic {sr}, {target:?}, n {n}");
                    assert_eq!(bits(&got(&p)), bits(&want_p), "parameters: {what}");
                    assert_eq!(bits(&got(&grad)), bits(&want_g), "gradients: {what}");
                    for (buffer, want) in slots.iter().zip(&want_state) {
                        assert_eq!(bits(&got(buffer)), bits(want), "state: {what}");
                    }
                }
            }
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
