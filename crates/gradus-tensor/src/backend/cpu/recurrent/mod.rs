//! The fused recurrent layers on the CPU: the implementation of the backend's `lstm_sequence` and
//! `gru_sequence` calls (shapes and the backward rules stay in `ops/recurrent/`).
//!
//! Batch rows are independent through the recurrence, so the batch is split into blocks of a
//! fixed number of rows, run in parallel, each over every step with no synchronization between
//! steps. Forward: per step one matrix product `h W_hh^T` and one fused kernel for the gates.
//! Backward: backpropagation through time by hand, one fused kernel and one product per step,
//! then one product for the block's share of `dW_hh` (transposed); the shares are added in block
//! order and the sum transposed. The blocks do not depend on the thread count, so neither do
//! the results, to the bit.
//!
//! This file holds what both share: how the batch splits into blocks, and the matrix views of a
//! step.

pub(crate) mod gru;
pub(crate) mod lstm;

use crate::backend::cpu::kernels::filled;
use crate::backend::cpu::kernels::gemm::{gemm_new, MatView};
use crate::backend::cpu::kernels::transpose::transpose_into;
use crate::ops::recurrent::RnnDims as Dims;
use crate::Element;

/// Batch rows per block: fixed, so that results do not depend on the number of threads. 32 keeps
/// the per-step products efficient and is the split a 64-row batch had on two threads.
const BLOCK_ROWS: usize = 32;

impl Dims {
    /// Batch rows per block. Batch rows are independent through the whole recurrence, so each
    /// block of rows runs over every step with no synchronization between steps, blocks in
    /// parallel. The blocks are [`BLOCK_ROWS`] rows whatever the thread count (a product's rows
    /// can round differently with another row count); the products of a block split their own
    /// work on the same pool, also independently of the thread count (see `kernels::gemm`).
    fn block_rows(self) -> usize {
        self.batch.clamp(1, BLOCK_ROWS)
    }

    /// The same sizes for a block of `rows` batch rows.
    fn with_batch(self, rows: usize) -> Dims {
        Dims {
            batch: rows,
            ..self
        }
    }

    /// Row view of step `t` in a batch-first `[batch, steps, width]` buffer.
    fn step_view(self, t: usize, width: usize) -> MatView {
        MatView {
            offset: t * width,
            rs: self.steps * width,
            cs: 1,
        }
    }
}

/// A block's share of the recurrent weight's gradient, transposed: `Σ_t h_{t-1}ᵀ dz_t`
/// (`[hidden, gates]`), for `dz` the block's `[rows, steps, gates]` gradients of `h_{t-1}
/// W_hhᵀ` and `h_{t-1}` its hidden states (`h0`, then the output of every step but the last).
/// As `hᵀ @ dz` over all steps at once, with `hᵀ` copied row-major, both operands lie row-major:
/// `dzᵀ @ h` had the gradients (4x the states in an LSTM) copied instead (see `kernels::gemm`).
/// [`weight_grad`] adds the shares and transposes the sum.
fn weight_grad_share<T: Element>(
    d: Dims,
    gates: usize,
    dz: &[T],
    (h0, h_all): (&[T], &[T]),
) -> Vec<T> {
    let (h, seq_h, n) = (d.hidden, d.steps * d.hidden, d.batch * d.steps);
    let mut h_prev = vec![T::zero(); n * h];
    for (r, hp) in h_prev.chunks_mut(seq_h).enumerate() {
        hp[..h].copy_from_slice(&h0[r * h..][..h]);
        hp[h..].copy_from_slice(&h_all[r * seq_h..][..seq_h - h]);
    }
    // SAFETY: `transpose_into` and `gemm_new` write every element.
    let h_prev_t = unsafe { filled(h * n, |out| transpose_into(&h_prev, (h, n), h, out)) };
    gemm_new(
        (h, gates, n),
        (&h_prev_t, row_major(n)),
        (dz, row_major(gates)),
    )
}

/// `dW_hh` (`[gates, hidden]`) from the blocks' [`weight_grad_share`]s, added in block order.
fn weight_grad<T: Element>(
    shares: impl IntoIterator<Item = Vec<T>>,
    (gates, hidden): (usize, usize),
) -> Vec<T> {
    let sum = sum_in_block_order(shares, hidden * gates);
    // SAFETY: `transpose_into` writes every element.
    unsafe {
        filled(gates * hidden, |out| {
            transpose_into(&sum, (gates, hidden), gates, out)
        })
    }
}

/// The element-wise sum of the blocks' `len`-long shares, added in block order (zeros for none).
fn sum_in_block_order<T: Element>(shares: impl IntoIterator<Item = Vec<T>>, len: usize) -> Vec<T> {
    let mut shares = shares.into_iter();
    let mut sum = shares.next().unwrap_or_else(|| vec![T::zero(); len]);
    for share in shares {
        sum.iter_mut().zip(&share).for_each(|(a, &b)| *a = *a + b);
    }
    sum
}

/// A row-major `[rows, cols]` matrix view.
fn row_major(cols: usize) -> MatView {
    MatView {
        offset: 0,
        rs: cols,
        cs: 1,
    }
}
