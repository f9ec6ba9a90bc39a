//! The fused kernel of `Tensor::linear_bce_with_logits`: logistic regression's loss and its
//! gradient with respect to the weights and bias in one pass over `X`.
//!
//! Per row `i`: `z_i = x_i . w + b`, loss `softplus(z_i) - z_i y_i`, residual
//! `r_i = sigmoid(z_i) - y_i`, and `dw += r_i x_i`, `db += r_i`. Rows go in blocks of [`BLOCK`]
//! (100 KB of `X` at 100 features, in L2): the dots of a block, then its losses and residuals
//! (vectorized across rows, one `exp` per row shared by both), then its weighted row sum, so `X`
//! comes from memory once. The dots take four rows at a time (four independent chains of
//! additions, not one per row), the row sum eight. No software prefetch: asking for the next
//! block, or for rows 8 to 256 ahead, while computing this one measured slower or no faster on
//! an Intel Xeon and an AMD EPYC (BENCHMARKS.md). Multiply-adds are fused on CPUs with FMA
//! ([`FmaKernel`]). Fixed tasks of [`TASK`] rows run in parallel and their partial sums are
//! added in task order, so the result is the same bits with any number of threads.

use super::kernels::fast_math::{axpy, dot, dot4, sum, VecMath};
use super::kernels::math::GateMath;
use super::simd::{with_widest_simd_fma, FmaKernel};
use super::CpuStorage;
use crate::layout::Layout;
use crate::{Element, Result};
use rayon::prelude::*;

/// Rows whose dot products, residuals and updates are done together.
const BLOCK: usize = 256;
/// Rows per parallel task (a fixed size: the sums' order does not depend on the thread count).
const TASK: usize = 8192;

/// The per-type parts: a block's losses and residuals.
pub(crate) trait LogisticMath: Element + VecMath + GateMath {
    /// `sum_i softplus(z_i) - z_i y_i` over a block of logits `z` and labels `y`, in f64; with
    /// `RESIDUALS`, each `z_i` is then replaced by its residual `sigmoid(z_i) - y_i`.
    fn block_loss<const FMA: bool, const RESIDUALS: bool>(z: &mut [Self], y: &[Self]) -> f64;
}

impl LogisticMath for f64 {
    // the reference path: exact library functions, row by row
    fn block_loss<const FMA: bool, const RESIDUALS: bool>(z: &mut [f64], y: &[f64]) -> f64 {
        let mut loss = 0.0;
        for (z, &y) in z.iter_mut().zip(y) {
            loss += z.max(0.0) + (-z.abs()).exp().ln_1p() - *z * y;
            if RESIDUALS {
                *z = z.sigmoid() - y;
            }
        }
        loss
    }
}

/// Lanes of the f32 block loss: rows `i`, `i + LANES`, ... share a lane.
const LANES: usize = 16;
// each lane's product has at most BLOCK / LANES factors in (1, 2], all lanes' at most BLOCK:
// below 2^1024, the largest f64
const _: () = assert!(BLOCK <= 1000);

impl LogisticMath for f32 {
    // softplus(z) = max(z, 0) + ln(1 + e^-|z|); the factors 1 + e^-|z| lie in (1, 2], so their
    // product over a block stays finite in f64: one `ln` per block instead of one per row. The
    // residual's sigmoid reuses e = e^-|z|: 1 / (1 + e) for z >= 0, e / (1 + e) below (no
    // cancellation on either side). `e` is the vectorized f32 exp, within 2 ulp.
    #[inline(always)]
    fn block_loss<const FMA: bool, const RESIDUALS: bool>(z: &mut [f32], y: &[f32]) -> f64 {
        let mut linear = [0f64; LANES];
        let mut product = [1f64; LANES];
        let mut row = |l: usize, z: &mut f32, y: f32| {
            let e = (-z.abs()).exp_with::<FMA>();
            linear[l] += f64::from(z.max(0.0)) - f64::from(*z) * f64::from(y);
            product[l] *= 1.0 + f64::from(e);
            if RESIDUALS {
                let s = 1.0 / (1.0 + e);
                *z = if *z >= 0.0 { s } else { e * s } - y;
            }
        };
        let mut zc = z.chunks_exact_mut(LANES);
        let mut yc = y.chunks_exact(LANES);
        for (zc, yc) in (&mut zc).zip(&mut yc) {
            let (zc, yc): (&mut [f32; LANES], &[f32; LANES]) =
                (zc.try_into().unwrap(), yc.try_into().unwrap());
            for l in 0..LANES {
                row(l, &mut zc[l], yc[l]);
            }
        }
        for (l, (z, &y)) in zc
            .into_remainder()
            .iter_mut()
            .zip(yc.remainder())
            .enumerate()
        {
            row(l, z, y);
        }
        linear.iter().sum::<f64>() + product.iter().product::<f64>().ln()
    }
}

/// One task's rows: `x [rows, cols]`, `y [rows]`; returns (sum of losses, `dw`, `db`), and
/// writes the rows' logits to `logits [rows]` when given.
struct Task<'a, T> {
    x: &'a [T],
    y: &'a [T],
    w: &'a [T],
    b: T,
    cols: usize,
    grads: bool,
    out: &'a mut (f64, Vec<T>, T),
    logits: Option<&'a mut [T]>,
}

impl<T: LogisticMath> FmaKernel for Task<'_, T> {
    #[inline(always)]
    fn run<const FMA: bool>(self) {
        let Task {
            x,
            y,
            w,
            b,
            cols,
            grads,
            out,
            mut logits,
        } = self;
        let mut z = [T::zero(); BLOCK];
        let (mut loss, mut db) = (0f64, T::zero());
        let mut dw = vec![T::zero(); if grads { cols } else { 0 }];
        for (k, (xb, yb)) in x.chunks(BLOCK * cols).zip(y.chunks(BLOCK)).enumerate() {
            let z = &mut z[..yb.len()];
            dots::<FMA, T>(xb, w, z);
            z.iter_mut().for_each(|z| *z = *z + b);
            if let Some(l) = logits.as_deref_mut() {
                l[k * BLOCK..k * BLOCK + z.len()].copy_from_slice(z);
            }
            if grads {
                // the residuals replace the logits
                loss += T::block_loss::<FMA, true>(z, yb);
                weighted_row_sum::<FMA, T>(&mut dw, z, xb);
                db = db + sum(z);
            } else {
                loss += T::block_loss::<FMA, false>(z, yb);
            }
        }
        *out = (loss, dw, db);
    }
}

/// `z[i] = x_i . w` for the rows `x_i` of `xb` (`z.len()` rows of `w.len()` columns), four
/// rows at a time ([`dot4`]: four independent sums instead of one dependent chain per row),
/// the rows left over one at a time ([`dot`]).
#[inline(always)]
fn dots<const FMA: bool, T: VecMath>(xb: &[T], w: &[T], z: &mut [T]) {
    let cols = w.len();
    let mut quads = z.chunks_exact_mut(4);
    let mut rows = xb.chunks_exact(4 * cols);
    for (zq, xq) in (&mut quads).zip(&mut rows) {
        zq.copy_from_slice(&dot4::<FMA, T>(four_rows(xq, cols), w));
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
/// eight rows per pass over `dw`: two chains of four multiply-adds in registers (fused when
/// `FMA`), `dw += (r_0 x_0 + ... + r_3 x_3) + (r_4 x_4 + ... + r_7 x_7)`, then the remaining
/// rows one at a time. One row per pass made each element of `dw` a chain through memory, a
/// store and a reload per row; one chain of eight, a chain twice as long.
#[inline(always)]
fn weighted_row_sum<const FMA: bool, T: VecMath>(dw: &mut [T], r: &[T], xb: &[T]) {
    let cols = dw.len();
    let mut octets = r.chunks_exact(8);
    let mut rows = xb.chunks_exact(8 * cols);
    let full = cols / 16 * 16;
    for (ro, xo) in (&mut octets).zip(&mut rows) {
        let (lo, hi) = xo.split_at(4 * cols);
        let (x, y) = (four_rows(lo, cols), four_rows(hi, cols));
        let (rx, ry): ([T; 4], [T; 4]) = (ro[..4].try_into().unwrap(), ro[4..].try_into().unwrap());
        let lanes = |s: &[T], c: usize| -> [T; 16] { s[c..c + 16].try_into().unwrap() };
        for c in (0..full).step_by(16) {
            let xs = [
                lanes(x[0], c),
                lanes(x[1], c),
                lanes(x[2], c),
                lanes(x[3], c),
            ];
            let ys = [
                lanes(y[0], c),
                lanes(y[1], c),
                lanes(y[2], c),
                lanes(y[3], c),
            ];
            let d: &mut [T; 16] = (&mut dw[c..c + 16]).try_into().unwrap();
            for l in 0..16 {
                let first = quad::<FMA, T>(&rx, [xs[0][l], xs[1][l], xs[2][l], xs[3][l]], d[l]);
                let second =
                    quad::<FMA, T>(&ry, [ys[0][l], ys[1][l], ys[2][l], ys[3][l]], T::zero());
                d[l] = first + second;
            }
        }
        for l in full..cols {
            let first = quad::<FMA, T>(&rx, [x[0][l], x[1][l], x[2][l], x[3][l]], dw[l]);
            let second = quad::<FMA, T>(&ry, [y[0][l], y[1][l], y[2][l], y[3][l]], T::zero());
            dw[l] = first + second;
        }
    }
    for (&ri, row) in octets
        .remainder()
        .iter()
        .zip(rows.remainder().chunks_exact(cols))
    {
        axpy(dw, ri, row);
    }
}

/// `d + r_0 x_0 + r_1 x_1 + r_2 x_2 + r_3 x_3`, added left to right.
#[inline(always)]
fn quad<const FMA: bool, T: VecMath>(r: &[T; 4], x: [T; 4], d: T) -> T {
    let d = r[0].mad::<FMA>(x[0], d);
    let d = r[1].mad::<FMA>(x[1], d);
    let d = r[2].mad::<FMA>(x[2], d);
    r[3].mad::<FMA>(x[3], d)
}

/// `dw [cols]` and `db [1]`, unscaled sums over the rows.
type Gradients<T> = (Vec<T>, Vec<T>);

/// The fused pass over contiguous `x [rows, cols]`, `w [cols]`, `b [1]`, `y [rows]` of one
/// dtype: the sum of the rows' losses, when `grads` the unscaled sums `dw [cols]`, `db [1]`,
/// and when `logits` the rows' `x_i . w + b` `[rows]`.
fn run<T: LogisticMath>(
    x: &[T],
    (w, b): (&[T], T),
    y: &[T],
    cols: usize,
    (grads, logits): (bool, bool),
) -> (f64, Option<Gradients<T>>, Option<Vec<T>>) {
    let tasks = y.len().div_ceil(TASK);
    let mut parts: Vec<(f64, Vec<T>, T)> = vec![(0.0, Vec::new(), T::zero()); tasks];
    let mut z = vec![T::zero(); if logits { y.len() } else { 0 }];
    let z_parts: Vec<Option<&mut [T]>> = if logits {
        z.chunks_mut(TASK).map(Some).collect()
    } else {
        (0..tasks).map(|_| None).collect()
    };
    crate::threads::warm();
    parts
        .par_iter_mut()
        .zip(z_parts)
        .enumerate()
        .for_each(|(t, (out, logits))| {
            let rows = t * TASK..y.len().min((t + 1) * TASK);
            with_widest_simd_fma(Task {
                x: &x[rows.start * cols..rows.end * cols],
                y: &y[rows],
                w,
                b,
                cols,
                grads,
                out,
                logits,
            });
        });
    let loss = parts.iter().map(|p| p.0).sum();
    let z = logits.then_some(z);
    if !grads {
        return (loss, None, z);
    }
    let mut dw = vec![T::zero(); cols];
    let mut db = T::zero();
    for (_, pw, pb) in &parts {
        axpy(&mut dw, T::one(), pw);
        db = db + *pb;
    }
    (loss, Some((dw, vec![db])), z)
}

/// Results of the fused pass: the unscaled loss sum and, when asked, the unscaled `dw` and `db`
/// and the logits.
pub(crate) type LogisticOut = (f64, Option<(CpuStorage, CpuStorage)>, Option<CpuStorage>);

impl CpuStorage {
    /// See [`run`]; every view must be contiguous, all of one dtype.
    pub(crate) fn linear_bce_with_logits(
        x: (&CpuStorage, &Layout),
        w: (&CpuStorage, &Layout),
        b: (&CpuStorage, &Layout),
        y: (&CpuStorage, &Layout),
        wanted: (bool, bool),
    ) -> Result<LogisticOut> {
        fn view<'a, T: Element>((s, l): (&'a CpuStorage, &Layout)) -> &'a [T] {
            &s.slice::<T>()[l.offset..l.offset + l.numel()]
        }
        fn go<T: LogisticMath>(
            x: (&CpuStorage, &Layout),
            w: (&CpuStorage, &Layout),
            b: (&CpuStorage, &Layout),
            y: (&CpuStorage, &Layout),
            wanted: (bool, bool),
        ) -> LogisticOut {
            let (w, b) = (view::<T>(w), view::<T>(b)[0]);
            let (loss, g, z) = run(view::<T>(x), (w, b), view::<T>(y), w.len(), wanted);
            let wrap = |(dw, db): (Vec<T>, Vec<T>)| (T::into_cpu(dw), T::into_cpu(db));
            (loss, g.map(wrap), z.map(T::into_cpu))
        }
        if let Some(d) = super::half::half_dtype(&[x.0, w.0, b.0, y.0]) {
            // 16 bits: the pass runs on f32 copies; the gradients are rounded to the dtype
            let wide = [x.0, w.0, b.0, y.0].map(|s| s.widened());
            let (loss, g, z) = CpuStorage::linear_bce_with_logits(
                (&wide[0], x.1),
                (&wide[1], w.1),
                (&wide[2], b.1),
                (&wide[3], y.1),
                wanted,
            )?;
            let g = g.map(|(dw, db)| (dw.narrowed(d), db.narrowed(d)));
            return Ok((loss, g, z.map(|z| z.narrowed(d))));
        }
        Ok(match x.0 {
            CpuStorage::F32(_) => go::<f32>(x, w, b, y, wanted),
            CpuStorage::F64(_) => go::<f64>(x, w, b, y, wanted),
            s => super::half::not_widened(s),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::LogisticMath;

    /// `f32::block_loss` with its const parameters picked at run time.
    fn f32_block_loss(fma: bool, residuals: bool, z: &mut [f32], y: &[f32]) -> f64 {
        match (fma, residuals) {
            (false, false) => f32::block_loss::<false, false>(z, y),
            (false, true) => f32::block_loss::<false, true>(z, y),
            (true, false) => f32::block_loss::<true, false>(z, y),
            (true, true) => f32::block_loss::<true, true>(z, y),
        }
    }

    #[test]
    fn f32_block_loss_and_residuals_match_f64_row_by_row() {
        // 250 rows (15 full lanes and a remainder), logits from -92 to 92 (past the f32 exp's
        // clamp) and labels 0, 1 and fractional
        let z: Vec<f32> = (0..250).map(|i| (i as f32 - 125.0) * 0.737).collect();
        let y: Vec<f32> = (0..250).map(|i| [0.0, 1.0, 0.25][i % 3]).collect();
        let wide = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<_>>();
        let mut r64 = wide(&z);
        let exact = f64::block_loss::<false, true>(&mut r64, &wide(&y));
        for fma in [false, true] {
            let mut r = z.clone();
            let loss = f32_block_loss(fma, true, &mut r, &y);
            assert!(
                (loss - exact).abs() < 1e-9 * exact,
                "{loss} vs {exact} (fused: {fma})"
            );
            let alone = f32_block_loss(fma, false, &mut z.clone(), &y);
            assert_eq!(
                alone, loss,
                "the loss does not depend on computing residuals"
            );
            for (i, (&r, &e)) in r.iter().zip(&r64).enumerate() {
                // sigmoid within 3 ulp (and 0 where it is below f32's normal range, past
                // the exp's clamp), minus y rounded once
                let (sigmoid, eps) = (e + f64::from(y[i]), f64::from(f32::EPSILON));
                let tol = 3.0 * eps * sigmoid + eps * f64::from(y[i]) + 1e-37;
                let err = (f64::from(r) - e).abs();
                assert!(err <= tol, "row {i}: {r} vs {e} (fused: {fma})");
            }
        }
    }
}
