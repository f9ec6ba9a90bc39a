//! The affine map of a linear layer, `y = x W^T + b` (`torch.nn.functional.linear`, the GEMM with
//! its bias in the epilogue as BLAS `addmm` does), and its backward: `dx = g W`, `dW = g^T x` in
//! `W`'s own `[out, in]` layout (no transposed gradient for the optimizer to copy) and
//! `db = sum_rows g`. Every product is one `faer` GEMM on strided views, so no operand is
//! transposed in memory; the results do not depend on the thread count (`gemm_into`'s panels
//! depend on the shape alone and `db` sums the rows in order).

use crate::backend::cpu::kernels::gemm::{gemm_bias_new, gemm_new, MatView};
use crate::backend::cpu::kernels::{with_widest_simd, SimdKernel, PARALLEL_THRESHOLD};
use crate::ops::nn::LinearDims;
use crate::Element;
use rayon::prelude::*;

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
        db = column_sums(g, out);
    }
    vec![dx, dw, db]
}

/// Columns per task of [`column_sums`]: four cache lines of f32 per row.
const SUM_COLS: usize = 64;

/// The sums of the columns of a row-major matrix with `cols` columns, each over the rows in
/// order (so the bits do not depend on the thread count or the SIMD level); blocks of
/// [`SUM_COLS`] columns, each summed in registers, run in parallel when the matrix is big.
fn column_sums<T: Element>(g: &[T], cols: usize) -> Vec<T> {
    let mut sums = vec![T::zero(); cols];
    if cols == 0 {
        return sums;
    }
    let block = |(b, sums): (usize, &mut [T])| {
        with_widest_simd(ColumnSums {
            g,
            cols,
            start: b * SUM_COLS,
            sums,
        })
    };
    if g.len() >= PARALLEL_THRESHOLD && cols > SUM_COLS {
        crate::threads::warm();
        sums.par_chunks_mut(SUM_COLS).enumerate().for_each(block);
    } else {
        sums.chunks_mut(SUM_COLS).enumerate().for_each(block);
    }
    sums
}

/// `sums[j] = sum_rows g[row][start + j]` for the (at most [`SUM_COLS`]) columns of `sums`.
struct ColumnSums<'a, T> {
    g: &'a [T],
    cols: usize,
    start: usize,
    sums: &'a mut [T],
}

impl<T: Element> SimdKernel for ColumnSums<'_, T> {
    #[inline(always)]
    fn run(self) {
        let len = self.sums.len();
        let mut acc = [T::zero(); SUM_COLS];
        if len == SUM_COLS {
            // a full block: a fixed width, so the accumulators stay in registers
            for row in self.g.chunks_exact(self.cols) {
                let row = &row[self.start..self.start + SUM_COLS];
                for (a, &v) in acc.iter_mut().zip(row) {
                    *a = *a + v;
                }
            }
        } else {
            for row in self.g.chunks_exact(self.cols) {
                for (a, &v) in acc.iter_mut().zip(&row[self.start..self.start + len]) {
                    *a = *a + v;
                }
            }
        }
        self.sums.copy_from_slice(&acc[..len]);
    }
}

#[cfg(test)]
mod tests {
    use super::{column_sums, PARALLEL_THRESHOLD, SUM_COLS};

    /// Column sums over the rows in order, to the bit, whether the column blocks run in parallel
    /// (a partial last block) or not.
    #[test]
    fn column_sums_add_the_rows_in_order() {
        for (rows, cols) in [(2100, 130), (7, 130), (3, 5), (0, 4)] {
            let g: Vec<f32> = (0..rows * cols)
                .map(|i| ((i * 7919) % 1009) as f32 * 1e-3 - 0.5)
                .collect();
            let mut want = vec![0.0f32; cols];
            for row in g.chunks_exact(cols) {
                for (s, &v) in want.iter_mut().zip(row) {
                    *s += v;
                }
            }
            assert_eq!(column_sums(&g, cols), want, "{rows} x {cols}");
        }
        const { assert!(2100 * 130 >= PARALLEL_THRESHOLD && 130 > 2 * SUM_COLS) };
        assert_eq!(column_sums::<f32>(&[], 0), Vec::<f32>::new());
    }
}
