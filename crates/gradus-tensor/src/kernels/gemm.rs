//! Matrix multiply, delegated to the `gemm` crate (chosen by measurement: see BENCHMARKS.md).
//!
//! Operands are strided views (row and column strides in elements), so transposed operands in
//! backward passes are multiplied without a copy.

use crate::Element;

/// A strided matrix view: element (i, j) sits at `data[offset + i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct MatView {
    pub offset: usize,
    pub rs: usize,
    pub cs: usize,
}

/// `out[m x n] = a[m x k] @ b[k x n]`, `out` row-major; `threads` > 1 splits the work.
pub(crate) fn gemm<T: Element>(
    (m, n, k): (usize, usize, usize),
    a: &[T],
    va: MatView,
    b: &[T],
    vb: MatView,
    out: &mut [T],
    threads: usize,
) {
    debug_assert!(out.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        out[..m * n].iter_mut().for_each(|o| *o = T::zero());
        return;
    }
    let last_a = va.offset + (m - 1) * va.rs + (k - 1) * va.cs;
    let last_b = vb.offset + (k - 1) * vb.rs + (n - 1) * vb.cs;
    assert!(last_a < a.len() && last_b < b.len(), "gemm operand view out of bounds");
    let parallelism = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: the asserts above keep every read inside `a` and `b`; `out` holds m*n elements
    // written row-major (row stride n, column stride 1); `read_dst = false` ignores its contents.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr().add(va.offset),
            va.cs as isize,
            va.rs as isize,
            b.as_ptr().add(vb.offset),
            vb.cs as isize,
            vb.rs as isize,
            T::zero(),
            T::one(),
            false,
            false,
            false,
            parallelism,
        );
    }
}
