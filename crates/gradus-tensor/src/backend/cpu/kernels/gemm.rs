//! Matrix multiply, delegated to `faer` (chosen by measurement against `gemm`, `matrixmultiply`
//! and OpenBLAS: see BENCHMARKS.md).
//!
//! Operands are strided views (row and column strides in elements), so transposed operands in
//! backward passes are multiplied without a copy.
//!
//! Results do not depend on the number of threads, to the bit: the output is split into panels
//! whose size depends on the shape alone (never on the thread count, and the same split with one
//! thread), each panel is one sequential `faer` product, and the panels run in parallel on
//! rayon. (`faer`'s own parallel path picks its blocking, and for thin products with a long inner
//! axis its summation order, from the thread count.)

use super::filled;
use super::transpose::transpose_into;
use crate::{DType, Element};
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Products of at most this many multiply-adds are one panel.
const PANEL_WORK: usize = 1 << 21;
/// Output columns per panel, at most. 256 (and 256 rows) were as fast as `faer`'s own parallel
/// path on the benchmark's products with 2 threads; 128 was 5% slower on 1024^3 (BENCHMARKS.md).
const PANEL_COLS: usize = 256;
/// Output rows per panel, at least (when the output has that many).
const PANEL_MIN_ROWS: usize = 256;

/// Whether an `m x n x k` product with a column-major left operand runs faster on a row-major
/// copy of it. `faer` multiplied such operands at 90-150 GFLOP/s against 190-210 row-major on
/// the Intel Xeon of BENCHMARKS.md when both `m` and the inner axis `k` were long (the LSTM's
/// `dW_hh`, `1024 x 1024 @ 1024 x 256`: 98 against 210), within 10% with 128 rows or a 128-deep
/// inner axis. The copy costs `m k` moves against `m n k` multiply-adds, so it pays when `n` is
/// wide or the slow path is at its slowest (`m >= 1024`): with the copy, 163 GFLOP/s on that
/// product, 140 against 92 on `2048 x 512 @ 512 x 128`, and a 5% loss on `512 x 2048 @ 2048 x
/// 128`, which the rule leaves alone.
fn copy_pays((m, n, k): (usize, usize, usize)) -> bool {
    m >= 256 && k >= 512 && (m >= 1024 || n >= 256)
}

/// Products with a column-major left operand that [`copy_pays`] for, but at most this many
/// columns wide, compute each output panel column-major instead (see [`LeftOperand`]).
const THIN_COLS: usize = 128;

/// How a product treats its left operand, by the shape and layouts alone (so the bits do not
/// depend on the thread count).
///
/// `faer` computes a row-major output as its transpose, `cᵀ = bᵀ aᵀ`, so a column-major `a`
/// (`xᵀ @ g`: weight gradients) becomes a row-major right operand of that product: its slow
/// path when `m` and `k` are long. For such products (see [`copy_pays`]) there are two ways out:
/// - [`LeftOperand::Copy`]: copy `a` row-major first (`m k` moves, a pass of its own);
/// - [`LeftOperand::ColumnMajorPanels`], for thin products (`n <= THIN_COLS`): compute each
///   output panel column-major in a scratch buffer, a product whose right operand is `b` as it
///   lies (thin: `faer`'s fast path), and write it out transposed, on the panel's thread while
///   it is in cache (`m n` moves). The LSTM's input-weight gradient `1024 x 2048 @ 2048 x 128`,
///   2 threads, Intel Xeon: 200-212 GFLOP/s with the copy, 261-266 this way.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum LeftOperand {
    AsIs,
    Copy,
    ColumnMajorPanels,
}

impl LeftOperand {
    fn choose((m, n, k): (usize, usize, usize), va: MatView) -> Self {
        if !(va.rs == 1 && va.cs > 1 && copy_pays((m, n, k))) {
            LeftOperand::AsIs
        } else if n <= THIN_COLS {
            LeftOperand::ColumnMajorPanels
        } else {
            LeftOperand::Copy
        }
    }
}

/// A product that would be one panel is split into two of at least this many rows (the first a
/// multiple of 4: whole micro-kernel columns for `faer`, which makes the output column-major).
/// Thinner products stay whole: the fused recurrent layers' 32-row blocks already run in
/// parallel.
const SPLIT_ROWS: usize = 32;

/// A strided matrix view: element (i, j) sits at `data[offset + i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct MatView {
    pub offset: usize,
    pub rs: usize,
    pub cs: usize,
}

/// `out[m x n] = a[m x k] @ b[k x n]`, `out` row-major.
pub(crate) fn gemm<T: Element>(
    dims: (usize, usize, usize),
    a: &[T],
    va: MatView,
    b: &[T],
    vb: MatView,
    out: &mut [T],
) {
    gemm_into(dims, (a, va), (b, vb), (out, row_major(dims.1)), false);
}

/// `out[m x n] = a[m x k] @ b[k x n]` into an uninitialized row-major `out`: the product writes
/// every element (no zero fill first; `faer` does not read the output it replaces).
pub(crate) fn gemm_uninit<T: Element>(
    dims: (usize, usize, usize),
    (a, va): (&[T], MatView),
    (b, vb): (&[T], MatView),
    out: &mut [MaybeUninit<T>],
) {
    write(
        dims,
        (a, va),
        (b, vb),
        (out, row_major(dims.1)),
        Accum::Replace,
        None,
    );
}

/// A new row-major `m x n` matrix `bias + a[m x k] @ b[k x n]`, `bias` (`n` long) added to every
/// row, as BLAS `addmm` and `torch.nn.functional.linear`: each output panel starts as rows of
/// its part of the bias, written on the thread that then accumulates the panel's product onto
/// them (while the panel is in cache; no pass over the whole output on one thread first).
pub(crate) fn gemm_bias_new<T: Element>(
    dims: (usize, usize, usize),
    a: (&[T], MatView),
    b: (&[T], MatView),
    bias: &[T],
) -> Vec<T> {
    assert_eq!(bias.len(), dims.1, "gemm bias length");
    // SAFETY: `write` with a bias writes every element of the `m x n` output.
    unsafe {
        filled(dims.0 * dims.1, |out| {
            write(
                dims,
                a,
                b,
                (out, row_major(dims.1)),
                Accum::Replace,
                Some(bias),
            )
        })
    }
}

/// A new row-major `m x n` matrix `a[m x k] @ b[k x n]`, written once by the product.
pub(crate) fn gemm_new<T: Element>(
    dims: (usize, usize, usize),
    a: (&[T], MatView),
    b: (&[T], MatView),
) -> Vec<T> {
    // SAFETY: `gemm_uninit` writes every element of the `m x n` output.
    unsafe { filled(dims.0 * dims.1, |out| gemm_uninit(dims, a, b, out)) }
}

/// The view of a row-major matrix with `cols` columns.
fn row_major(cols: usize) -> MatView {
    MatView {
        offset: 0,
        rs: cols,
        cs: 1,
    }
}

/// `out[m × n] = a[m × k] · b[k × n]` in f32 on plain slices, `out` row-major: the GEMM behind
/// [`Tensor::matmul`](crate::Tensor::matmul) (faer panels on rayon; the result does not depend on
/// the thread count), for tape-free inference. `a` and `b` are strided views given as (row stride,
/// column stride) in elements, so a PyTorch `[out, in]` weight is used as `[in, out]` with strides
/// `(1, in)`, without a copy.
///
/// ```
/// use gradus_tensor::gemm_f32;
/// let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // [2, 3]
/// let w = [1.0f32, 0.0, 1.0, 0.0, 1.0, 0.0]; // [2 outputs, 3 inputs]
/// let mut y = [0.0f32; 4];
/// gemm_f32((2, 2, 3), &x, (3, 1), &w, (1, 3), &mut y); // y = x · wᵀ
/// assert_eq!(y, [4.0, 2.0, 10.0, 5.0]);
/// ```
///
/// # Panics
/// When a view reaches past its slice or `out` is shorter than `m · n`.
pub fn gemm_f32(
    (m, n, k): (usize, usize, usize),
    a: &[f32],
    (a_rs, a_cs): (usize, usize),
    b: &[f32],
    (b_rs, b_cs): (usize, usize),
    out: &mut [f32],
) {
    let view = |rs, cs| MatView { offset: 0, rs, cs };
    gemm((m, n, k), a, view(a_rs, a_cs), b, view(b_rs, b_cs), out);
}

/// `(rows, cols)` of the output panels of an `m x n x k` product: a function of the shape alone,
/// so that every thread count sums every element in the same order. A product above
/// [`PANEL_WORK`] with at least `2 * SPLIT_ROWS` rows is at least two panels (an MLP's
/// `128 x 512 @ 512 x 256` would otherwise run on one thread). Panels along an axis are of equal
/// size ([`balanced`]), so that two threads finish together.
fn panels((m, n, k): (usize, usize, usize)) -> (usize, usize) {
    if m * n * k <= PANEL_WORK {
        return (m, n);
    }
    let cols = balanced(n, n.min(PANEL_COLS), 16);
    let rows = (PANEL_WORK / (cols * k)).max(PANEL_MIN_ROWS).min(m);
    let rows = balanced(m, rows, 4);
    if rows == m && cols == n && m >= 2 * SPLIT_ROWS {
        // halved, rounded up to a multiple of 4
        return (m.div_ceil(2).next_multiple_of(4), n);
    }
    (rows, cols)
}

/// The panel size that splits `len` into as many panels as panels of `size` would, of equal
/// size (rounded up to a multiple of `align`, the last one shorter): `384` in panels of `256` is
/// two of `192`, not `256` and `128`, which left one thread idle a third of the product.
fn balanced(len: usize, size: usize, align: usize) -> usize {
    let count = len.div_ceil(size.max(1));
    len.div_ceil(count.max(1)).next_multiple_of(align).min(len)
}

/// `out = a @ b` (or `out += a @ b` with `accumulate`) for strided views of all three, the
/// output's panels in parallel on the current rayon pool; the result does not depend on its
/// thread count. The output view's elements must be distinct.
pub(crate) fn gemm_into<T: Element>(
    dims: (usize, usize, usize),
    a: (&[T], MatView),
    b: (&[T], MatView),
    (out, vo): (&mut [T], MatView),
    accumulate: bool,
) {
    // SAFETY: `MaybeUninit<T>` has `T`'s layout, and `write` stores only initialized values.
    let out = unsafe { &mut *(out as *mut [T] as *mut [MaybeUninit<T>]) };
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    write(dims, a, b, (out, vo), accum, None);
}

/// The product behind [`gemm_into`], [`gemm_uninit`] and [`gemm_bias_new`]: with `Accum::Replace`
/// every element of the output view is written and none is read, so it may be uninitialized; with
/// `Accum::Add` it must be initialized. With a `bias` (`n` long, `Accum::Replace`), each output
/// row starts as the bias and the product is accumulated onto it.
fn write<T: Element>(
    (m, n, k): (usize, usize, usize),
    (a, va): (&[T], MatView),
    (b, vb): (&[T], MatView),
    (out, vo): (&mut [MaybeUninit<T>], MatView),
    accum: Accum,
    bias: Option<&[T]>,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(last(vo, m, n) < out.len(), "gemm output view out of bounds");
    // SAFETY: the assert keeps the output view inside `out`, which is borrowed mutably.
    unsafe {
        write_to_ptr(
            (m, n, k),
            (a, va),
            (b, vb),
            (out.as_mut_ptr(), vo),
            accum,
            bias,
        )
    }
}

/// The last element of a `rows x cols` view (both at least 1).
fn last(v: MatView, rows: usize, cols: usize) -> usize {
    v.offset + (rows - 1) * v.rs + (cols - 1) * v.cs
}

/// `out = a @ b` into the view `vo` of the buffer at `out`, whose elements are written and never
/// read (they may be uninitialized), as [`gemm_into`]: for products that write disjoint views of
/// one buffer from several threads (the heads of attention), where no thread may hold the whole
/// buffer as a slice.
///
/// # Safety
/// Every element of the `m x n` view `vo` of `out` is valid for writes, distinct, outside `a` and
/// `b`, and neither read nor written by anything else during the call.
pub(crate) unsafe fn gemm_to_ptr<T: Element>(
    dims: (usize, usize, usize),
    a: (&[T], MatView),
    b: (&[T], MatView),
    (out, vo): (*mut MaybeUninit<T>, MatView),
) {
    if dims.0 > 0 && dims.1 > 0 {
        // SAFETY: the caller vouches for the output view.
        unsafe { write_to_ptr(dims, a, b, (out, vo), Accum::Replace, None) }
    }
}

/// [`write`] on an output given as a pointer and a view.
///
/// # Safety
/// `m, n >= 1`; every element of the `m x n` view `vo` of `out` is valid for writes (and
/// initialized with `Accum::Add`), distinct, outside `a` and `b`, and not accessed by anything
/// else during the call.
unsafe fn write_to_ptr<T: Element>(
    (m, n, k): (usize, usize, usize),
    (a, va): (&[T], MatView),
    (b, vb): (&[T], MatView),
    (out, vo): (*mut MaybeUninit<T>, MatView),
    accum: Accum,
    bias: Option<&[T]>,
) {
    if k == 0 {
        if accum == Accum::Replace {
            for i in 0..m {
                for j in 0..n {
                    let start = bias.map_or(T::zero(), |b| b[j]);
                    // SAFETY: inside the output view, as the caller vouched.
                    unsafe { (*out.add(vo.offset + i * vo.rs + j * vo.cs)).write(start) };
                }
            }
        }
        return;
    }
    assert!(
        last(va, m, k) < a.len() && last(vb, k, n) < b.len(),
        "gemm operand view out of bounds"
    );
    let left = LeftOperand::choose((m, n, k), va);
    let scratch;
    let (a, va) = if left == LeftOperand::Copy {
        scratch = row_major_copy(&a[va.offset..], (m, k), va.cs);
        (&scratch[..], row_major(k))
    } else {
        (a, va)
    };
    let column_major_panels = left == LeftOperand::ColumnMajorPanels;
    // SAFETY: the assert above keeps the operand views inside their buffers; the caller vouched
    // for the output view. `T` is f32 or f64 as `T::DTYPE` says, so the pointer casts only rename
    // the type.
    unsafe {
        match T::DTYPE {
            DType::F32 => run::<f32>(
                (m, n, k),
                (a.as_ptr().cast(), va),
                (b.as_ptr().cast(), vb),
                (out.cast(), vo),
                accum,
                bias.map(|b| b.as_ptr().cast()),
                column_major_panels,
            ),
            DType::F64 => run::<f64>(
                (m, n, k),
                (a.as_ptr().cast(), va),
                (b.as_ptr().cast(), vb),
                (out.cast(), vo),
                accum,
                bias.map(|b| b.as_ptr().cast()),
                column_major_panels,
            ),
            d => unreachable!("{d:?} reaches the GEMM widened to f32"),
        }
    }
}

/// The column-major `rows x cols` matrix with column stride `ld` at the start of `a`, copied
/// row-major.
fn row_major_copy<T: Element>(a: &[T], (rows, cols): (usize, usize), ld: usize) -> Vec<T> {
    // SAFETY: `transpose_into` writes all `rows * cols` elements.
    unsafe { filled(rows * cols, |out| transpose_into(a, (rows, cols), ld, out)) }
}

/// Raw operand, output and bias pointers shared by the panels of one product.
#[derive(Clone, Copy)]
struct Ptrs<T> {
    a: *const T,
    b: *const T,
    out: *mut T,
    bias: Option<*const T>,
}

// SAFETY: the panels of one product write disjoint elements of the output and only read the
// operands, which outlive the parallel loop in `run`.
unsafe impl<T> Send for Ptrs<T> {}
unsafe impl<T> Sync for Ptrs<T> {}

/// The output's panels in parallel, each one sequential `faer` product; with
/// `column_major_panels`, each computed into a column-major scratch panel first and then written
/// out (after the bias, or added to the output with `Accum::Add`).
///
/// # Safety
/// The views must lie inside their buffers, the output view must not overlap the operands, and
/// its elements must be distinct; a `bias` holds `n` elements.
unsafe fn run<T: faer::traits::ComplexField + Copy + num_traits::One + num_traits::Zero>(
    (m, n, k): (usize, usize, usize),
    (a, va): (*const T, MatView),
    (b, vb): (*const T, MatView),
    (out, vo): (*mut T, MatView),
    accum: Accum,
    bias: Option<*const T>,
    column_major_panels: bool,
) {
    let (rows, cols) = panels((m, n, k));
    let (row_panels, col_panels) = (m.div_ceil(rows), n.div_ceil(cols));
    let p = Ptrs { a, b, out, bias };
    let panel = move |i: usize| {
        let (r0, c0) = ((i / col_panels) * rows, (i % col_panels) * cols);
        let (pm, pn) = (rows.min(m - r0), cols.min(n - c0));
        // SAFETY: the panel is a sub-block of the views the caller vouched for; panels do not
        // share output elements.
        unsafe {
            let p = p;
            let lhs = MatRef::from_raw_parts(
                p.a.add(va.offset + r0 * va.rs),
                pm,
                k,
                va.rs as isize,
                va.cs as isize,
            );
            let rhs = MatRef::from_raw_parts(
                p.b.add(vb.offset + c0 * vb.cs),
                k,
                pn,
                vb.rs as isize,
                vb.cs as isize,
            );
            let corner = p.out.add(vo.offset + r0 * vo.rs + c0 * vo.cs);
            if column_major_panels {
                let mut panel = vec![T::zero(); pm * pn];
                let dst = MatMut::from_raw_parts_mut(panel.as_mut_ptr(), pm, pn, 1, pm as isize);
                faer::linalg::matmul::matmul(dst, Accum::Replace, lhs, rhs, T::one(), Par::Seq);
                for i in 0..pm {
                    for j in 0..pn {
                        let v = panel[j * pm + i];
                        let o = corner.add(i * vo.rs + j * vo.cs);
                        // only `Accum::Add` reads the output (initialized, as the caller vouched)
                        o.write(match (p.bias, accum) {
                            (Some(bias), _) => *bias.add(c0 + j) + v,
                            (None, Accum::Add) => *o + v,
                            (None, Accum::Replace) => v,
                        });
                    }
                }
                return;
            }
            let accum = match p.bias {
                Some(bias) => {
                    for i in 0..pm {
                        for j in 0..pn {
                            *corner.add(i * vo.rs + j * vo.cs) = *bias.add(c0 + j);
                        }
                    }
                    Accum::Add
                }
                None => accum,
            };
            let dst = MatMut::from_raw_parts_mut(corner, pm, pn, vo.rs as isize, vo.cs as isize);
            faer::linalg::matmul::matmul(dst, accum, lhs, rhs, T::one(), Par::Seq);
        }
    };
    match row_panels * col_panels {
        1 => panel(0),
        count => {
            crate::threads::warm();
            (0..count).into_par_iter().for_each(panel)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The naive triple loop, in f64.
    fn naive(
        (m, n, k): (usize, usize, usize),
        (a, va): (&[f64], MatView),
        (b, vb): (&[f64], MatView),
    ) -> Vec<f64> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k)
                    .map(|p| {
                        a[va.offset + i * va.rs + p * va.cs] * b[vb.offset + p * vb.rs + j * vb.cs]
                    })
                    .sum();
            }
        }
        out
    }

    #[test]
    fn panels_depend_on_the_shape_alone_and_cover_big_products() {
        assert_eq!(panels((40, 160, 960)), (40, 160));
        assert_eq!(panels((128, 256, 512)), (64, 256));
        assert_eq!(panels((70, 200, 300)), (36, 200));
        assert_eq!(panels((32, 256, 1024)), (32, 256));
        assert_eq!(panels((8, 1000, 300)), (8, 256));
        assert_eq!(panels((1024, 1024, 1024)), (256, 256));
        assert_eq!(panels((300, 300, 40)), (300, 160));
        assert_eq!(panels((200_000, 4, 3)), (100_000, 4));
        // equal panels: 384 columns as two of 192, 784 rows as four of 196
        assert_eq!(panels((2048, 384, 128)), (256, 192));
        assert_eq!(panels((784, 512, 128)), (196, 256));
    }

    #[test]
    fn halved_products_into_uninitialized_outputs_are_right() {
        // (70 x 300) @ (300 x 200): one panel's worth, halved into rows 0..36 and 36..70; `b`
        // transposed; the output starts uninitialized, and so does an empty inner axis's
        let (m, n, k) = (70, 200, 300);
        assert_eq!(panels((m, n, k)), (36, 200));
        let a: Vec<f64> = (0..m * k).map(|i| ((i * 7) % 13) as f64 - 6.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| ((i * 5) % 11) as f64 - 5.0).collect();
        let va = row_major(k);
        let vb = MatView {
            offset: 0,
            rs: 1,
            cs: k,
        };
        assert_eq!(
            gemm_new((m, n, k), (&a, va), (&b, vb)),
            naive((m, n, k), (&a, va), (&b, vb))
        );
        let empty: Vec<f64> = gemm_new((3, 4, 0), (&[], row_major(0)), (&[], row_major(4)));
        assert_eq!(empty, vec![0.0; 12]);
    }

    #[test]
    fn bias_products_equal_bias_rows_then_accumulation_to_the_bit() {
        // (300 x 200) @ (200 x 300), `b` transposed: 2 x 2 panels, each starting from its part
        // of the bias; the bits of filling every row with the bias and accumulating the product
        // onto it; an empty inner axis gives the bias rows
        let (m, n, k) = (300, 300, 200);
        assert_eq!(panels((m, n, k)), (152, 160));
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7) % 13) as f32 * 0.3 - 1.7)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 5) % 11) as f32 * 0.2 - 0.9)
            .collect();
        let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.01 - 1.0).collect();
        let (va, vb) = (
            row_major(k),
            MatView {
                offset: 0,
                rs: 1,
                cs: k,
            },
        );
        let mut want: Vec<f32> = (0..m).flat_map(|_| bias.iter().copied()).collect();
        gemm_into(
            (m, n, k),
            (&a, va),
            (&b, vb),
            (&mut want, row_major(n)),
            true,
        );
        assert_eq!(gemm_bias_new((m, n, k), (&a, va), (&b, vb), &bias), want);
        let empty = gemm_bias_new(
            (2, 3, 0),
            (&[], row_major(0)),
            (&[], row_major(3)),
            &[1.0, 2.0, 3.0],
        );
        assert_eq!(empty, vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
    }

    #[test]
    fn split_products_with_strided_views_and_accumulation_are_right() {
        // (300 x 40) @ (40 x 300): 1 x 2 panels; `a` transposed, `out` column-major
        let (m, n, k) = (300, 300, 40);
        let a: Vec<f64> = (0..m * k).map(|i| ((i * 7) % 13) as f64 - 6.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| ((i * 5) % 11) as f64 - 5.0).collect();
        let va = MatView {
            offset: 0,
            rs: 1,
            cs: m,
        };
        let vb = MatView {
            offset: 0,
            rs: n,
            cs: 1,
        };
        let vo = MatView {
            offset: 0,
            rs: 1,
            cs: m,
        };
        let want = naive((m, n, k), (&a, va), (&b, vb));
        let mut out = vec![1.0; m * n];
        gemm_into((m, n, k), (&a, va), (&b, vb), (&mut out, vo), true);
        for i in 0..m {
            for j in 0..n {
                assert_eq!(out[j * m + i], want[i * n + j] + 1.0, "element ({i}, {j})");
            }
        }
    }

    /// A column-major `m x k` left operand with column stride `ld` after `off` elements, and its
    /// row-major copy.
    fn column_major_operand(
        m: usize,
        k: usize,
        ld: usize,
        off: usize,
    ) -> (Vec<f32>, MatView, Vec<f32>) {
        let a: Vec<f32> = (0..off + ld * k)
            .map(|i| ((i * 7) % 13) as f32 * 0.25 - 1.5)
            .collect();
        let va = MatView {
            offset: off,
            rs: 1,
            cs: ld,
        };
        let copy = (0..m * k)
            .map(|x| a[off + (x / k) + (x % k) * ld])
            .collect();
        (a, va, copy)
    }

    fn wide(v: &[f32]) -> Vec<f64> {
        v.iter().map(|&x| x as f64).collect()
    }

    fn assert_close(got: &[f32], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (x, w) in got.iter().zip(want) {
            assert!(
                (*x as f64 - w).abs() <= 1e-4 * (1.0 + w.abs()),
                "{x} vs {w}"
            );
        }
    }

    #[test]
    fn a_wide_product_copies_its_column_major_left_operand_row_major() {
        // (1030 x 600) @ (600 x 300), `a` column-major with a padded column stride and an
        // offset: copied row-major first, so the product is the row-major one's, to the bit,
        // and right; accumulation into a strided output too
        let (m, n, k, ld, off) = (1030, 300, 600, 1037, 3);
        let (a, va, copy) = column_major_operand(m, k, ld, off);
        assert_eq!(LeftOperand::choose((m, n, k), va), LeftOperand::Copy);
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 5) % 11) as f32 * 0.5 - 2.5)
            .collect();
        let col_major = gemm_new((m, n, k), (&a, va), (&b, row_major(n)));
        let row_major_result = gemm_new((m, n, k), (&copy, row_major(k)), (&b, row_major(n)));
        assert_eq!(col_major, row_major_result);
        assert_close(
            &col_major,
            &naive((m, n, k), (&wide(&a), va), (&wide(&b), row_major(n))),
        );
        let vo = MatView {
            offset: 0,
            rs: 1,
            cs: m,
        };
        let mut out = vec![2.0f32; m * n];
        gemm_into(
            (m, n, k),
            (&a, va),
            (&b, row_major(n)),
            (&mut out, vo),
            true,
        );
        for i in (0..m).step_by(97) {
            for j in 0..n {
                assert_eq!(
                    out[j * m + i],
                    row_major_result[i * n + j] + 2.0,
                    "({i}, {j})"
                );
            }
        }
    }

    #[test]
    fn a_thin_product_computes_column_major_panels_and_writes_them_out() {
        // (1030 x 600) @ (600 x 40), `a` column-major: five 208-row panels, each computed
        // column-major and written out transposed: right when replacing, on the bias, and
        // accumulating into row-major and column-major outputs; the same bits on one thread
        let (m, n, k, ld, off) = (1030, 40, 600, 1037, 3);
        let (a, va, _) = column_major_operand(m, k, ld, off);
        assert_eq!(
            LeftOperand::choose((m, n, k), va),
            LeftOperand::ColumnMajorPanels
        );
        assert_eq!(panels((m, n, k)), (208, 40));
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 5) % 11) as f32 * 0.5 - 2.5)
            .collect();
        let want = naive((m, n, k), (&wide(&a), va), (&wide(&b), row_major(n)));
        let product = gemm_new((m, n, k), (&a, va), (&b, row_major(n)));
        assert_close(&product, &want);
        let one_thread = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| gemm_new((m, n, k), (&a, va), (&b, row_major(n))));
        assert_eq!(product, one_thread);

        let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.5 - 7.0).collect();
        let on_bias = gemm_bias_new((m, n, k), (&a, va), (&b, row_major(n)), &bias);
        let want_bias: Vec<f64> = (0..m * n).map(|x| want[x] + bias[x % n] as f64).collect();
        assert_close(&on_bias, &want_bias);

        let start = |x: usize| (x % 17) as f32 - 8.0;
        let mut rows: Vec<f32> = (0..m * n).map(start).collect();
        gemm_into(
            (m, n, k),
            (&a, va),
            (&b, row_major(n)),
            (&mut rows, row_major(n)),
            true,
        );
        let want_rows: Vec<f64> = (0..m * n).map(|x| want[x] + start(x) as f64).collect();
        assert_close(&rows, &want_rows);

        let vo = MatView {
            offset: 0,
            rs: 1,
            cs: m,
        };
        let mut cols: Vec<f32> = (0..m * n).map(start).collect();
        gemm_into(
            (m, n, k),
            (&a, va),
            (&b, row_major(n)),
            (&mut cols, vo),
            true,
        );
        for i in 0..m {
            for j in 0..n {
                let w = want[i * n + j] + start(j * m + i) as f64;
                let x = cols[j * m + i] as f64;
                assert!(
                    (x - w).abs() <= 1e-4 * (1.0 + w.abs()),
                    "({i}, {j}): {x} vs {w}"
                );
            }
        }
    }
}
