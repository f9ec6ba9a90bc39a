//! Reductions on the CPU: sums over any axes and the maximum along one axis, each output element
//! accumulated in a fixed order (results do not depend on the thread count).

use super::kernels::{elementwise, reduce, squares};
use super::CpuStorage;
use crate::layout::Layout;
use crate::Element;

/// The sum of the view over sorted, distinct `axes`, in row-major order of the kept axes.
///
/// A contiguous view reduced over its trailing (or leading) axes is summed in place, row by row
/// (or column by column); any other view is first gathered with the reduced axes moved last.
pub(crate) fn sum(s: &CpuStorage, layout: &Layout, axes: &[usize]) -> CpuStorage {
    match s {
        CpuStorage::F32(_) => CpuStorage::from_vec(sum_typed::<f32>(s, layout, axes)),
        CpuStorage::F64(_) => CpuStorage::from_vec(sum_typed::<f64>(s, layout, axes)),
        _ => super::half::not_widened(s),
    }
}

fn sum_typed<T: Element>(s: &CpuStorage, layout: &Layout, axes: &[usize]) -> Vec<T> {
    let shape = layout.shape();
    let rank = shape.len();
    let block: usize = axes.iter().map(|&a| shape[a]).product();
    let outer = layout.numel().checked_div(block).unwrap_or(0);
    if block == 0 || outer == 0 {
        // an empty reduced axis sums to 0 (as PyTorch); no kept elements gives an empty result
        let kept: usize = (0..rank)
            .filter(|a| !axes.contains(a))
            .map(|a| shape[a])
            .product();
        return vec![T::zero(); kept];
    }
    let trailing = axes
        .iter()
        .enumerate()
        .all(|(i, &a)| a == rank - axes.len() + i);
    let leading = axes.iter().enumerate().all(|(i, &a)| a == i);
    if layout.is_contiguous() && trailing {
        return s.with_view(layout, |v: &[T]| reduce::sum_rows(v, block));
    }
    if layout.is_contiguous() && leading {
        return s.with_view(layout, |v: &[T]| reduce::sum_cols(v, outer));
    }
    let (data, block) = with_axes_last::<T>(s, layout, axes);
    reduce::sum_rows(&data, block)
}

/// `sum(x^2)` of the view in f64, in row-major order (summed as [`squares`] orders it), reading a
/// contiguous view in place.
pub(crate) fn sum_squares_f64(s: &CpuStorage, layout: &Layout) -> CpuStorage {
    let total = match s {
        CpuStorage::F32(_) => s.with_view(layout, squares::sum_squares::<f32>),
        CpuStorage::F64(_) => s.with_view(layout, squares::sum_squares::<f64>),
        _ => super::half::not_widened(s),
    };
    CpuStorage::from_vec(vec![total])
}

/// `sum((a - b)^2)` of two views of one shape and dtype in f64, in row-major order (summed as
/// [`squares`] orders it), reading contiguous views in place.
pub(crate) fn squared_distance_f64(
    a: &CpuStorage,
    la: &Layout,
    b: &CpuStorage,
    lb: &Layout,
) -> CpuStorage {
    fn go<T: Element>(a: &CpuStorage, la: &Layout, b: &CpuStorage, lb: &Layout) -> f64 {
        a.with_view(la, |x: &[T]| {
            b.with_view(lb, |y: &[T]| squares::sum_squared_diff(x, y))
        })
    }
    let total = match a {
        CpuStorage::F32(_) => go::<f32>(a, la, b, lb),
        CpuStorage::F64(_) => go::<f64>(a, la, b, lb),
        _ => super::half::not_widened(a),
    };
    CpuStorage::from_vec(vec![total])
}

/// The maximum along `axis` (non-empty) and the index of its first occurrence (an f64 buffer of
/// whole numbers), in row-major order of the other axes.
pub(crate) fn max(s: &CpuStorage, layout: &Layout, axis: usize) -> (CpuStorage, CpuStorage) {
    fn go<T: Element>(s: &CpuStorage, layout: &Layout, axis: usize) -> (CpuStorage, CpuStorage) {
        let (data, len) = with_axes_last::<T>(s, layout, &[axis]);
        let (values, index) = reduce::max_rows(&data, len);
        let index: Vec<f64> = index.into_iter().map(|i| i as f64).collect();
        (CpuStorage::from_vec(values), CpuStorage::from_vec(index))
    }
    match s {
        CpuStorage::F32(_) => go::<f32>(s, layout, axis),
        CpuStorage::F64(_) => go::<f64>(s, layout, axis),
        _ => super::half::not_widened(s),
    }
}

/// A contiguous copy of the view with `axes` moved last, plus the size of the moved block.
fn with_axes_last<T: Element>(s: &CpuStorage, layout: &Layout, axes: &[usize]) -> (Vec<T>, usize) {
    let rank = layout.shape().len();
    let kept = (0..rank).filter(|a| !axes.contains(a));
    let order: Vec<usize> = kept.chain(axes.iter().copied()).collect();
    let block = axes.iter().map(|&a| layout.shape()[a]).product();
    let moved = layout.permute(&order);
    (elementwise::gather_strided(s.slice::<T>(), &moved), block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_squares_reads_a_strided_view_in_row_major_order() {
        // 1e7^2 + 1 + 1 is exact in f64 (1e14 + 2) but rounds to 1e14 in f32
        let x = CpuStorage::from_vec(vec![1e7f32, 1.0, -1.0]);
        let out = sum_squares_f64(&x, &Layout::contiguous(&[3]));
        assert_eq!(out.slice::<f64>(), &[1e14 + 2.0]);
        // a transposed view reads the same elements as its contiguous copy
        let y = CpuStorage::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let t = Layout::contiguous(&[2, 3]).permute(&[1, 0]);
        let rows = [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0];
        let want = squares::sum_squares(&rows);
        assert_eq!(sum_squares_f64(&y, &t).slice::<f64>(), &[want]);
        // and the distance to a contiguous tensor of the transposed shape pairs them up the same
        let z = CpuStorage::from_vec(vec![0.5f64; 6]);
        let c = Layout::contiguous(&[3, 2]);
        let want = squares::sum_squared_diff(&rows, &[0.5; 6]);
        assert_eq!(squared_distance_f64(&y, &t, &z, &c).slice::<f64>(), &[want]);
        assert_eq!(
            want,
            rows.iter().map(|v| (v - 0.5) * (v - 0.5)).sum::<f64>()
        );
    }

    /// The reference: each output element summed over its block in row-major order, serially.
    fn reference_sum(x: &[f64], shape: &[usize], axes: &[usize]) -> Vec<f64> {
        let layout = Layout::contiguous(shape);
        let kept: Vec<usize> = (0..shape.len()).filter(|a| !axes.contains(a)).collect();
        let order: Vec<usize> = kept.iter().chain(axes).copied().collect();
        let moved = elementwise::gather_strided(x, &layout.permute(&order));
        let block: usize = axes.iter().map(|&a| shape[a]).product();
        moved
            .chunks(block)
            .map(|r| r.iter().fold(0.0, |acc, &v| acc + v))
            .collect()
    }

    #[test]
    fn sums_over_leading_middle_and_trailing_axes_match_the_serial_reference() {
        let shape = [3, 4, 5];
        let x: Vec<f64> = (0..60).map(|i| (i as f64 * 0.37).sin()).collect();
        let s = CpuStorage::from_vec(x.clone());
        let layout = Layout::contiguous(&shape);
        for axes in [&[0][..], &[1], &[2], &[0, 1], &[1, 2], &[0, 2], &[0, 1, 2]] {
            let got = sum(&s, &layout, axes);
            assert_eq!(
                got.slice::<f64>(),
                &reference_sum(&x, &shape, axes)[..],
                "{axes:?}"
            );
        }
    }

    #[test]
    fn max_reads_a_transposed_view_and_reports_first_indices() {
        // [[1, 5], [5, 2]] transposed: rows [1, 5] and [5, 2]
        let s = CpuStorage::from_vec(vec![1.0, 5.0, 5.0, 2.0]);
        let layout = Layout::contiguous(&[2, 2]).permute(&[1, 0]);
        let (values, index) = max(&s, &layout, 1);
        assert_eq!(values.slice::<f64>(), &[5.0, 5.0]);
        assert_eq!(index.slice::<f64>(), &[1.0, 0.0]);
    }
}
