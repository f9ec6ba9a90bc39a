//! Copies on the CPU: fills, contiguous copies of views, casts, padding, concatenation, and the
//! in-place copies and region sums the autodiff engine and `copy_from` use.

use super::kernels::elementwise::{add_assign, gather_strided};
use super::CpuStorage;
use crate::backend::BackendStorage;
use crate::dtype::{with_any_dtype, with_dtype};
use crate::layout::Layout;
use crate::{DType, Element};
use std::borrow::Cow;

impl CpuStorage {
    /// The view's elements in row-major order: borrowed when contiguous, else gathered.
    pub(crate) fn view<T: Element>(&self, layout: &Layout) -> Cow<'_, [T]> {
        let all = self.slice::<T>();
        if layout.is_contiguous() {
            Cow::Borrowed(&all[layout.offset..layout.offset + layout.numel()])
        } else {
            Cow::Owned(gather_strided(all, layout))
        }
    }
}

/// `n` copies of `value`.
pub(crate) fn full(n: usize, value: f64, dtype: DType) -> CpuStorage {
    with_any_dtype!(dtype, T => CpuStorage::from_vec(vec![<T as Element>::from_f64(value); n]))
}

/// A contiguous copy of the view.
pub(crate) fn copy(s: &CpuStorage, layout: &Layout) -> CpuStorage {
    with_any_dtype!(s.dtype(), T => CpuStorage::from_vec(s.view::<T>(layout).into_owned()))
}

/// The view converted to `dtype`, rounded once (through f64, which holds every f32, bf16 and f16
/// value exactly); 16-bit to f32 and back on the fast slice conversions.
pub(crate) fn cast(s: &CpuStorage, layout: &Layout, dtype: DType) -> CpuStorage {
    if s.dtype().half().is_some() && dtype == DType::F32 {
        return copy(s, layout).widened().into_owned();
    }
    if s.dtype() == DType::F32 && dtype.half().is_some() {
        return copy(s, layout).narrowed(dtype);
    }
    with_any_dtype!(s.dtype(), S => with_any_dtype!(dtype, T => {
        let values = s.view::<S>(layout);
        CpuStorage::from_vec(values.iter().map(|&v| <T as Element>::from_f64(<S as Element>::to_f64(v))).collect::<Vec<T>>())
    }))
}

/// (outer, axis size, inner) of a shape split around `axis`.
pub(crate) fn split(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

/// The view with `before` zeros in front of `axis` and `after` behind.
pub(crate) fn pad_axis(
    s: &CpuStorage,
    layout: &Layout,
    axis: usize,
    (before, after): (usize, usize),
) -> CpuStorage {
    fn go<T: Element>(
        s: &CpuStorage,
        layout: &Layout,
        axis: usize,
        before: usize,
        new: usize,
    ) -> Vec<T> {
        let (outer, old, inner) = split(layout.shape(), axis);
        let src = s.view::<T>(layout);
        let mut out = vec![T::zero(); outer * new * inner];
        for o in 0..outer {
            out[(o * new + before) * inner..][..old * inner]
                .copy_from_slice(&src[o * old * inner..][..old * inner]);
        }
        out
    }
    let new = layout.shape()[axis] + before + after;
    with_dtype!(s.dtype(), T => CpuStorage::from_vec(go::<T>(s, layout, axis, before, new)))
}

/// The views joined along `axis`.
pub(crate) fn concat(parts: &[(&CpuStorage, &Layout)], axis: usize) -> CpuStorage {
    fn go<T: Element>(parts: &[(&CpuStorage, &Layout)], axis: usize) -> Vec<T> {
        let (outer, _, inner) = split(parts[0].1.shape(), axis);
        let sizes: Vec<usize> = parts.iter().map(|(_, l)| l.shape()[axis]).collect();
        let views: Vec<Cow<'_, [T]>> = parts.iter().map(|(s, l)| s.view::<T>(l)).collect();
        let mut out = Vec::with_capacity(outer * sizes.iter().sum::<usize>() * inner);
        for o in 0..outer {
            for (part, &size) in views.iter().zip(&sizes) {
                out.extend_from_slice(&part[o * size * inner..][..size * inner]);
            }
        }
        out
    }
    with_dtype!(parts[0].0.dtype(), T => CpuStorage::from_vec(go::<T>(parts, axis)))
}

/// `dst.narrow(axis, start, len) += src`, `dst` all of its buffer with shape `dst_shape`.
pub(crate) fn narrow_add_assign(
    dst: &mut CpuStorage,
    dst_shape: &[usize],
    (src, src_layout): (&CpuStorage, &Layout),
    axis: usize,
    start: usize,
) {
    fn go<T: Element>(
        d: &mut [T],
        src: &[T],
        shape: &[usize],
        axis: usize,
        start: usize,
        len: usize,
    ) {
        let (outer, full, inner) = split(shape, axis);
        for o in 0..outer {
            let d = &mut d[(o * full + start) * inner..][..len * inner];
            let s = &src[o * len * inner..][..len * inner];
            add_assign(d, s);
        }
    }
    let len = src_layout.shape()[axis];
    with_dtype!(dst.dtype(), T => {
        let src = src.view::<T>(src_layout);
        go::<T>(dst.slice_mut::<T>(), &src, dst_shape, axis, start, len)
    })
}

/// Overwrites the contiguous view `layout` of `dst` with the view `src` (same shape).
pub(crate) fn copy_into(
    dst: &mut CpuStorage,
    layout: &Layout,
    (src, src_layout): (&CpuStorage, &Layout),
) {
    with_any_dtype!(dst.dtype(), T => {
        let values = src.view::<T>(src_layout);
        dst.slice_mut::<T>()[layout.offset..layout.offset + layout.numel()].copy_from_slice(&values)
    })
}
