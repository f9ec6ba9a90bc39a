//! The fused kernel of `Tensor::linear_bce_with_logits`: logistic regression's loss and its
//! gradient with respect to the weights and bias in one pass over `X`.
//!
//! Per row `i`: `z_i = x_i . w + b`, loss `softplus(z_i) - z_i y_i`, residual
//! `r_i = sigmoid(z_i) - y_i`, and `dw += r_i x_i`, `db += r_i`. Rows go in blocks of [`BLOCK`]
//! (100 KB of `X` at 100 features, in L2): the dots of a block, then its residuals
//! (vectorized), then its weighted row sum, so `X` comes from memory once. The dots and the row
//! sum take four rows at a time (four independent chains of additions, not one per row), and
//! each block prefetches the next. Fixed tasks of [`TASK`] rows run in parallel and their
//! partial sums are added in task order, so the result is the same bits with any number of
//! threads.

use super::kernels::fast_math::{axpy, dot, dot4, VecMath};
use super::kernels::math::GateMath;
use super::kernels::prefetch::prefetch;
use super::kernels::{with_widest_simd, SimdKernel};
use super::CpuStorage;
use crate::layout::Layout;
use crate::{Element, Result};
use rayon::prelude::*;

/// Rows whose dot products, residuals and updates are done together.
const BLOCK: usize = 256;
/// Rows per parallel task (a fixed size: the sums' order does not depend on the thread count).
const TASK: usize = 8192;

/// The per-type parts: the sum of `softplus(z)` over a block of logits.
pub(crate) trait LogisticMath: Element + VecMath + GateMath {
    /// `sum_i softplus(z_i)`, in f64.
    fn softplus_sum(z: &[Self]) -> f64;
}

impl LogisticMath for f64 {
    // the reference path: exact library functions, row by row
    fn softplus_sum(z: &[f64]) -> f64 {
        z.iter()
            .map(|&z| z.max(0.0) + (-z.abs()).exp().ln_1p())
            .sum()
    }
}

impl LogisticMath for f32 {
    // softplus(z) = max(z, 0) + ln(1 + e^-|z|); the factors 1 + e^-|z| lie in (1, 2], so the
    // product of a block's 256 of them stays below 2^256 in f64: one `ln` per block instead of
    // one libm call per row (the e^-|z| are the vectorized f32 exp, within 2 ulp)
    #[inline(always)]
    fn softplus_sum(z: &[f32]) -> f64 {
        let mut relu = 0f64;
        let mut product = 1f64;
        for &z in z {
            relu += f64::from(z.max(0.0));
            product *= 1.0 + f64::from((-z.abs()).exp_v());
        }
        relu + product.ln()
    }
}

/// One task's rows: `x [rows, cols]`, `y [rows]`; returns (sum of losses, `dw`, `db`).
struct Task<'a, T> {
    x: &'a [T],
    y: &'a [T],
    w: &'a [T],
    b: T,
    cols: usize,
    grads: bool,
    out: &'a mut (f64, Vec<T>, T),
}

impl<T: LogisticMath> SimdKernel for Task<'_, T> {
    #[inline(always)]
    fn run(self) {
        let Task {
            x,
            y,
            w,
            b,
            cols,
            grads,
            out,
        } = self;
        let mut z = [T::zero(); BLOCK];
        let (mut loss, mut db) = (0f64, T::zero());
        let mut dw = vec![T::zero(); if grads { cols } else { 0 }];
        for (k, (xb, yb)) in x.chunks(BLOCK * cols).zip(y.chunks(BLOCK)).enumerate() {
            let z = &mut z[..yb.len()];
            dots(xb, w, z, x.get((k + 1) * BLOCK * cols..).unwrap_or(&[]));
            z.iter_mut().for_each(|z| *z = *z + b);
            let zy: f64 = z.iter().zip(yb).map(|(&z, &y)| (z * y).to_f64()).sum();
            loss += T::softplus_sum(z) - zy;
            if grads {
                // the residuals replace the logits
                for (z, &y) in z.iter_mut().zip(yb) {
                    *z = z.sigmoid() - y;
                }
                weighted_row_sum(&mut dw, z, xb);
                db = z.iter().fold(db, |db, &r| db + r);
            }
        }
        *out = (loss, dw, db);
    }
}

/// `z[i] = x_i . w` for the rows `x_i` of `xb` (`z.len()` rows of `w.len()` columns), four
/// rows at a time ([`dot4`]: four independent sums instead of one dependent chain per row),
/// the rows left over one at a time ([`dot`]). With each group of four rows it asks for the
/// same rows of `next` (the next block) to be fetched into cache, so that memory works while
/// this block is computed.
#[inline(always)]
fn dots<T: Element>(xb: &[T], w: &[T], z: &mut [T], next: &[T]) {
    let cols = w.len();
    let mut quads = z.chunks_exact_mut(4);
    let mut rows = xb.chunks_exact(4 * cols);
    for (q, (zq, xq)) in (&mut quads).zip(&mut rows).enumerate() {
        prefetch(
            next.get(q * 4 * cols..)
                .map_or(&[], |n| &n[..n.len().min(4 * cols)]),
        );
        zq.copy_from_slice(&dot4(four_rows(xq, cols), w));
    }
    for (z, row) in quads
        .into_remainder()
        .iter_mut()
        .zip(rows.remainder().chunks_exact(cols))
    {
        *z = dot(row, w);
    }
}

/// The four rows of `cols` elements in `xq`.
#[inline(always)]
fn four_rows<T>(xq: &[T], cols: usize) -> [&[T]; 4] {
    let (x0, rest) = xq.split_at(cols);
    let (x1, rest) = rest.split_at(cols);
    let (x2, x3) = rest.split_at(cols);
    [x0, x1, x2, x3]
}

/// `dw += sum_i r_i x_i` over the rows `x_i` of `xb` (`r.len()` rows of `dw.len()` columns),
/// four rows per pass over `dw`: `dw += (r_0 x_0 + r_1 x_1) + (r_2 x_2 + r_3 x_3)`, then the
/// remaining rows one at a time. One row per pass made each element of `dw` a chain through
/// memory, a store and a reload per row.
#[inline(always)]
fn weighted_row_sum<T: Element>(dw: &mut [T], r: &[T], xb: &[T]) {
    let cols = dw.len();
    let mut quads = r.chunks_exact(4);
    let mut rows = xb.chunks_exact(4 * cols);
    let full = cols / 16 * 16;
    for (rq, xq) in (&mut quads).zip(&mut rows) {
        let [x0, x1, x2, x3] = four_rows(xq, cols);
        let lanes = |s: &[T], c: usize| -> [T; 16] { s[c..c + 16].try_into().unwrap() };
        for c in (0..full).step_by(16) {
            let (a, b, e, f) = (lanes(x0, c), lanes(x1, c), lanes(x2, c), lanes(x3, c));
            let d: &mut [T; 16] = (&mut dw[c..c + 16]).try_into().unwrap();
            for l in 0..16 {
                d[l] = d[l] + ((rq[0] * a[l] + rq[1] * b[l]) + (rq[2] * e[l] + rq[3] * f[l]));
            }
        }
        for l in full..cols {
            dw[l] = dw[l] + ((rq[0] * x0[l] + rq[1] * x1[l]) + (rq[2] * x2[l] + rq[3] * x3[l]));
        }
    }
    for (&ri, row) in quads
        .remainder()
        .iter()
        .zip(rows.remainder().chunks_exact(cols))
    {
        axpy(dw, ri, row);
    }
}

/// `dw [cols]` and `db [1]`, unscaled sums over the rows.
type Gradients<T> = (Vec<T>, Vec<T>);

/// The fused pass over contiguous `x [rows, cols]`, `w [cols]`, `b [1]`, `y [rows]` of one
/// dtype: the sum of the rows' losses and, when `grads`, the unscaled sums `dw [cols]`, `db [1]`.
fn run<T: LogisticMath>(
    x: &[T],
    w: &[T],
    b: T,
    y: &[T],
    cols: usize,
    grads: bool,
) -> (f64, Option<Gradients<T>>) {
    let tasks = y.len().div_ceil(TASK);
    let mut parts: Vec<(f64, Vec<T>, T)> = vec![(0.0, Vec::new(), T::zero()); tasks];
    crate::threads::warm();
    parts.par_iter_mut().enumerate().for_each(|(t, out)| {
        let rows = t * TASK..y.len().min((t + 1) * TASK);
        with_widest_simd(Task {
            x: &x[rows.start * cols..rows.end * cols],
            y: &y[rows],
            w,
            b,
            cols,
            grads,
            out,
        });
    });
    let loss = parts.iter().map(|p| p.0).sum();
    if !grads {
        return (loss, None);
    }
    let mut dw = vec![T::zero(); cols];
    let mut db = T::zero();
    for (_, pw, pb) in &parts {
        axpy(&mut dw, T::one(), pw);
        db = db + *pb;
    }
    (loss, Some((dw, vec![db])))
}

/// Unscaled results of the fused pass: the loss sum and, when asked, `dw` and `db` buffers.
pub(crate) type LogisticOut = (f64, Option<(CpuStorage, CpuStorage)>);

impl CpuStorage {
    /// See [`run`]; every view must be contiguous, all of one dtype.
    pub(crate) fn linear_bce_with_logits(
        x: (&CpuStorage, &Layout),
        w: (&CpuStorage, &Layout),
        b: (&CpuStorage, &Layout),
        y: (&CpuStorage, &Layout),
        grads: bool,
    ) -> Result<LogisticOut> {
        fn view<'a, T: Element>((s, l): (&'a CpuStorage, &Layout)) -> &'a [T] {
            &s.slice::<T>()[l.offset..l.offset + l.numel()]
        }
        fn go<T: LogisticMath>(
            x: (&CpuStorage, &Layout),
            w: (&CpuStorage, &Layout),
            b: (&CpuStorage, &Layout),
            y: (&CpuStorage, &Layout),
            grads: bool,
        ) -> LogisticOut {
            let (w, b) = (view::<T>(w), view::<T>(b)[0]);
            let (loss, g) = run(view::<T>(x), w, b, view::<T>(y), w.len(), grads);
            let wrap = |(dw, db): (Vec<T>, Vec<T>)| (T::into_cpu(dw), T::into_cpu(db));
            (loss, g.map(wrap))
        }
        if let Some(d) = super::half::half_dtype(&[x.0, w.0, b.0, y.0]) {
            // 16 bits: the pass runs on f32 copies; the gradients are rounded to the dtype
            let wide = [x.0, w.0, b.0, y.0].map(|s| s.widened());
            let (loss, g) = CpuStorage::linear_bce_with_logits(
                (&wide[0], x.1),
                (&wide[1], w.1),
                (&wide[2], b.1),
                (&wide[3], y.1),
                grads,
            )?;
            return Ok((loss, g.map(|(dw, db)| (dw.narrowed(d), db.narrowed(d)))));
        }
        Ok(match x.0 {
            CpuStorage::F32(_) => go::<f32>(x, w, b, y, grads),
            CpuStorage::F64(_) => go::<f64>(x, w, b, y, grads),
            s => super::half::not_widened(s),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::LogisticMath;

    #[test]
    fn f32_block_softplus_matches_f64_row_by_row() {
        let z: Vec<f32> = (0..256).map(|i| (i as f32 - 128.0) * 0.37).collect();
        let exact = f64::softplus_sum(&z.iter().map(|&v| f64::from(v)).collect::<Vec<_>>());
        let fast = f32::softplus_sum(&z);
        assert!((fast - exact).abs() < 1e-5, "{fast} vs {exact}");
    }
}
