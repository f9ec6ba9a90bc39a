//! Elementwise kernels: unary maps and broadcasting binary zips, parallel above a threshold.

use super::{CHUNK, PARALLEL_THRESHOLD};
use crate::layout::Layout;
use crate::Element;
use rayon::prelude::*;

/// `out[i] = f(x[i])`.
pub(crate) fn map<T: Element>(x: &[T], f: impl Fn(T) -> T + Sync + Send) -> Vec<T> {
    if x.len() < PARALLEL_THRESHOLD {
        return x.iter().map(|&v| f(v)).collect();
    }
    let mut out = Vec::with_capacity(x.len());
    x.par_iter().with_min_len(CHUNK).map(|&v| f(v)).collect_into_vec(&mut out);
    out
}

/// `out[i] = f(a[i], b[i])` for equal-length slices.
pub(crate) fn zip<T: Element>(a: &[T], b: &[T], f: impl Fn(T, T) -> T + Sync + Send) -> Vec<T> {
    if a.len() < PARALLEL_THRESHOLD {
        return a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect();
    }
    let mut out = Vec::with_capacity(a.len());
    a.par_iter().zip(b.par_iter()).with_min_len(CHUNK).map(|(&x, &y)| f(x, y)).collect_into_vec(&mut out);
    out
}

/// `out[i] = f(a[i], b[i], c[i])` for equal-length slices (fused multiply-add and friends).
pub(crate) fn zip3<T: Element>(a: &[T], b: &[T], c: &[T], f: impl Fn(T, T, T) -> T + Sync + Send) -> Vec<T> {
    if a.len() < PARALLEL_THRESHOLD {
        return a.iter().zip(b).zip(c).map(|((&x, &y), &z)| f(x, y, z)).collect();
    }
    let mut out = vec![T::zero(); a.len()];
    out.par_chunks_mut(CHUNK)
        .zip(a.par_chunks(CHUNK))
        .zip(b.par_chunks(CHUNK).zip(c.par_chunks(CHUNK)))
        .for_each(|((o, a), (b, c))| {
            for i in 0..o.len() {
                o[i] = f(a[i], b[i], c[i]);
            }
        });
    out
}

/// Storage offset of the first element of row `row` (rows are runs of the last axis).
fn row_base(layout: &Layout, mut row: usize) -> usize {
    let rank = layout.shape.len();
    let mut base = layout.offset;
    for axis in (0..rank.saturating_sub(1)).rev() {
        let d = layout.shape[axis];
        base += (row % d) * layout.strides[axis];
        row /= d;
    }
    base
}

/// `out = f(a, b)` where `a` and `b` are strided views already broadcast to the output shape.
pub(crate) fn zip_strided<T: Element>(
    a: &[T],
    la: &Layout,
    b: &[T],
    lb: &Layout,
    f: impl Fn(T, T) -> T + Sync + Send,
) -> Vec<T> {
    let numel = la.numel();
    let rank = la.shape.len();
    let inner = if rank == 0 { 1 } else { la.shape[rank - 1] };
    let (sa, sb) = if rank == 0 { (0, 0) } else { (la.strides[rank - 1], lb.strides[rank - 1]) };
    let mut out = vec![T::zero(); numel];
    if numel == 0 {
        return out;
    }
    let fill_row = |r: usize, o: &mut [T]| {
        let (ba, bb) = (row_base(la, r), row_base(lb, r));
        match (sa, sb) {
            (1, 1) => o.iter_mut().zip(&a[ba..ba + inner]).zip(&b[bb..bb + inner]).for_each(|((o, &x), &y)| *o = f(x, y)),
            (1, 0) => o.iter_mut().zip(&a[ba..ba + inner]).for_each(|(o, &x)| *o = f(x, b[bb])),
            (0, 1) => o.iter_mut().zip(&b[bb..bb + inner]).for_each(|(o, &y)| *o = f(a[ba], y)),
            _ => o.iter_mut().enumerate().for_each(|(j, o)| *o = f(a[ba + j * sa], b[bb + j * sb])),
        }
    };
    if numel < PARALLEL_THRESHOLD {
        out.chunks_mut(inner).enumerate().for_each(|(r, o)| fill_row(r, o));
    } else {
        let rows_per_task = (CHUNK / inner).max(1);
        out.par_chunks_mut(inner * rows_per_task).enumerate().for_each(|(t, block)| {
            for (i, o) in block.chunks_mut(inner).enumerate() {
                fill_row(t * rows_per_task + i, o);
            }
        });
    }
    out
}

/// A contiguous copy of a strided view.
pub(crate) fn gather_strided<T: Element>(src: &[T], layout: &Layout) -> Vec<T> {
    let mut out = Vec::with_capacity(layout.numel());
    layout.for_each_offset(|o| out.push(src[o]));
    out
}
