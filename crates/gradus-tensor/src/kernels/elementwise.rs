//! Elementwise kernels: unary maps and broadcasting binary zips, parallel above a threshold.

use super::{CHUNK, PARALLEL_THRESHOLD};
use crate::layout::Layout;
use crate::Element;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// A new vector of `n` elements, written chunk by chunk (in parallel above the threshold) by
/// `fill(start, chunk)`, without zero-filling first.
fn fill_new<T: Element>(
    n: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<T>]) + Sync + Send,
) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(n);
    let spare = &mut out.spare_capacity_mut()[..n];
    if n < PARALLEL_THRESHOLD {
        fill(0, spare);
    } else {
        spare
            .par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(i, chunk)| fill(i * CHUNK, chunk));
    }
    // SAFETY: `fill` wrote every element of every chunk, and the chunks cover 0..n.
    unsafe { out.set_len(n) };
    out
}

/// `out[i] = f(x[i])`.
pub(crate) fn map<T: Element>(x: &[T], f: impl Fn(T) -> T + Sync + Send) -> Vec<T> {
    fill_new(x.len(), |start, o| {
        let x = &x[start..start + o.len()];
        o.iter_mut().zip(x).for_each(|(o, &v)| {
            o.write(f(v));
        })
    })
}

/// `out[i] = f(a[i], b[i])` for equal-length slices.
pub(crate) fn zip<T: Element>(a: &[T], b: &[T], f: impl Fn(T, T) -> T + Sync + Send) -> Vec<T> {
    fill_new(a.len(), |start, o| {
        let (a, b) = (&a[start..start + o.len()], &b[start..start + o.len()]);
        o.iter_mut().zip(a.iter().zip(b)).for_each(|(o, (&x, &y))| {
            o.write(f(x, y));
        })
    })
}

/// `out[i] = f(a[i], b[i], c[i])` for equal-length slices (fused multiply-add and friends).
pub(crate) fn zip3<T: Element>(
    a: &[T],
    b: &[T],
    c: &[T],
    f: impl Fn(T, T, T) -> T + Sync + Send,
) -> Vec<T> {
    fill_new(a.len(), |start, o| {
        let r = start..start + o.len();
        let (a, b, c) = (&a[r.clone()], &b[r.clone()], &c[r]);
        o.iter_mut()
            .zip(a.iter().zip(b.iter().zip(c)))
            .for_each(|(o, (&x, (&y, &z)))| {
                o.write(f(x, y, z));
            })
    })
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
    let (sa, sb) = if rank == 0 {
        (0, 0)
    } else {
        (la.strides[rank - 1], lb.strides[rank - 1])
    };
    let mut out = vec![T::zero(); numel];
    if numel == 0 {
        return out;
    }
    let fill_row = |r: usize, o: &mut [T]| {
        let (ba, bb) = (row_base(la, r), row_base(lb, r));
        match (sa, sb) {
            (1, 1) => o
                .iter_mut()
                .zip(&a[ba..ba + inner])
                .zip(&b[bb..bb + inner])
                .for_each(|((o, &x), &y)| *o = f(x, y)),
            (1, 0) => o
                .iter_mut()
                .zip(&a[ba..ba + inner])
                .for_each(|(o, &x)| *o = f(x, b[bb])),
            (0, 1) => o
                .iter_mut()
                .zip(&b[bb..bb + inner])
                .for_each(|(o, &y)| *o = f(a[ba], y)),
            _ => o
                .iter_mut()
                .enumerate()
                .for_each(|(j, o)| *o = f(a[ba + j * sa], b[bb + j * sb])),
        }
    };
    if numel < PARALLEL_THRESHOLD {
        out.chunks_mut(inner)
            .enumerate()
            .for_each(|(r, o)| fill_row(r, o));
    } else {
        let rows_per_task = (CHUNK / inner).max(1);
        out.par_chunks_mut(inner * rows_per_task)
            .enumerate()
            .for_each(|(t, block)| {
                for (i, o) in block.chunks_mut(inner).enumerate() {
                    fill_row(t * rows_per_task + i, o);
                }
            });
    }
    out
}

/// A contiguous copy of a strided view, a row (last axis) at a time: rows of unit stride are
/// copied whole, broadcast rows (stride 0) filled.
pub(crate) fn gather_strided<T: Element>(src: &[T], layout: &Layout) -> Vec<T> {
    let mut out = Vec::with_capacity(layout.numel());
    let (len, stride) = layout.row();
    layout.for_each_row(|base| match stride {
        1 => out.extend_from_slice(&src[base..base + len]),
        0 => out.resize(out.len() + len, src[base]),
        _ => out.extend((0..len).map(|j| src[base + j * stride])),
    });
    out
}
