//! Indexing on the CPU: `index_select` / `index_add`, `gather` / `scatter_add`, `one_hot`.
//! Indices are checked by the op (`ops/index.rs`) before the call.

use super::copy::split;
use super::CpuStorage;
use crate::backend::BackendStorage;
use crate::dtype::with_dtype;
use crate::layout::Layout;
use crate::{DType, Element};
use num_traits::{One, Zero};

/// The slices at `indices` along `axis`.
pub(crate) fn index_select(
    s: &CpuStorage,
    layout: &Layout,
    axis: usize,
    indices: &[usize],
) -> CpuStorage {
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
    with_dtype!(s.dtype(), T => CpuStorage::from_vec(go::<T>(&s.view::<T>(layout), layout.shape(), axis, indices)))
}

/// A copy of the view with the slices of `src` added at `indices` along `axis`.
pub(crate) fn index_add(
    s: &CpuStorage,
    layout: &Layout,
    axis: usize,
    indices: &[usize],
    (src, src_layout): (&CpuStorage, &Layout),
) -> CpuStorage {
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
    with_dtype!(s.dtype(), T => {
        let mut out = s.view::<T>(layout).into_owned();
        go::<T>(&mut out, &src.view::<T>(src_layout), layout.shape(), axis, indices);
        CpuStorage::from_vec(out)
    })
}

/// `out[.., j, ..] = x[.., index[.., j, ..], ..]` along `axis`.
pub(crate) fn gather(s: &CpuStorage, layout: &Layout, axis: usize, index: &[usize]) -> CpuStorage {
    fn go<T: Element>(src: &[T], shape: &[usize], axis: usize, index: &[usize]) -> Vec<T> {
        let (outer, size, inner) = split(shape, axis);
        let k = index.len() / (outer * inner);
        (0..outer * k * inner)
            .map(|p| {
                let (o, i) = (p / (k * inner), p % inner);
                src[(o * size + index[p]) * inner + i]
            })
            .collect()
    }
    with_dtype!(s.dtype(), T => CpuStorage::from_vec(go::<T>(&s.view::<T>(layout), layout.shape(), axis, index)))
}

/// A copy of the view with `src[.., j, ..]` added at `[.., index[.., j, ..], ..]` along `axis`.
pub(crate) fn scatter_add(
    s: &CpuStorage,
    layout: &Layout,
    axis: usize,
    index: &[usize],
    (src, src_layout): (&CpuStorage, &Layout),
) -> CpuStorage {
    fn go<T: Element>(out: &mut [T], s: &[T], shape: &[usize], axis: usize, index: &[usize]) {
        let (outer, size, inner) = split(shape, axis);
        let k = index.len() / (outer * inner);
        for (p, (&v, &ix)) in s.iter().zip(index).enumerate() {
            let (o, i) = (p / (k * inner), p % inner);
            let d = &mut out[(o * size + ix) * inner + i];
            *d = *d + v;
        }
    }
    with_dtype!(s.dtype(), T => {
        let mut out = s.view::<T>(layout).into_owned();
        go::<T>(&mut out, &src.view::<T>(src_layout), layout.shape(), axis, index);
        CpuStorage::from_vec(out)
    })
}

/// `[indices.len(), num_classes]` rows with a 1 at each index.
pub(crate) fn one_hot(indices: &[usize], num_classes: usize, dtype: DType) -> CpuStorage {
    with_dtype!(dtype, T => {
        let mut out = vec![T::zero(); indices.len() * num_classes];
        for (row, &i) in indices.iter().enumerate() {
            out[row * num_classes + i] = T::one();
        }
        CpuStorage::from_vec(out)
    })
}
