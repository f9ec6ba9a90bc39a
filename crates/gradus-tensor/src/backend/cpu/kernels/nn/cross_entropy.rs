//! Cross-entropy of logits `[rows, n]` against class indices `[rows]`, fused: log-softmax and the
//! negative log-likelihood in one pass, forward and backward.

use super::{for_row_blocks, FmaKernel, Level, VecMath};
use crate::backend::cpu::kernels::fast_math::{exp_shifted_rows, max, sum};
use crate::{Result, TensorError};

/// The class index of row `i`, checked to be an integer in `[0, n)`.
fn class<T: VecMath>(targets: &[T], i: usize, n: usize) -> Result<usize> {
    let v = targets[i].to_f64();
    if (0.0..n as f64).contains(&v) && v.fract() == 0.0 {
        Ok(v as usize)
    } else {
        Err(TensorError::InvalidIndex {
            op: "cross_entropy",
            position: vec![i],
            value: v,
            size: n,
        })
    }
}

/// Inputs `logits`, `targets`; outputs `[scale * sum_i (lse_i - x_i[t_i])]` and `lse [rows]`, the
/// log-sum-exp of each row that the backward reads.
pub(super) fn forward<T: VecMath>(
    x: &[&[T]],
    n: usize,
    scale: f64,
    level: Level,
) -> Result<Vec<Vec<T>>> {
    let (logits, targets) = (x[0], x[1]);
    let t = (0..targets.len())
        .map(|i| class(targets, i, n))
        .collect::<Result<Vec<_>>>()?;
    let mut lse = vec![T::zero(); targets.len()];
    // one value per row of `n` logits: the blocks of rows the backward's blocks hold
    for_row_blocks(&mut lse, (1, n), |row, lse| {
        let logits = &logits[row * n..(row + lse.len()) * n];
        level.run_fma(LogSumExp { logits, lse, n });
    });
    let mut total = T::zero();
    for (i, (&l, &t)) in lse.iter().zip(&t).enumerate() {
        total = total + (l - logits[i * n + t]);
    }
    Ok(vec![vec![total * T::from_f64(scale)], lse])
}

/// Inputs `logits`, `targets`, `lse`, `g [1]`; output
/// `dlogits = g scale (softmax(logits) - one_hot(targets))`.
pub(super) fn backward<T: VecMath>(x: &[&[T]], n: usize, scale: f64, level: Level) -> Vec<T> {
    let (logits, targets, lse) = (x[0], x[1], x[2]);
    let g = x[3][0] * T::from_f64(scale);
    let mut dx = vec![T::zero(); logits.len()];
    for_row_blocks(&mut dx, (n, n), |row, dx| {
        let rows = dx.len() / n;
        let logits = &logits[row * n..row * n + dx.len()];
        let lse = &lse[row..row + rows];
        level.run_fma(SoftmaxScaled {
            logits,
            lse,
            dx,
            n,
            g,
        });
        for (r, dx) in dx.chunks_exact_mut(n).enumerate() {
            // valid: the forward checked every target
            let t = targets[row + r].to_f64() as usize;
            dx[t] = dx[t] - g;
        }
    });
    dx
}

struct LogSumExp<'a, T> {
    logits: &'a [T],
    lse: &'a mut [T],
    n: usize,
}

impl<T: VecMath> FmaKernel for LogSumExp<'_, T> {
    #[inline(always)]
    fn run<const FMA: bool>(self) {
        let n = self.n;
        // the row maxima first (kept in `lse`), then e^(x - max) over the block at full width
        for (x, lse) in self.logits.chunks_exact(n).zip(self.lse.iter_mut()) {
            *lse = max(x);
        }
        let mut e = vec![T::zero(); self.logits.len()];
        exp_shifted_rows::<T, FMA>(self.logits, self.lse, n, &mut e);
        for (e, lse) in e.chunks_exact(n).zip(self.lse.iter_mut()) {
            *lse = *lse + sum(e).ln();
        }
    }
}

struct SoftmaxScaled<'a, T> {
    logits: &'a [T],
    lse: &'a [T],
    dx: &'a mut [T],
    n: usize,
    g: T,
}

impl<T: VecMath> FmaKernel for SoftmaxScaled<'_, T> {
    #[inline(always)]
    fn run<const FMA: bool>(self) {
        exp_shifted_rows::<T, FMA>(self.logits, self.lse, self.n, self.dx);
        self.dx.iter_mut().for_each(|dx| *dx = *dx * self.g);
    }
}
