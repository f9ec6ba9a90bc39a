//! Whole recurrent layers over a sequence as single ops, with PyTorch's equations and gate
//! orders: [`Tensor::lstm_sequence`](crate::Tensor::lstm_sequence) and
//! [`Tensor::gru_sequence`](crate::Tensor::gru_sequence).
//!
//! Batch rows are independent through the recurrence, so each thread takes a block of rows and
//! runs it over every step with no synchronization between steps. Forward: per step one matrix
//! product `h W_hh^T` and one fused kernel for the gates. Backward: backpropagation through time
//! by hand, one fused kernel and one product per step, then one product for the block's share of
//! `dW_hh`. With `create_graph` the backward differentiates a recomputation made of primitive ops
//! instead, so the ops are twice differentiable like every other.
//!
//! This file holds what both share: the sizes of a call, how the batch splits into blocks, and
//! the matrix views of a step.

mod gru;
mod lstm;

use crate::kernels::gemm::MatView;

/// Sizes of one call: batch, steps, hidden.
#[derive(Clone, Copy)]
struct Dims {
    batch: usize,
    steps: usize,
    hidden: usize,
}

impl Dims {
    /// How to use `threads`: `(rows per block, threads per product)`. Batch rows are independent
    /// through the whole recurrence, so each thread runs a block of rows over every step with
    /// single-threaded products and no synchronization between steps; a batch smaller than the
    /// thread count runs as one block with parallel products instead.
    fn blocks(self, threads: usize) -> (usize, usize) {
        if self.batch >= threads {
            (self.batch.div_ceil(threads).max(1), 1)
        } else {
            (self.batch.max(1), threads)
        }
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
