//! The backend seam: where tensor elements live and what runs the kernels.
//!
//! An op file (in `ops/`) keeps its shape logic and its backward rule, and makes one call on the
//! input's [`Storage`]; the storage dispatches it to the backend that holds the elements, through
//! the [`BackendStorage`] trait. The CPU backend (`cpu/`: faer GEMM, rayon, runtime-dispatched SIMD)
//! is the first implementation; a CUDA backend adds a `Storage` variant and implements the same
//! trait, so layers and optimizers never see where a tensor lives.
//!
//! The cut follows candle's `BackendStorage`: kernels are named by a type (`K: UnaryKernel` has a
//! `NAME` and a generic scalar function), so the CPU backend monomorphizes the scalar function
//! while a GPU backend can pick a compiled kernel by name.

pub(crate) mod cpu;
mod storage;

pub use storage::Storage;

use crate::fused::{ElementRule, FusedTarget};
use crate::layout::Layout;
use crate::ops::unary::UnaryKernel;
use crate::{DType, Device, Result};

/// What every backend's buffer implements: one method per op family. Each takes the input views'
/// layouts (shape, strides, offset) and returns a new contiguous buffer, unless it says otherwise.
pub(crate) trait BackendStorage: Sized + Clone + std::fmt::Debug {
    /// The element type.
    fn dtype(&self) -> DType;
    /// The device holding the elements.
    fn device(&self) -> Device;
    /// Number of elements.
    fn len(&self) -> usize;

    // ---- elementwise ---------------------------------------------------------------------------

    /// `k.f(x)` for every element of the view `layout`, in row-major order.
    fn unary<K: UnaryKernel>(&self, layout: &Layout, k: K) -> Result<Self>;

    // ---- elementwise: binary, ternary, comparisons, casts (ops/binary.rs, activation, ...) -------

    // ---- reductions (ops/reduce.rs, softmax, norm) -----------------------------------------------

    // ---- random (random.rs, ops/dropout.rs) ------------------------------------------------------

    // ---- copies, shape and index ops (ops/shape.rs, ops/index.rs) --------------------------------

    // ---- matmul, convolution, pooling, recurrent cells (ops/matmul.rs, conv, pool, recurrent) ----

    // ---- optimizer rules: the fused per-element update (gradus-optim) ----------------------------

    /// `rule` over every element, in place: `self` (elements `dst.0 .. dst.0 + dst.1`) is the
    /// written operand (the parameter, or the update buffer), `src` the read one (absent: read as
    /// zeros), `state` the rule's state buffers with their offsets. See
    /// [`crate::fused::fused_update`].
    fn fused_update<R: ElementRule<K>, const K: usize>(
        &mut self,
        target: FusedTarget,
        dst: (usize, usize),
        src: Option<(&Self, usize)>,
        state: ([&mut Self; K], [usize; K]),
        rule: &R,
    ) -> Result<()>;

    /// The sum of the squares of the view's elements, accumulated in f64 in row-major order (the
    /// norms of gradient clipping and trust ratios). See [`crate::fused::squared_l2_norm`].
    fn sum_squares(&self, layout: &Layout) -> Result<f64>;

    // ---- host transfers (Tensor::to_vec, with_data, update_data, from_vec) -----------------------
}
