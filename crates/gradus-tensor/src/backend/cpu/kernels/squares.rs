//! Sums of squares in f64, for norms: `Σ x²` and `Σ (a - b)²` over f32 or f64 slices, each
//! element widened to f64 before it is squared (or subtracted).
//!
//! The order is fixed by the length alone. A slice is cut into blocks of [`BLOCK`] elements
//! (one block below [`PARALLEL_THRESHOLD`] elements). In a block, element `i` goes to partial sum
//! `i mod LANES`, added in index order, and the `LANES` partials are then added pairwise
//! (`p[j] + p[j + 16]`, then `+ 8`, `+ 4`, `+ 2`, `+ 1`); the blocks' sums are added in block
//! order. Every instruction level and thread count gives the same bits. A single running sum
//! waits four cycles for each add (the f64 add latency); 32 independent ones (four AVX-512
//! registers) let the loop run at the speed of the loads, and the blocks run in parallel: the
//! per-step gradient norms of an MNIST MLP (535,000 parameters) were most of the trainer's
//! diagnostics time with 16 partial sums on one thread.

use super::{with_widest_simd, SimdKernel, PARALLEL_THRESHOLD};
use crate::Element;
use rayon::prelude::*;
use std::ops::Range;

/// Independent partial sums: four AVX-512 registers, eight AVX2 ones, sixteen SSE ones.
pub(crate) const LANES: usize = 32;

/// Elements per block of a slice of at least [`PARALLEL_THRESHOLD`] elements.
const BLOCK: usize = 1 << 16;

/// The partials added pairwise in the fixed order.
#[inline(always)]
fn total(mut p: [f64; LANES]) -> f64 {
    let mut half = LANES / 2;
    while half > 0 {
        for j in 0..half {
            p[j] += p[j + half];
        }
        half /= 2;
    }
    p[0]
}

/// Adds one block's squares to the partials.
#[inline(always)]
fn add_squares<T: Element>(p: &mut [f64; LANES], x: &[T; LANES]) {
    for j in 0..LANES {
        let v = x[j].to_f64();
        p[j] += v * v;
    }
}

/// Adds one block's squared differences to the partials.
#[inline(always)]
fn add_diff_squares<T: Element>(p: &mut [f64; LANES], a: &[T; LANES], b: &[T; LANES]) {
    for j in 0..LANES {
        let d = a[j].to_f64() - b[j].to_f64();
        p[j] += d * d;
    }
}

/// The last, partial block padded with zeros. Adding a padded lane's `+0` leaves its partial as
/// it was (a partial is never `-0`), so the bits are those of adding the tail alone; a padded
/// block keeps the loop's vector code, where indexing the tail lane by lane did not vectorize.
#[inline(always)]
fn padded<T: Element>(tail: &[T]) -> [T; LANES] {
    let mut block = [T::zero(); LANES];
    block[..tail.len()].copy_from_slice(tail);
    block
}

/// A whole block of a slice cut by `chunks_exact(LANES)`.
#[inline(always)]
fn whole<T>(c: &[T]) -> &[T; LANES] {
    c.try_into().expect("chunks_exact gives whole blocks")
}

/// `Σ x²` in f64.
struct Squares<'a, T> {
    x: &'a [T],
    out: &'a mut f64,
}

impl<T: Element> SimdKernel for Squares<'_, T> {
    #[inline(always)]
    fn run(self) {
        let mut p = [0.0f64; LANES];
        let chunks = self.x.chunks_exact(LANES);
        let tail = chunks.remainder();
        for c in chunks {
            add_squares(&mut p, whole(c));
        }
        if !tail.is_empty() {
            add_squares(&mut p, &padded(tail));
        }
        *self.out = total(p);
    }
}

/// `Σ (a - b)²` in f64 (`a` and `b` of one length).
struct DiffSquares<'a, T> {
    a: &'a [T],
    b: &'a [T],
    out: &'a mut f64,
}

impl<T: Element> SimdKernel for DiffSquares<'_, T> {
    #[inline(always)]
    fn run(self) {
        let mut p = [0.0f64; LANES];
        let (ca, cb) = (self.a.chunks_exact(LANES), self.b.chunks_exact(LANES));
        let (ta, tb) = (ca.remainder(), cb.remainder());
        for (x, y) in ca.zip(cb) {
            add_diff_squares(&mut p, whole(x), whole(y));
        }
        if !ta.is_empty() {
            add_diff_squares(&mut p, &padded(ta), &padded(tb));
        }
        *self.out = total(p);
    }
}

/// `Σ x²`, squares taken and added in f64 in the order of the module doc.
pub(crate) fn sum_squares<T: Element>(x: &[T]) -> f64 {
    over_blocks(x.len(), |r| {
        let mut out = 0.0;
        with_widest_simd(Squares {
            x: &x[r],
            out: &mut out,
        });
        out
    })
}

/// `Σ (a - b)²`, differences taken in f64, in the order of the module doc.
///
/// # Panics
/// When `a` and `b` differ in length.
pub(crate) fn sum_squared_diff<T: Element>(a: &[T], b: &[T]) -> f64 {
    assert_eq!(a.len(), b.len(), "sum_squared_diff: lengths differ");
    over_blocks(a.len(), |r| {
        let mut out = 0.0;
        with_widest_simd(DiffSquares {
            a: &a[r.clone()],
            b: &b[r],
            out: &mut out,
        });
        out
    })
}

/// `sum` of the blocks of `0..n` in the module doc's order: one block below
/// [`PARALLEL_THRESHOLD`], else [`BLOCK`]-element blocks on the pool, added in block order.
fn over_blocks(n: usize, sum: impl Fn(Range<usize>) -> f64 + Sync) -> f64 {
    if n < PARALLEL_THRESHOLD {
        return sum(0..n);
    }
    crate::threads::warm();
    let sums: Vec<f64> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| sum(b * BLOCK..n.min((b + 1) * BLOCK)))
        .collect();
    sums.into_iter().fold(0.0, |acc, s| acc + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: the documented order written out serially.
    fn reference(terms: impl Iterator<Item = f64>) -> f64 {
        let terms: Vec<f64> = terms.collect();
        let block = if terms.len() < PARALLEL_THRESHOLD {
            terms.len().max(1)
        } else {
            BLOCK
        };
        let mut total = 0.0;
        for b in terms.chunks(block) {
            let mut p = [0.0f64; LANES];
            for (i, t) in b.iter().enumerate() {
                p[i % LANES] += t;
            }
            let mut half = LANES / 2;
            while half > 0 {
                for j in 0..half {
                    p[j] += p[j + half];
                }
                half /= 2;
            }
            total += p[0];
        }
        total
    }

    fn values<T: Element>(n: usize, seed: f64) -> Vec<T> {
        // magnitudes over several decades, so that the order of the additions shows in the bits
        (0..n)
            .map(|i| T::from_f64((i as f64 * seed).sin() * 10f64.powi((i % 7) as i32 - 3)))
            .collect()
    }

    fn check<T: Element>() {
        let blocks = PARALLEL_THRESHOLD + 3 * BLOCK / 2;
        for n in [0, 1, 15, 16, 17, 31, 33, 100, 1023, 4099, blocks] {
            let (a, b) = (values::<T>(n, 0.37), values::<T>(n, 0.91));
            let want = reference(a.iter().map(|&x| x.to_f64() * x.to_f64()));
            // the widest level this CPU has (in blocks on the pool), and the baseline build
            assert_eq!(sum_squares(&a).to_bits(), want.to_bits(), "{n}");
            if n < PARALLEL_THRESHOLD {
                let mut base = 0.0;
                Squares {
                    x: &a,
                    out: &mut base,
                }
                .run();
                assert_eq!(base.to_bits(), want.to_bits(), "{n}");
            }

            let want = reference(a.iter().zip(&b).map(|(&x, &y)| {
                let d = x.to_f64() - y.to_f64();
                d * d
            }));
            assert_eq!(sum_squared_diff(&a, &b).to_bits(), want.to_bits(), "{n}");
            if n < PARALLEL_THRESHOLD {
                let mut base = 0.0;
                DiffSquares {
                    a: &a,
                    b: &b,
                    out: &mut base,
                }
                .run();
                assert_eq!(base.to_bits(), want.to_bits(), "{n}");
            }
        }
    }

    #[test]
    fn every_level_adds_in_the_documented_order_f32() {
        check::<f32>();
        // the check sees the order: one running sum gives other bits on these values
        let a = values::<f32>(4099, 0.37);
        let serial = a.iter().fold(0.0f64, |s, x| s + x.to_f64() * x.to_f64());
        assert_ne!(serial.to_bits(), sum_squares(&a).to_bits());
    }

    #[test]
    fn every_level_adds_in_the_documented_order_f64() {
        check::<f64>();
    }

    #[test]
    fn f32_squares_are_exact_in_f64() {
        // 1e7^2 + 1 + 1 is exact in f64 (1e14 + 2) but rounds to 1e14 in f32
        assert_eq!(sum_squares(&[1e7f32, 1.0, -1.0]), 1e14 + 2.0);
        // 2^24 + 1 is not an f32; (2^24 + 2) - 1 in f64 is
        let (a, b) = ([16_777_218.0f32], [1.0f32]);
        assert_eq!(sum_squared_diff(&a, &b), 16_777_217.0f64 * 16_777_217.0);
    }
}
