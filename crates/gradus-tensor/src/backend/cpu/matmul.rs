//! Batched matrix products on the CPU: one `faer` GEMM per matrix of the batch (`kernels::gemm`),
//! small matrices one per thread.

use super::kernels::gemm::{gemm_uninit, MatView};
use super::CpuStorage;
use crate::backend::BackendStorage;
use crate::dtype::with_dtype;
use crate::layout::Layout;
use crate::Element;
use rayon::prelude::*;

/// Below this many multiply-adds per matrix, batched products run one matrix per thread.
const SMALL_GEMM: usize = 1 << 18;

/// Storage offset of batch `index` in a layout whose leading axes are the batch axes.
fn batch_offset(layout: &Layout, batch_rank: usize, mut index: usize) -> usize {
    let mut offset = layout.offset;
    for axis in (0..batch_rank).rev() {
        let d = layout.shape[axis];
        offset += (index % d) * layout.strides[axis];
        index /= d;
    }
    offset
}

/// `[.., m, k] @ [.., k, n]` for two views broadcast to the same batch axes, row-major output.
pub(crate) fn matmul(a: &CpuStorage, la: &Layout, (b, lb): (&CpuStorage, &Layout)) -> CpuStorage {
    let br = la.shape.len() - 2;
    let (m, k, n) = (la.shape[br], la.shape[br + 1], lb.shape[br + 1]);
    let count: usize = la.shape[..br].iter().product();
    let view = |l: &Layout, i: usize| MatView {
        offset: batch_offset(l, br, i),
        rs: l.strides[br],
        cs: l.strides[br + 1],
    };
    fn go<T: Element>(
        (sa, sb): (&[T], &[T]),
        (count, m, n, k): (usize, usize, usize, usize),
        view: impl Fn(bool, usize) -> MatView + Sync,
    ) -> Vec<T> {
        // no zero fill: each product writes all of its output
        let len = count * m * n;
        let mut out = Vec::with_capacity(len);
        let spare = &mut out.spare_capacity_mut()[..len];
        let one = |(i, o)| gemm_uninit((m, n, k), (sa, view(true, i)), (sb, view(false, i)), o);
        if count > 1 && m * n * k < SMALL_GEMM && m * n > 0 {
            crate::threads::warm();
            spare.par_chunks_mut(m * n).enumerate().for_each(one);
        } else if m * n > 0 {
            spare.chunks_mut(m * n).enumerate().for_each(one);
        }
        // SAFETY: the chunks cover all `len` elements and each product wrote its chunk (with
        // `m * n == 0` there are none).
        unsafe { out.set_len(len) };
        out
    }
    let pick = |left: bool, i: usize| if left { view(la, i) } else { view(lb, i) };
    with_dtype!(a.dtype(), T => CpuStorage::from_vec(go::<T>(
        (a.slice::<T>(), b.slice::<T>()),
        (count, m, n, k),
        pick,
    )))
}
