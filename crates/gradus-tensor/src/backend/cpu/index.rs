//! Indexing on the CPU: `index_select` / `index_add`, `gather` / `scatter_add`, `one_hot`.
//!
//! Indices arrive as a view of a float buffer holding whole numbers (any float dtype, whatever the
//! data's). [`indices`] reads and checks them in one pass into host `usize`s; the loops then run on
//! those, as they did when the indices came from the host.

use super::copy::split;
use super::CpuStorage;
use crate::backend::BackendStorage;
use crate::dtype::{with_any_dtype, with_dtype};
use crate::layout::Layout;
use crate::{DType, Element, Result, TensorError};
use num_traits::{One, Zero};

/// The index view `(idx, layout)` as `usize`s, each checked to be a whole number in `0..size`.
///
/// # Errors
/// [`TensorError::InvalidIndex`] naming `op`, the first bad value and its position in the view.
pub(crate) fn indices(
    op: &'static str,
    (idx, layout): (&CpuStorage, &Layout),
    size: usize,
) -> Result<Vec<usize>> {
    fn go<I: Element>(
        op: &'static str,
        v: &[I],
        shape: &[usize],
        size: usize,
    ) -> Result<Vec<usize>> {
        let limit = size as f64;
        let mut out = Vec::with_capacity(v.len());
        for (p, &x) in v.iter().enumerate() {
            let f = x.to_f64();
            // NaN fails every comparison; in `0..limit` the cast truncates exactly, so the round
            // trip keeps whole numbers only (without a libm `trunc` per index on baseline x86-64)
            if !(f >= 0.0 && f < limit && (f as usize) as f64 == f) {
                return Err(TensorError::InvalidIndex {
                    op,
                    position: unravel(p, shape),
                    value: f,
                    size,
                });
            }
            out.push(f as usize);
        }
        Ok(out)
    }
    with_any_dtype!(idx.dtype(), I => go::<I>(op, &idx.view::<I>(layout), layout.shape(), size))
}

/// The coordinates of row-major position `p` in `shape`.
fn unravel(mut p: usize, shape: &[usize]) -> Vec<usize> {
    let mut out = vec![0; shape.len()];
    for (c, &d) in out.iter_mut().zip(shape).rev() {
        *c = p % d.max(1);
        p /= d.max(1);
    }
    out
}

/// The slices at `index` along `axis`.
pub(crate) fn index_select(
    s: &CpuStorage,
    layout: &Layout,
    axis: usize,
    index: (&CpuStorage, &Layout),
) -> Result<CpuStorage> {
    fn go<T: Element>(src: &[T], shape: &[usize], axis: usize, indices: &[usize]) -> Vec<T> {
        let (outer, size, inner) = split(shape, axis);
        let mut out = Vec::with_capacity(outer * indices.len() * inner);
        for o in 0..outer {
            for &i in indices {
                out.extend_from_slice(&src[(o * size + i) * inner..][..inner]);
            }
        }
        out
    }
    let indices = indices("index_select", index, layout.shape()[axis])?;
    Ok(
        with_dtype!(s.dtype(), T => CpuStorage::from_vec(go::<T>(&s.view::<T>(layout), layout.shape(), axis, &indices))),
    )
}

/// A copy of the view with the slices of `src` added at `index` along `axis`.
pub(crate) fn index_add(
    s: &CpuStorage,
    layout: &Layout,
    axis: usize,
    index: (&CpuStorage, &Layout),
    (src, src_layout): (&CpuStorage, &Layout),
) -> Result<CpuStorage> {
    fn go<T: Element>(out: &mut [T], s: &[T], shape: &[usize], axis: usize, indices: &[usize]) {
        let (outer, size, inner) = split(shape, axis);
        for o in 0..outer {
            for (k, &i) in indices.iter().enumerate() {
                let dst = &mut out[(o * size + i) * inner..][..inner];
                for (d, &v) in dst
                    .iter_mut()
                    .zip(&s[(o * indices.len() + k) * inner..][..inner])
                {
                    *d = *d + v;
                }
            }
        }
    }
    let indices = indices("index_add", index, layout.shape()[axis])?;
    Ok(with_dtype!(s.dtype(), T => {
        let mut out = s.view::<T>(layout).into_owned();
        go::<T>(&mut out, &src.view::<T>(src_layout), layout.shape(), axis, &indices);
        CpuStorage::from_vec(out)
    }))
}

/// `out[.., j, ..] = x[.., index[.., j, ..], ..]` along `axis`.
pub(crate) fn gather(
    s: &CpuStorage,
    layout: &Layout,
    axis: usize,
    index: (&CpuStorage, &Layout),
) -> Result<CpuStorage> {
    fn go<T: Element>(src: &[T], shape: &[usize], axis: usize, index: &[usize]) -> Vec<T> {
        let (outer, size, inner) = split(shape, axis);
        if index.is_empty() {
            return Vec::new();
        }
        let k = index.len() / (outer * inner).max(1);
        let mut out = Vec::with_capacity(index.len());
        // position p = (o k + j) inner + i, walked in order without a division per element
        for (o, index) in index.chunks(k * inner).enumerate().take(outer) {
            let src = &src[o * size * inner..];
            for row in index.chunks(inner) {
                out.extend(row.iter().enumerate().map(|(i, &ix)| src[ix * inner + i]));
            }
        }
        out
    }
    let index = indices("gather", index, layout.shape()[axis])?;
    Ok(
        with_dtype!(s.dtype(), T => CpuStorage::from_vec(go::<T>(&s.view::<T>(layout), layout.shape(), axis, &index))),
    )
}

/// A copy of the view with `src[.., j, ..]` added at `[.., index[.., j, ..], ..]` along `axis`.
pub(crate) fn scatter_add(
    s: &CpuStorage,
    layout: &Layout,
    axis: usize,
    index: (&CpuStorage, &Layout),
    (src, src_layout): (&CpuStorage, &Layout),
) -> Result<CpuStorage> {
    fn go<T: Element>(out: &mut [T], s: &[T], shape: &[usize], axis: usize, index: &[usize]) {
        let (outer, size, inner) = split(shape, axis);
        if index.is_empty() {
            return;
        }
        let k = index.len() / (outer * inner).max(1);
        // position p = (o k + j) inner + i, in order (so the sums are the same), without a
        // division per element
        let blocks = s.chunks(k * inner).zip(index.chunks(k * inner));
        for (o, (s, index)) in blocks.enumerate().take(outer) {
            let out = &mut out[o * size * inner..];
            for (s, index) in s.chunks(inner).zip(index.chunks(inner)) {
                for (i, (&v, &ix)) in s.iter().zip(index).enumerate() {
                    let d = &mut out[ix * inner + i];
                    *d = *d + v;
                }
            }
        }
    }
    let index = indices("scatter_add", index, layout.shape()[axis])?;
    Ok(with_dtype!(s.dtype(), T => {
        let mut out = s.view::<T>(layout).into_owned();
        go::<T>(&mut out, &src.view::<T>(src_layout), layout.shape(), axis, &index);
        CpuStorage::from_vec(out)
    }))
}

/// Rows of `num_classes` with a 1 at each index of the view `index`, in its row-major order.
pub(crate) fn one_hot(
    index: (&CpuStorage, &Layout),
    num_classes: usize,
    dtype: DType,
) -> Result<CpuStorage> {
    let indices = indices("one_hot", index, num_classes)?;
    Ok(with_any_dtype!(dtype, T => {
        let mut out = vec![T::zero(); indices.len() * num_classes];
        for (row, &i) in indices.iter().enumerate() {
            out[row * num_classes + i] = T::one();
        }
        CpuStorage::from_vec(out)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// gather and scatter_add along the middle axis of `[2, 3, 4]` (outer 2, inner 4) against
    /// their definitions by position `p = (o k + j) inner + i`, and along the first and last.
    #[test]
    fn gather_and_scatter_add_follow_their_definitions_on_every_axis() {
        let shape = [2usize, 3, 4];
        let x: Vec<f64> = (0..24).map(|v| v as f64 * 1.5 - 7.0).collect();
        let xs = CpuStorage::from_vec(x.clone());
        let l = Layout::contiguous(&shape);
        for axis in 0..3 {
            let (outer, size, inner) = split(&shape, axis);
            let k = 5; // more index entries than the axis has: repeats
            let mut ishape = shape;
            ishape[axis] = k;
            let n = outer * k * inner;
            let idx: Vec<f64> = (0..n).map(|p| ((p * 7 + 3) % size) as f64).collect();
            let il = Layout::contiguous(&ishape);
            let is = CpuStorage::from_vec(idx.clone());
            let src: Vec<f64> = (0..n).map(|p| p as f64 * 0.25 + 1.0).collect();
            let (mut want_g, mut want_s) = (vec![], x.clone());
            for p in 0..n {
                let (o, i) = (p / (k * inner), p % inner);
                let at = (o * size + idx[p] as usize) * inner + i;
                want_g.push(x[at]);
                want_s[at] += src[p];
            }
            let g = gather(&xs, &l, axis, (&is, &il)).unwrap();
            assert_eq!(g.slice::<f64>(), &want_g[..], "gather, axis {axis}");
            let srcs = CpuStorage::from_vec(src);
            let sa = scatter_add(&xs, &l, axis, (&is, &il), (&srcs, &il)).unwrap();
            assert_eq!(sa.slice::<f64>(), &want_s[..], "scatter_add, axis {axis}");
        }
    }

    #[test]
    fn indices_are_read_from_either_float_dtype_and_strided_views() {
        let f32s = CpuStorage::from_vec(vec![2.0f32, 0.0, 1.0]);
        let l = Layout::contiguous(&[3]);
        assert_eq!(indices("t", (&f32s, &l), 3).unwrap(), vec![2, 0, 1]);
        // a transposed [2, 2] view reads column by column
        let f64s = CpuStorage::from_vec(vec![0.0f64, 1.0, 2.0, 3.0]);
        let t = Layout::contiguous(&[2, 2]).permute(&[1, 0]);
        assert_eq!(indices("t", (&f64s, &t), 4).unwrap(), vec![0, 2, 1, 3]);
    }

    #[test]
    fn a_bad_index_is_reported_with_its_position_and_value() {
        let l = Layout::contiguous(&[2, 2]);
        let bad = |v: f64| {
            let s = CpuStorage::from_vec(vec![0.0f64, 1.0, v, 0.0]);
            indices("gather", (&s, &l), 3).unwrap_err()
        };
        for (v, problem) in [
            (-1.0, "is negative"),
            (0.5, "is not a whole number"),
            (f64::NAN, "is not a whole number"),
            (3.0, "is out of range for an axis of size 3"),
            (f64::INFINITY, "is out of range for an axis of size 3"),
        ] {
            let e = bad(v);
            assert!(
                matches!(&e, TensorError::InvalidIndex { op: "gather", position, size: 3, .. } if position == &[1, 0]),
                "{e:?}"
            );
            assert_eq!(
                e.to_string(),
                format!("gather: index {v} at position [1, 0] {problem}")
            );
        }
    }
}
