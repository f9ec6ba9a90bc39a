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
    dims: (usize, usize, usize),
    a: &[T],
    va: MatView,
    b: &[T],
    vb: MatView,
    out: &mut [T],
    threads: usize,
) {
    let row_major = MatView {
        offset: 0,
        rs: dims.1,
        cs: 1,
    };
    gemm_into(dims, (a, va), (b, vb), (out, row_major), false, threads);
}

/// `out = a @ b` (or `out += a @ b` with `accumulate`) for strided views of all three.
pub(crate) fn gemm_into<T: Element>(
    (m, n, k): (usize, usize, usize),
    (a, va): (&[T], MatView),
    (b, vb): (&[T], MatView),
    (out, vo): (&mut [T], MatView),
    accumulate: bool,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    let last =
        |v: MatView, rows: usize, cols: usize| v.offset + (rows - 1) * v.rs + (cols - 1) * v.cs;
    assert!(last(vo, m, n) < out.len(), "gemm output view out of bounds");
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    out[vo.offset + i * vo.rs + j * vo.cs] = T::zero();
                }
            }
        }
        return;
    }
    assert!(
        last(va, m, k) < a.len() && last(vb, k, n) < b.len(),
        "gemm operand view out of bounds"
    );
    let par = NonZeroUsize::new(threads)
        .filter(|t| t.get() > 1)
        .map_or(Par::Seq, Par::Rayon);
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    // SAFETY: the asserts above keep every element of the three views inside their buffers, and
    // `out` is borrowed mutably so nothing else reads it. `T` is f32 or f64 as `T::DTYPE` says, so
    // the pointer casts only rename the type.
    unsafe {
        match T::DTYPE {
            DType::F32 => run::<f32>(
                (m, n, k),
                (a.as_ptr().cast(), va),
                (b.as_ptr().cast(), vb),
                (out.as_mut_ptr().cast(), vo),
                accum,
                par,
            ),
            DType::F64 => run::<f64>(
                (m, n, k),
                (a.as_ptr().cast(), va),
                (b.as_ptr().cast(), vb),
                (out.as_mut_ptr().cast(), vo),
                accum,
                par,
            ),
        }
    }
}

/// # Safety
/// The views must lie inside their buffers, and the output view must not overlap the operands.
unsafe fn run<T: faer::traits::ComplexField + Copy + num_traits::One>(
    (m, n, k): (usize, usize, usize),
    (a, va): (*const T, MatView),
    (b, vb): (*const T, MatView),
    (out, vo): (*mut T, MatView),
    accum: Accum,
    par: Par,
) {
    let lhs = MatRef::from_raw_parts(a.add(va.offset), m, k, va.rs as isize, va.cs as isize);
    let rhs = MatRef::from_raw_parts(b.add(vb.offset), k, n, vb.rs as isize, vb.cs as isize);
    let dst = MatMut::from_raw_parts_mut(out.add(vo.offset), m, n, vo.rs as isize, vo.cs as isize);
    faer::linalg::matmul::matmul(dst, accum, lhs, rhs, T::one(), par);
}
