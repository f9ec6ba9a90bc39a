//! The fused recurrent layers on the CPU: the implementation of the backend's `lstm_sequence` and
//! `gru_sequence` calls (shapes and the backward rules stay in `ops/recurrent/`).
//!
//! Batch rows are independent through the recurrence, so the batch is split into blocks of a
//! fixed number of rows, run in parallel, each over every step with no synchronization between
//! steps. Forward: per step one matrix product `h W_hh^T` and one fused kernel for the gates.
//! Backward: backpropagation through time by hand, one fused kernel and one product per step,
//! then one product for the block's share of `dW_hh`; the shares are added in block order. The
//! blocks do not depend on the thread count, so neither do the results, to the bit.
//!
//! This file holds what both share: how the batch splits into blocks, and the matrix views of a
//! step.

pub(crate) mod gru;
pub(crate) mod lstm;

use crate::backend::cpu::kernels::gemm::MatView;
use crate::ops::recurrent::RnnDims as Dims;

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

/// A row-major `[rows, cols]` matrix view.
fn row_major(cols: usize) -> MatView {
    MatView {
        offset: 0,
        rs: cols,
        cs: 1,
    }
}
