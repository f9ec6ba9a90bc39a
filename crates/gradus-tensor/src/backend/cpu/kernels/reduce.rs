//! Reductions over the trailing axis of a contiguous `[outer, inner]` block, and over the leading
//! axis of `[outer, inner]`. Each output element is summed in a fixed order, so results do not
//! depend on the thread count.

use super::fast_math::replaces_max;
use super::{with_widest_simd, SimdKernel, PARALLEL_THRESHOLD};
use crate::Element;
use rayon::prelude::*;

/// Sums each row of a row-major `[rows, len]` block (`len` > 0: with empty rows the caller knows
/// the row count, this slice does not).
pub(crate) fn sum_rows<T: Element>(x: &[T], len: usize) -> Vec<T> {
    if len == 0 {
        return Vec::new();
    }
    let row_sum = |r: &[T]| r.iter().fold(T::zero(), |acc, &v| acc + v);
    if x.len() < PARALLEL_THRESHOLD {
        x.chunks(len).map(row_sum).collect()
    } else {
        let mut out = Vec::with_capacity(x.len() / len);
        crate::threads::warm();
        x.par_chunks(len).map(row_sum).collect_into_vec(&mut out);
        out
    }
}

/// Columns per task of [`sum_cols`]: four cache lines of f32 per row.
const SUM_COLS: usize = 64;

/// Sums a row-major `[rows, cols]` block over its rows, giving `cols` values, each over the rows
/// in order (so the bits do not depend on the thread count or the SIMD level); blocks of
/// [`SUM_COLS`] columns, each summed in registers at the widest SIMD level, run in parallel when
/// the block is big (bias gradients, `sum(axis = 0)`).
pub(crate) fn sum_cols<T: Element>(g: &[T], cols: usize) -> Vec<T> {
    let mut sums = vec![T::zero(); cols];
    if cols == 0 {
        return sums;
    }
    let block = |(b, sums): (usize, &mut [T])| {
        with_widest_simd(ColumnSums {
            g,
            cols,
            start: b * SUM_COLS,
            sums,
        })
    };
    if g.len() >= PARALLEL_THRESHOLD && cols > SUM_COLS {
        crate::threads::warm();
        sums.par_chunks_mut(SUM_COLS).enumerate().for_each(block);
    } else {
        sums.chunks_mut(SUM_COLS).enumerate().for_each(block);
    }
    sums
}

/// `sums[j] = sum_rows g[row][start + j]` for the (at most [`SUM_COLS`]) columns of `sums`.
struct ColumnSums<'a, T> {
    g: &'a [T],
    cols: usize,
    start: usize,
    sums: &'a mut [T],
}

impl<T: Element> SimdKernel for ColumnSums<'_, T> {
    #[inline(always)]
    fn run(self) {
        let len = self.sums.len();
        let mut acc = [T::zero(); SUM_COLS];
        if len == SUM_COLS {
            // a full block: a fixed width, so the accumulators stay in registers
            for row in self.g.chunks_exact(self.cols) {
                let row = &row[self.start..self.start + SUM_COLS];
                for (a, &v) in acc.iter_mut().zip(row) {
                    *a = *a + v;
                }
            }
        } else {
            for row in self.g.chunks_exact(self.cols) {
                for (a, &v) in acc.iter_mut().zip(&row[self.start..self.start + len]) {
                    *a = *a + v;
                }
            }
        }
        self.sums.copy_from_slice(&acc[..len]);
    }
}

/// Maximum and its first index for each row of a row-major `[rows, len]` block.
pub(crate) fn max_rows<T: Element>(x: &[T], len: usize) -> (Vec<T>, Vec<usize>) {
    if len == 0 {
        // callers refuse an empty axis; no rows to report
        return (Vec::new(), Vec::new());
    }
    let row_max = |r: &[T]| {
        let (mut best, mut at) = (r[0], 0);
        for (i, &v) in r.iter().enumerate().skip(1) {
            let take = replaces_max(v, best);
            best = if take { v } else { best };
            at = if take { i } else { at };
        }
        (best, at)
    };
    let pairs: Vec<(T, usize)> = if x.len() < PARALLEL_THRESHOLD {
        x.chunks(len).map(row_max).collect()
    } else {
        crate::threads::warm();
        x.par_chunks(len).map(row_max).collect()
    };
    pairs.into_iter().unzip()
}

#[cfg(test)]
mod tests {
    use super::{max_rows, sum_cols, PARALLEL_THRESHOLD, SUM_COLS};

    /// Column sums over the rows in order, to the bit, whether the column blocks run in parallel
    /// (a partial last block) or not.
    #[test]
    fn sum_cols_adds_the_rows_in_order() {
        for (rows, cols) in [(2100, 130), (7, 130), (3, 5), (0, 4)] {
            let g: Vec<f32> = (0..rows * cols)
                .map(|i| ((i * 7919) % 1009) as f32 * 1e-3 - 0.5)
                .collect();
            let mut want = vec![0.0f32; cols];
            for row in g.chunks_exact(cols) {
                for (s, &v) in want.iter_mut().zip(row) {
                    *s += v;
                }
            }
            assert_eq!(sum_cols(&g, cols), want, "{rows} x {cols}");
        }
        const { assert!(2100 * 130 >= PARALLEL_THRESHOLD && 130 > 2 * SUM_COLS) };
        assert_eq!(sum_cols::<f32>(&[], 0), Vec::<f32>::new());
    }

    /// Each row's first maximum, a NaN counting as the maximum (the first NaN wins), as
    /// PyTorch's `max(dim)` reports it.
    #[test]
    fn max_rows_gives_the_first_maximum_and_the_first_nan() {
        let nan = f32::NAN;
        let rows = [
            [1.0, 3.0, 3.0, 2.0],
            [f32::NEG_INFINITY; 4],
            [0.5, nan, 7.0, nan],
            [-2.0, -1.0, -1.0, -3.0],
            [4.0, 4.0, 4.0, 4.0],
            [nan, 9.0, 1.0, 2.0],
        ];
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        let (values, index) = max_rows(&flat, 4);
        assert_eq!(index, vec![1, 0, 1, 1, 0, 0]);
        let want = [3.0, f32::NEG_INFINITY, nan, -1.0, 4.0, nan];
        for (v, w) in values.iter().zip(want) {
            assert!(v == &w || (v.is_nan() && w.is_nan()), "{v} {w}");
        }
    }
}
