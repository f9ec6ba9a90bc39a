//! Whole recurrent layers over a sequence as single ops, with PyTorch's equations and gate
//! orders: [`Tensor::lstm_sequence`](crate::Tensor::lstm_sequence) and
//! [`Tensor::gru_sequence`](crate::Tensor::gru_sequence).
//!
//! Batch rows are independent through the recurrence, so the batch is split into blocks of a
//! fixed number of rows, run in parallel, each over every step with no synchronization between
//! steps. Forward: per step one matrix
//! product `h W_hh^T` and one fused kernel for the gates. Backward: backpropagation through time
//! by hand, one fused kernel and one product per step; then, once all blocks are done, one
//! product over the whole batch for `dW_hh`, so that its sums do not depend on how the batch was
//! split (results are the same bits whatever the number of threads). With `create_graph` the backward differentiates a recomputation made of primitive ops
//! instead, so the ops are twice differentiable like every other.
//!
//! This file holds what both share: the sizes of a call, how the batch splits into blocks, and
//! the matrix views of a step.

mod gru;
mod lstm;

use crate::kernels::gemm::{gemm_into, MatView};
use crate::Element;

/// Batch rows per block: fixed, so that results do not depend on the number of threads. 32 keeps
/// the per-step products efficient and is the split a 64-row batch had on two threads.
const BLOCK_ROWS: usize = 32;

/// Sizes of one call: batch, steps, hidden.
#[derive(Clone, Copy)]
struct Dims {
    batch: usize,
    steps: usize,
    hidden: usize,
}

impl Dims {
    /// How to use `threads`: `(rows per block, threads per product)`. Batch rows are independent
    /// through the whole recurrence, so each block of rows runs over every step with no
    /// synchronization between steps, blocks in parallel. The blocks are [`BLOCK_ROWS`] rows
    /// whatever the thread count (a product's rows can round differently with another row
    /// count); when there are fewer blocks than threads, the products of each block use the rest.
    fn blocks(self, threads: usize) -> (usize, usize) {
        let rows = self.batch.clamp(1, BLOCK_ROWS);
        let count = self.batch.div_ceil(rows).max(1);
        (rows, (threads / count).max(1))
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

/// `dW_hh = sum over rows and steps of dz^T h_{t-1}`: one product over the whole batch (rows and
/// steps on its inner axis), split by the product into parts of the output, never of the sum, so
/// the result does not depend on the thread count. `dz` is `[batch, steps, width]`, `h_all` the
/// hidden state of every step `[batch, steps, hidden]`, `h0` the initial one `[batch, hidden]`.
fn weight_grad<T: Element>(d: Dims, width: usize, dz: &[T], h_all: &[T], h0: &[T]) -> Vec<T> {
    let (h, seq_h) = (d.hidden, d.steps * d.hidden);
    let mut h_prev = vec![T::zero(); d.batch * seq_h];
    for (r, hp) in h_prev.chunks_mut(seq_h).enumerate() {
        hp[..h].copy_from_slice(&h0[r * h..][..h]);
        hp[h..].copy_from_slice(&h_all[r * seq_h..][..seq_h - h]);
    }
    let mut dw = vec![T::zero(); width * h];
    let dz_t = MatView {
        offset: 0,
        rs: 1,
        cs: width,
    };
    gemm_into(
        (width, h, d.batch * d.steps),
        (dz, dz_t),
        (&h_prev[..], row_major(h)),
        (&mut dw, row_major(h)),
        false,
        rayon::current_num_threads(),
    );
    dw
}
