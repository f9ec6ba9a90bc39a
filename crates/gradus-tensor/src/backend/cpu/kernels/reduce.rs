//! Reductions over the trailing axis of a contiguous `[outer, inner]` block, and over the leading
//! axis of `[outer, inner]`. Each output element is summed in a fixed order, so results do not
//! depend on the thread count.

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
        let mut best = (r[0], 0);
        for (i, &v) in r.iter().enumerate().skip(1) {
            if v > best.0 || (v.is_nan() && !best.0.is_nan()) {
                best = (v, i);
            }
        }
        best
    };
    let pairs: Vec<(T, usize)> = if x.len() < PARALLEL_THRESHOLD {
        x.chunks(len).map(row_max).collect()
    } else {
        x.par_chunks(len).map(row_max).collect()
    };
    pairs.into_iter().unzip()
}
