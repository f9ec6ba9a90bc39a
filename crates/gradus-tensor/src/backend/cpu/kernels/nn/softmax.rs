//! Softmax and log-softmax over the last axis (rows of `n`), forward and backward.

use super::{for_row_blocks, FmaKernel, Level, VecMath};
use crate::backend::cpu::kernels::fast_math::{dot, exp_shifted_rows, max, sum};

/// `y = softmax(x)` (or `log_softmax`) per row: `e^(x - max) / sum`, `(x - max) - ln sum`.
pub(super) fn forward<T: VecMath>(x: &[T], n: usize, log: bool, level: Level) -> Vec<T> {
    let mut y = vec![T::zero(); x.len()];
    for_row_blocks(&mut y, (n, n), |row, y| {
        let x = &x[row * n..row * n + y.len()];
        level.run_fma(Forward { x, y, n, log });
    });
    y
}

/// The gradient of the input from the output `y` and its gradient `g`: softmax
/// `y (g - sum(g y))`, log-softmax `g - e^y sum(g)` (PyTorch's `_softmax_backward_data`).
pub(super) fn backward<T: VecMath>(y: &[T], g: &[T], n: usize, log: bool, level: Level) -> Vec<T> {
    let mut dx = vec![T::zero(); y.len()];
    for_row_blocks(&mut dx, (n, n), |row, dx| {
        let range = row * n..row * n + dx.len();
        let (y, g) = (&y[range.clone()], &g[range]);
        level.run_fma(Backward { y, g, dx, n, log });
    });
    dx
}

struct Forward<'a, T> {
    x: &'a [T],
    y: &'a mut [T],
    n: usize,
    log: bool,
}

impl<T: VecMath> FmaKernel for Forward<'_, T> {
    #[inline(always)]
    fn run<const FMA: bool>(self) {
        let n = self.n;
        let m: Vec<T> = self.x.chunks_exact(n).map(max).collect();
        // e^(x - max) over the whole block at full vector width, whatever the row length
        exp_shifted_rows::<T, FMA>(self.x, &m, n, self.y);
        let rows = self.x.chunks_exact(n).zip(self.y.chunks_exact_mut(n));
        for ((x, y), &m) in rows.zip(&m) {
            let s = sum(y);
            if self.log {
                let ln_s = s.ln();
                for (y, &x) in y.iter_mut().zip(x) {
                    *y = (x - m) - ln_s;
                }
            } else {
                let inv = T::one() / s;
                y.iter_mut().for_each(|y| *y = *y * inv);
            }
        }
    }
}

struct Backward<'a, T> {
    y: &'a [T],
    g: &'a [T],
    dx: &'a mut [T],
    n: usize,
    log: bool,
}

impl<T: VecMath> FmaKernel for Backward<'_, T> {
    #[inline(always)]
    fn run<const FMA: bool>(self) {
        if self.log {
            // e^y over the whole block at full vector width, then `g - e^y sum(g)` per row
            self.dx
                .iter_mut()
                .zip(self.y)
                .for_each(|(dx, &y)| *dx = y.exp_with::<FMA>());
            let rows = self
                .g
                .chunks_exact(self.n)
                .zip(self.dx.chunks_exact_mut(self.n));
            for (g, dx) in rows {
                let s = sum(g);
                for (dx, &g) in dx.iter_mut().zip(g) {
                    *dx = g - *dx * s;
                }
            }
            return;
        }
        let rows = self.y.chunks_exact(self.n).zip(self.g.chunks_exact(self.n));
        for ((y, g), dx) in rows.zip(self.dx.chunks_exact_mut(self.n)) {
            let s = dot(g, y);
            for ((dx, &y), &g) in dx.iter_mut().zip(y).zip(g) {
                *dx = y * (g - s);
            }
        }
    }
}
