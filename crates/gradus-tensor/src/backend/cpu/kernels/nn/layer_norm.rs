//! Layer norm over the last `n` elements of each row with an elementwise affine, forward and
//! backward (the statistics of PyTorch's `native_layer_norm`: mean and `1 / sqrt(var + eps)`,
//! biased variance).

use super::{rows_per_block, Level, SimdKernel, VecMath, PARALLEL_THRESHOLD};
use crate::backend::cpu::kernels::fast_math::{axpy, dot, sum};
use crate::backend::cpu::kernels::filled;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// A numbered block of rows: its `y` (uninitialized), `mean` and `rstd`.
type RowBlock<'a, T> = (
    usize,
    ((&'a mut [MaybeUninit<T>], &'a mut [T]), &'a mut [T]),
);

/// Inputs `x [rows, n]`, `weight [n]`, `bias [n]`; outputs `y`, `mean [rows]`, `rstd [rows]`.
pub(super) fn forward<T: VecMath>(x: &[&[T]], n: usize, eps: f64, level: Level) -> Vec<Vec<T>> {
    let (w, b) = (x[1], x[2]);
    let x = x[0];
    let rows = x.len() / n.max(1);
    let (mut mean, mut rstd) = (vec![T::zero(); rows], vec![T::zero(); rows]);
    let rb = rows_per_block(n);
    let work = |(i, ((y, mean), rstd)): RowBlock<'_, T>| {
        let x = &x[i * rb * n..i * rb * n + y.len()];
        let eps = T::from_f64(eps);
        level.run(Forward {
            x,
            w,
            b,
            y,
            mean,
            rstd,
            n,
            eps,
        });
    };
    // SAFETY: the row blocks cover `y`, and the kernel writes every row of its block.
    let y = unsafe {
        filled(x.len(), |y| {
            if x.len() >= PARALLEL_THRESHOLD {
                crate::threads::warm();
                let blocks = y
                    .par_chunks_mut(rb * n)
                    .zip(mean.par_chunks_mut(rb))
                    .zip(rstd.par_chunks_mut(rb));
                blocks.enumerate().for_each(work);
            } else {
                let blocks = y
                    .chunks_mut(rb * n)
                    .zip(mean.chunks_mut(rb))
                    .zip(rstd.chunks_mut(rb));
                blocks.enumerate().for_each(work);
            }
        })
    };
    vec![y, mean, rstd]
}

/// Inputs `g`, `x`, `weight`, `mean`, `rstd`; outputs `dx`, `dweight`, `dbias`:
/// `dx = rstd (g w - mean(g w) - x̂ mean(g w x̂))`, `dweight = sum_rows g x̂`, `dbias = sum_rows g`.
pub(super) fn backward<T: VecMath>(x: &[&[T]], n: usize, level: Level) -> Vec<Vec<T>> {
    let [g, xs, w, mean, rstd] = [x[0], x[1], x[2], x[3], x[4]];
    let rb = rows_per_block(n);
    let work = |(i, dx): (usize, &mut [MaybeUninit<T>])| {
        let (r0, r1) = (i * rb, i * rb + dx.len() / n);
        let (mut dw, mut db) = (vec![T::zero(); n], vec![T::zero(); n]);
        let span = r0 * n..r1 * n;
        level.run(Backward {
            g: &g[span.clone()],
            x: &xs[span],
            w,
            mean: &mean[r0..r1],
            rstd: &rstd[r0..r1],
            dx,
            dw: &mut dw,
            db: &mut db,
            n,
        });
        (dw, db)
    };
    let mut partial: Vec<(Vec<T>, Vec<T>)> = Vec::new();
    // SAFETY: the row blocks cover `dx`, and the kernel writes every row of its block.
    let dx = unsafe {
        filled(xs.len(), |dx| {
            partial = if xs.len() >= PARALLEL_THRESHOLD {
                crate::threads::warm();
                dx.par_chunks_mut(rb * n).enumerate().map(work).collect()
            } else {
                dx.chunks_mut(rb * n).enumerate().map(work).collect()
            };
        })
    };
    // block partials added in block order: the same bits for any thread count
    let (mut dw, mut db) = (vec![T::zero(); n], vec![T::zero(); n]);
    for (pw, pb) in &partial {
        axpy(&mut dw, T::one(), pw);
        axpy(&mut db, T::one(), pb);
    }
    vec![dx, dw, db]
}

struct Forward<'a, T> {
    x: &'a [T],
    w: &'a [T],
    b: &'a [T],
    y: &'a mut [MaybeUninit<T>],
    mean: &'a mut [T],
    rstd: &'a mut [T],
    n: usize,
    eps: T,
}

/// `row` with `values` written into it, as initialized values.
///
/// # Panics
/// When `values` does not hold one value per element.
#[inline(always)]
fn init<T: Copy>(row: &mut [MaybeUninit<T>], values: impl ExactSizeIterator<Item = T>) -> &mut [T] {
    assert_eq!(values.len(), row.len());
    for (e, v) in row.iter_mut().zip(values) {
        e.write(v);
    }
    // SAFETY: every element was written just above; `MaybeUninit<T>` has `T`'s layout.
    unsafe { &mut *(row as *mut [MaybeUninit<T>] as *mut [T]) }
}

impl<T: VecMath> SimdKernel for Forward<'_, T> {
    #[inline(always)]
    fn run(self) {
        let inv_n = T::one() / T::from_f64(self.n as f64);
        let rows = self
            .x
            .chunks_exact(self.n)
            .zip(self.y.chunks_exact_mut(self.n));
        for (((x, y), mean), rstd) in rows.zip(self.mean.iter_mut()).zip(self.rstd.iter_mut()) {
            let m = sum(x) * inv_n;
            let y = init(y, x.iter().map(|&x| x - m));
            let r = T::one() / (dot(y, y) * inv_n + self.eps).sqrt();
            for ((y, &w), &b) in y.iter_mut().zip(self.w).zip(self.b) {
                *y = *y * r * w + b;
            }
            (*mean, *rstd) = (m, r);
        }
    }
}

struct Backward<'a, T> {
    g: &'a [T],
    x: &'a [T],
    w: &'a [T],
    mean: &'a [T],
    rstd: &'a [T],
    dx: &'a mut [MaybeUninit<T>],
    dw: &'a mut [T],
    db: &'a mut [T],
    n: usize,
}

impl<T: VecMath> SimdKernel for Backward<'_, T> {
    #[inline(always)]
    fn run(self) {
        let n = self.n;
        let inv_n = T::one() / T::from_f64(n as f64);
        let mut gw = vec![T::zero(); n];
        let rows = self.g.chunks_exact(n).zip(self.x.chunks_exact(n));
        let rows = rows
            .zip(self.dx.chunks_exact_mut(n))
            .zip(self.mean.iter().zip(self.rstd));
        for (((g, x), dx), (&m, &r)) in rows {
            // dx holds x̂ until the last loop
            let dx = init(dx, x.iter().map(|&x| (x - m) * r));
            for ((gw, &g), &w) in gw.iter_mut().zip(g).zip(self.w) {
                *gw = g * w;
            }
            let a = sum(&gw) * inv_n;
            let c = dot(&gw, dx) * inv_n;
            for (((dw, db), &g), &xh) in self
                .dw
                .iter_mut()
                .zip(self.db.iter_mut())
                .zip(g)
                .zip(dx.iter())
            {
                *dw = *dw + g * xh;
                *db = *db + g;
            }
            for (dx, &gw) in dx.iter_mut().zip(&gw) {
                *dx = r * (gw - a - *dx * c);
            }
        }
    }
}
