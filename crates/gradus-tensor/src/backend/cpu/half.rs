//! 16-bit tensors on the CPU: stored as `bf16` / `f16`, computed in f32 (see [`crate::DType`]).
//!
//! A backend call with a 16-bit operand widens each such operand to an f32 buffer indexed as
//! before (so every layout stays valid), runs the f32 kernel and rounds its result once to the
//! 16-bit type. Widening is exact, so the result is the f32 op on the 16-bit values, rounded:
//! products accumulate and reductions run in f32, and a 16-bit op never rounds in between.

use super::kernels::filled;
use super::CpuStorage;
use crate::backend::BackendStorage;
use crate::precision::convert::{round_bf16, widen_bf16};
use crate::precision::{bf16, f16};
use crate::DType;
use half::slice::HalfFloatSliceExt;
use rayon::prelude::*;
use std::borrow::Cow;
use std::mem::MaybeUninit;

/// Elements converted per parallel chunk.
const CHUNK: usize = 1 << 16;

/// The first 16-bit dtype among `operands`: the dtype a call's result is rounded to.
pub(crate) fn half_dtype(operands: &[&CpuStorage]) -> Option<DType> {
    operands
        .iter()
        .map(|s| s.dtype())
        .find(|d| d.half().is_some())
}

/// `convert` applied to `src` in parallel chunks of [`CHUNK`] elements, into a new vector.
///
/// # Safety
/// `convert` must write every element of the (equally long) output chunk it is given.
unsafe fn chunked<S: Sync, D: Send>(
    src: &[S],
    convert: impl Fn(&[S], &mut [MaybeUninit<D>]) + Sync,
) -> Vec<D> {
    let fill = |out: &mut [MaybeUninit<D>]| {
        crate::threads::warm();
        out.par_chunks_mut(CHUNK)
            .zip(src.par_chunks(CHUNK))
            .for_each(|(o, s)| convert(s, o))
    };
    // SAFETY: the chunks cover the whole output, and the caller's `convert` writes each chunk.
    unsafe { filled(src.len(), fill) }
}

/// `out` with every element set to `value`, as an initialized slice.
fn initialized<T: Copy>(out: &mut [MaybeUninit<T>], value: T) -> &mut [T] {
    out.iter_mut().for_each(|o| {
        o.write(value);
    });
    // SAFETY: every element was just written, and `MaybeUninit<T>` has `T`'s layout.
    unsafe { &mut *(out as *mut [MaybeUninit<T>] as *mut [T]) }
}

/// For the f32/f64 kernels' dispatch: a 16-bit buffer there is a broken invariant, since each
/// backend call widens its operands first.
pub(crate) fn not_widened(s: &CpuStorage) -> ! {
    unreachable!("{:?} reaches kernels widened to f32", s.dtype())
}

impl CpuStorage {
    /// This buffer with 16-bit elements widened to f32 (exact, same indexing); borrowed when its
    /// elements are already f32 or f64.
    pub(crate) fn widened(&self) -> Cow<'_, CpuStorage> {
        match self {
            // SAFETY (both arms): each conversion writes its whole output chunk.
            CpuStorage::BF16(v) => Cow::Owned(CpuStorage::F32(unsafe { chunked(v, widen_bf16) })),
            CpuStorage::F16(v) => Cow::Owned(CpuStorage::F32(unsafe {
                chunked(v, |s, o| {
                    // `half`'s f16 conversion (F16C where the CPU has it) writes initialized slices
                    s.convert_to_f32_slice(initialized(o, 0.0));
                })
            })),
            _ => Cow::Borrowed(self),
        }
    }

    /// This f32 result rounded to `dtype` when that is 16-bit (round to nearest, ties to even,
    /// subnormals kept); unchanged otherwise.
    pub(crate) fn narrowed(self, dtype: DType) -> CpuStorage {
        match (dtype, &self) {
            // SAFETY (both arms): each conversion writes its whole output chunk.
            (DType::BF16, CpuStorage::F32(v)) => {
                CpuStorage::BF16(unsafe { chunked(v, round_bf16) })
            }
            (DType::F16, CpuStorage::F32(v)) => CpuStorage::F16(unsafe {
                chunked(v, |s, o| {
                    initialized(o, f16::ZERO).convert_from_f32_slice(s)
                })
            }),
            (DType::BF16 | DType::F16, _) => super::copy::cast(
                &self,
                &crate::layout::Layout::contiguous(&[self.len()]),
                dtype,
            ),
            _ => self,
        }
    }

    /// This f32 result rounded to bf16 stochastically from the random `stream` (see
    /// [`crate::precision::stochastic`]); each element's bits depend on its index only.
    pub(crate) fn narrowed_stochastic(self, stream: u64) -> CpuStorage {
        use crate::precision::stochastic::{random16, round_bf16_stochastic};
        let CpuStorage::F32(v) = &self else {
            return self.narrowed(DType::BF16);
        };
        let mut out = vec![bf16::ZERO; v.len()];
        crate::threads::warm();
        out.par_chunks_mut(CHUNK).enumerate().for_each(|(i, o)| {
            for (j, (d, &x)) in o.iter_mut().zip(&v[i * CHUNK..]).enumerate() {
                let r = random16(stream, (i * CHUNK + j) as u64);
                *d = bf16::from_bits(round_bf16_stochastic(x, r));
            }
        });
        CpuStorage::BF16(out)
    }

    /// Runs `f` on this buffer widened to f32 and stores what it wrote back, rounded, when the
    /// buffer is 16-bit; on the buffer itself otherwise (in-place calls).
    pub(crate) fn in_f32<R>(&mut self, f: impl FnOnce(&mut CpuStorage) -> R) -> R {
        let dtype = self.dtype();
        if dtype.half().is_none() {
            return f(self);
        }
        let mut wide = self.widened().into_owned();
        let r = f(&mut wide);
        *self = wide.narrowed(dtype);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::precision::{convert, Half};

    #[test]
    fn widening_and_rounding_equal_the_reference_conversions_across_chunks() {
        // values across the whole range: normals, subnormals of both formats, overflow, NaN
        let n = CHUNK * 2 + 37;
        let values: Vec<f32> = (0..n)
            .map(|i| match i % 7 {
                0 => f32::from_bits((i as u32).wrapping_mul(2_654_435_761)),
                1 => (i as f32) * 1e-41,
                2 => (i as f32) * 3e-6,
                3 => 70_000.0 + i as f32,
                4 => f32::NAN,
                5 => -(i as f32) / 3.0,
                _ => 1.0 + (i as f32) * 2f32.powi(-20),
            })
            .collect();
        for (dtype, format) in [(DType::BF16, Half::BF16), (DType::F16, Half::F16)] {
            let narrow = CpuStorage::F32(values.clone()).narrowed(dtype);
            assert_eq!(narrow.dtype(), dtype);
            let wide = narrow.widened().into_owned();
            let want = convert::from_bits(format, &convert::to_bits(format, &values));
            let reference: Vec<f32> = values.iter().map(|&v| format.round(v)).collect();
            let got = wide.slice::<f32>();
            for ((g, w), r) in got.iter().zip(&want).zip(&reference) {
                assert!(
                    g.to_bits() == r.to_bits() || (g.is_nan() && r.is_nan()),
                    "{g} {r}"
                );
                assert!(g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()));
            }
        }
    }
}
