//! Reductions over the trailing axis of a contiguous `[outer, inner]` block, and over the leading
//! axis of `[outer, inner]`. Each output element is summed in a fixed order, so results do not
//! depend on the thread count.

use super::fast_math::replaces_max;
use super::{CHUNK, PARALLEL_THRESHOLD};
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

/// Sums a row-major `[rows, len]` block over its rows, giving `len` values.
pub(crate) fn sum_cols<T: Element>(x: &[T], len: usize) -> Vec<T> {
    if len == 0 {
        return Vec::new();
    }
    let add_rows = |cols: std::ops::Range<usize>| {
        let mut acc = vec![T::zero(); cols.len()];
        for row in x.chunks(len) {
            for (a, &v) in acc.iter_mut().zip(&row[cols.clone()]) {
                *a = *a + v;
            }
        }
        acc
    };
    if x.len() < PARALLEL_THRESHOLD || len < 2 * CHUNK / 8 {
        return add_rows(0..len);
    }
    let block = 512;
    crate::threads::warm();
    let starts: Vec<usize> = (0..len).step_by(block).collect();
    starts
        .par_iter()
        .flat_map_iter(|&s| add_rows(s..(s + block).min(len)))
        .collect()
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
    use super::max_rows;

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
