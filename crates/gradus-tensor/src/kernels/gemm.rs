//! Matrix multiply, delegated to `faer` (chosen by measurement against `gemm`, `matrixmultiply`
//! and OpenBLAS: see BENCHMARKS.md).
//!
//! Operands are strided views (row and column strides in elements), so transposed operands in
//! backward passes are multiplied without a copy.

use crate::{DType, Element};
use faer::{Accum, MatMut, MatRef, Par};
use std::num::NonZeroUsize;

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
    assert!(out.len() >= m * n, "gemm output too small");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        out[..m * n].iter_mut().for_each(|o| *o = T::zero());
        return;
    }
    let last_a = va.offset + (m - 1) * va.rs + (k - 1) * va.cs;
    let last_b = vb.offset + (k - 1) * vb.rs + (n - 1) * vb.cs;
    assert!(
        last_a < a.len() && last_b < b.len(),
        "gemm operand view out of bounds"
    );
    let par = NonZeroUsize::new(threads)
        .filter(|t| t.get() > 1)
        .map_or(Par::Seq, Par::Rayon);
    // SAFETY: the asserts above keep every element of both views inside `a` and `b`, and `out`
    // holds the m x n row-major result. `T` is f32 or f64 as `T::DTYPE` says, so the pointer casts
    // only rename the type.
    unsafe {
        match T::DTYPE {
            DType::F32 => run::<f32>(
                (m, n, k),
                a.as_ptr().cast(),
                va,
                b.as_ptr().cast(),
                vb,
                out.as_mut_ptr().cast(),
                par,
            ),
            DType::F64 => run::<f64>(
                (m, n, k),
                a.as_ptr().cast(),
                va,
                b.as_ptr().cast(),
                vb,
                out.as_mut_ptr().cast(),
                par,
            ),
        }
    }
}

/// # Safety
/// The views must lie inside their buffers and `out` must hold `m * n` elements.
unsafe fn run<T: faer::traits::ComplexField + Copy + num_traits::One>(
    (m, n, k): (usize, usize, usize),
    a: *const T,
    va: MatView,
    b: *const T,
    vb: MatView,
    out: *mut T,
    par: Par,
) {
    let lhs = MatRef::from_raw_parts(a.add(va.offset), m, k, va.rs as isize, va.cs as isize);
    let rhs = MatRef::from_raw_parts(b.add(vb.offset), k, n, vb.rs as isize, vb.cs as isize);
    let dst = MatMut::from_raw_parts_mut(out, m, n, n as isize, 1);
    faer::linalg::matmul::matmul(dst, Accum::Replace, lhs, rhs, T::one(), par);
}
