//! The affine map of a linear layer, `y = x W^T + b` (`torch.nn.functional.linear`, the GEMM with
//! its bias in the epilogue as BLAS `addmm` does), and its backward: `dx = g W`, `dW = g^T x` in
//! `W`'s own `[out, in]` layout (no transposed gradient for the optimizer to copy) and
//! `db = sum_rows g`. Every product is one `faer` GEMM on strided views, so no operand is
//! transposed in memory; the results do not depend on the thread count (`gemm_into`'s panels
//! depend on the shape alone and `db` sums the rows in order).

use crate::backend::cpu::kernels::gemm::{gemm_bias_new, gemm_new, MatView};
use crate::backend::cpu::kernels::reduce::sum_cols;
use crate::ops::nn::LinearDims;
use crate::Element;

/// A view of a row-major matrix with `cols` columns.
fn row_major(cols: usize) -> MatView {
    MatView {
        offset: 0,
        rs: cols,
        cs: 1,
    }
}

/// The transpose of a row-major matrix with `cols` columns.
fn transposed(cols: usize) -> MatView {
    MatView {
        offset: 0,
        rs: 1,
        cs: cols,
    }
}

/// Inputs `x [rows, in]`, `weight [out, in]` and, with `d.bias`, `bias [out]`; output
/// `y [rows, out]`: every row starts as the bias and the product is accumulated onto it.
pub(super) fn forward<T: Element>(x: &[&[T]], d: LinearDims) -> Vec<T> {
    let (rows, inp, out) = (d.rows, d.inp, d.out);
    let (xs, wt) = ((x[0], row_major(inp)), (x[1], transposed(inp)));
    if !d.bias {
        return gemm_new((rows, out, inp), xs, wt);
    }
    gemm_bias_new((rows, out, inp), xs, wt, x[2])
}

/// Inputs `g [rows, out]`, `x [rows, in]`, `weight [out, in]`; outputs `dx [rows, in]` (empty
/// unless `want[0]`), `dweight [out, in]` (empty unless `want[1]`) and `dbias [out]` (empty unless
/// `want[2]`).
pub(super) fn backward<T: Element>(x: &[&[T]], d: LinearDims, want: [bool; 3]) -> Vec<Vec<T>> {
    let (g, input, w) = (x[0], x[1], x[2]);
    let (rows, inp, out) = (d.rows, d.inp, d.out);
    let mut dx = Vec::new();
    if want[0] {
        dx = gemm_new((rows, inp, out), (g, row_major(out)), (w, row_major(inp)));
    }
    let mut dw = Vec::new();
    if want[1] {
        let (gt, xs) = ((g, transposed(out)), (input, row_major(inp)));
        dw = gemm_new((out, inp, rows), gt, xs);
    }
    let mut db = Vec::new();
    if want[2] {
        db = sum_cols(g, out);
    }
    vec![dx, dw, db]
}
