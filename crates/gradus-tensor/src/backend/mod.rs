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

    /// `k.f(a, b)` for every element of the two views `layout` (of `self`) and `rhs_layout` (of
    /// `rhs`), both already broadcast to the output shape (stride 0 on broadcast axes), in
    /// row-major order. Comparisons and masks are binary kernels too.
    ///
    /// # Errors
    /// When the two buffers hold different dtypes or live on different devices.
    fn binary<K: crate::ops::binary::BinaryKernel>(
        &self,
        layout: &Layout,
        rhs: &Self,
        rhs_layout: &Layout,
        k: K,
    ) -> Result<Self>;

    /// `k.f(a, b, c)` for every element of three views already broadcast to the output shape
    /// (`mul_add`, `where`).
    ///
    /// # Errors
    /// When the buffers hold different dtypes or live on different devices.
    fn ternary<K: crate::ops::binary::TernaryKernel>(
        &self,
        layout: &Layout,
        b: (&Self, &Layout),
        c: (&Self, &Layout),
        k: K,
    ) -> Result<Self>;

    // ---- reductions (ops/reduce.rs, softmax, norm) -----------------------------------------------

    /// The sum of the view over `axes` (sorted, distinct, in range), in row-major order of the
    /// kept axes. Each output element is summed in a fixed order, whatever the thread count; an
    /// empty reduced axis sums to 0.
    fn reduce_sum(&self, layout: &Layout, axes: &[usize]) -> Result<Self>;

    /// The maximum of the view along `axis` (in range, non-empty) and the index of its first
    /// occurrence (a NaN counts as the maximum), in row-major order of the other axes. The
    /// indices come back to the host: backward rules and `argmax` use them as plain indices.
    fn reduce_max(&self, layout: &Layout, axis: usize) -> Result<(Self, Vec<usize>)>;

    // ---- random (random.rs, ops/dropout.rs) ------------------------------------------------------

    /// A new buffer of `dtype` holding `samples` (drawn on the host) rounded to `dtype`.
    ///
    /// The random generator stays on the host and draws serially in row-major order, so a seed
    /// gives the same tensor on every backend and thread count; the backend only receives the
    /// drawn values and writes them into its memory.
    fn from_samples(samples: Vec<f64>, dtype: DType) -> Result<Self>;

    // ---- copies, shape and index ops (ops/shape.rs, ops/index.rs) --------------------------------

    // ---- matmul, convolution, pooling, recurrent cells (ops/matmul.rs, conv, pool, recurrent) ----

    // ---- optimizer rules: the fused per-element update (gradus-optim) ----------------------------

    // ---- host transfers (Tensor::to_vec, with_data, update_data, from_vec) -----------------------
}
