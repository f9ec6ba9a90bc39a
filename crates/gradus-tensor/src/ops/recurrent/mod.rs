//! Whole recurrent layers over a sequence as single ops, with PyTorch's equations and gate
//! orders: [`Tensor::lstm_sequence`](crate::Tensor::lstm_sequence) and
//! [`Tensor::gru_sequence`](crate::Tensor::gru_sequence).
//!
//! Each op checks its shapes, makes one backend call for the forward (the CPU backend's fused
//! loops are in `backend/cpu/recurrent/`: batch blocks of a fixed size in parallel, so results
//! do not depend on the thread count) and keeps what it returns for its backward rule, another
//! backend call: backpropagation through time. With `create_graph` the backward differentiates
//! a recomputation made of primitive ops instead, so the ops are twice differentiable like every
//! other.

mod gru;
mod lstm;

/// Sizes of one recurrent call: batch, steps, hidden.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RnnDims {
    pub(crate) batch: usize,
    pub(crate) steps: usize,
    pub(crate) hidden: usize,
}
