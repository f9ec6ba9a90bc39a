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
    /// indices stay on the backend, as an f64 buffer of whole numbers (exact to 2^53): `max`'s
    /// backward scatters with them, `argmax` reads them on the host.
    fn reduce_max(&self, layout: &Layout, axis: usize) -> Result<(Self, Self)>;

    /// `sum(x^2)` over the whole view as one f64 value (a one-element f64 buffer), squares taken
    /// and added in f64 in a fixed order (row-major elements in fixed blocks, each into 32
    /// interleaved partial sums: the CPU kernels' `squares` order): one pass, no copy (gradient
    /// norms of big models).
    fn sum_squares_f64(&self, layout: &Layout) -> Result<Self>;

    /// `sum((a - b)^2)` of this view and `other` (one shape and dtype) as one f64 value, each
    /// difference taken in f64: one pass over both, no copy (update-to-parameter ratios).
    fn squared_distance_f64(&self, layout: &Layout, other: (&Self, &Layout)) -> Result<Self>;

    // ---- random (random.rs, ops/dropout.rs) ------------------------------------------------------

    /// A new buffer of `dtype` holding `samples` (drawn on the host) rounded to `dtype`.
    ///
    /// The random generator stays on the host and draws serially in row-major order, so a seed
    /// gives the same tensor on every backend and thread count; the backend only receives the
    /// drawn values and writes them into its memory.
    fn from_samples(samples: Vec<f64>, dtype: DType) -> Result<Self>;

    // ---- copies, shape and index ops (ops/shape.rs, ops/index.rs) --------------------------------

    /// A buffer of `n` elements equal to `value` (rounded to `dtype`).
    fn full(n: usize, value: f64, dtype: DType) -> Result<Self>;

    /// A contiguous copy of the view `layout` (`Tensor::contiguous`, and a fresh buffer to
    /// accumulate into).
    fn copy(&self, layout: &Layout) -> Result<Self>;

    /// The view converted to `dtype` element by element (through f64, which is exact for f32).
    fn cast(&self, layout: &Layout, dtype: DType) -> Result<Self>;

    /// The view padded on `axis` with `before` zeros in front and `after` behind.
    fn pad_axis(&self, layout: &Layout, axis: usize, before: usize, after: usize) -> Result<Self>;

    /// The views joined along `axis`; they agree on every other axis and on the dtype.
    fn concat(parts: &[(&Self, &Layout)], axis: usize) -> Result<Self>;

    /// `dst.narrow(axis, start, len) += src` in place, `dst` being all of `self` (contiguous,
    /// shape `dst_shape`) and `src` a view with `dst_shape` except `len` on `axis`.
    fn narrow_add_assign(
        &mut self,
        dst_shape: &[usize],
        src: (&Self, &Layout),
        axis: usize,
        start: usize,
    ) -> Result<()>;

    /// Overwrites the contiguous view `layout` of `self` with the view `src` (same shape).
    fn copy_into(&mut self, layout: &Layout, src: (&Self, &Layout)) -> Result<()>;

    /// The slices at `indices` along `axis` of the view (`index_select`). `indices` is a 1-D
    /// view of whole numbers in any float dtype (as every index argument below), checked in the
    /// same call.
    ///
    /// # Errors
    /// [`crate::TensorError::InvalidIndex`] naming the op, the position and the value of the
    /// first index that is negative, not a whole number or not below the axis size (as every
    /// index argument below).
    fn index_select(&self, layout: &Layout, axis: usize, indices: (&Self, &Layout))
        -> Result<Self>;

    /// A copy of the view with the slices of `src` added at `indices` (1-D) along `axis`.
    fn index_add(
        &self,
        layout: &Layout,
        axis: usize,
        indices: (&Self, &Layout),
        src: (&Self, &Layout),
    ) -> Result<Self>;

    /// `out[.., j, ..] = x[.., index[.., j, ..], ..]` along `axis`; `index` has the output's
    /// shape: the view's with `axis` resized.
    fn gather(&self, layout: &Layout, axis: usize, index: (&Self, &Layout)) -> Result<Self>;

    /// The adjoint of `gather`: a copy of the view with `src[.., j, ..]` added at
    /// `[.., index[.., j, ..], ..]` along `axis` (`index` has `src`'s shape).
    fn scatter_add(
        &self,
        layout: &Layout,
        axis: usize,
        index: (&Self, &Layout),
        src: (&Self, &Layout),
    ) -> Result<Self>;

    /// Rows of `num_classes` elements of `dtype`, one per index of the view `layout` of `self`
    /// (the indices) in row-major order, with a 1 at the index and 0 elsewhere.
    fn one_hot(&self, layout: &Layout, num_classes: usize, dtype: DType) -> Result<Self>;

    // ---- matmul, conv, pooling, recurrent cells, linear algebra (ops/matmul.rs, conv, ..., linalg)

    /// Batched matrix product: `self` viewed as `[.., m, k]` by `layout`, `rhs` as `[.., k, n]`,
    /// both layouts broadcast to the same batch axes; returns the row-major `[.., m, n]` product.
    fn matmul(&self, layout: &Layout, rhs: (&Self, &Layout)) -> Result<Self>;

    /// im2col: `[n, c, h, w]` images (the view `layout`) to `[n, c*kh*kw, oh*ow]` columns,
    /// reading `pad` outside the image.
    /// Convolution is this call and `matmul`; pooling is this call and a reduction.
    fn im2col(&self, layout: &Layout, window: &crate::ops::conv::Window, pad: f64) -> Result<Self>;

    /// col2im, the adjoint of `im2col`: `[n, c*kh*kw, oh*ow]` columns summed back into
    /// `[n, c, h, w]` images.
    fn col2im(&self, layout: &Layout, window: &crate::ops::conv::Window) -> Result<Self>;

    /// Direct stride-1, one-group convolution (no column matrix): `self` the images
    /// `[n, c_in, h, w]` (the view `layout`), `weight` `[c_out, c_in, kh, kw]`, `window` with
    /// stride 1; returns `[n, c_out, oh, ow]`. `conv2d` picks it for small channel counts.
    fn conv2d_direct(
        &self,
        layout: &Layout,
        weight: (&Self, &Layout),
        window: &crate::ops::conv::Window,
    ) -> Result<Self>;

    /// The weight gradient of [`BackendStorage::conv2d_direct`]: `self` the images
    /// `[n, c_in, h, w]` (the view `layout`), `grad` the output gradient `[n, c_out, oh, ow]`;
    /// returns `[c_out, c_in, kh, kw]`, the same bits with any thread count.
    fn conv2d_weight_grad(
        &self,
        layout: &Layout,
        grad: (&Self, &Layout),
        window: &crate::ops::conv::Window,
    ) -> Result<Self>;

    /// The input gradient of [`BackendStorage::conv2d_direct`]: `self` the output gradient
    /// `[n, c_out, oh, ow]` (the view `layout`), `weight` `[c_out, c_in, kh, kw]`, `window` that of
    /// the input; returns `[n, c_in, h, w]`, summed only over the products with the output
    /// gradient's data (never its padding), the same bits with any thread count.
    fn conv2d_input_grad(
        &self,
        layout: &Layout,
        weight: (&Self, &Layout),
        window: &crate::ops::conv::Window,
    ) -> Result<Self>;

    /// Max pooling of `[n, c, h, w]` images (the view `layout`; `window` without padding or
    /// dilation): the maxima `[n, c, oh, ow]` and, as an f64 buffer of whole numbers, the position
    /// `y * w + x` in its plane of each window's first maximum (row-major window order; a NaN
    /// counts as the maximum). `max_pool2d`'s backward scatters with them.
    fn max_pool2d(
        &self,
        layout: &Layout,
        window: &crate::ops::conv::Window,
    ) -> Result<(Self, Self)>;

    /// A whole LSTM layer over a sequence (`Tensor::lstm_sequence`): `self` is the view `xw`
    /// `[batch, steps, 4 * hidden]`, `rest` holds `w_hh`, `h0`, `c0`. Returns the packed
    /// `[2, batch, steps, hidden]` output (h then c) and what the backward reads: the activated
    /// gates `[batch, steps, 4 * hidden]` and `tanh(c)` `[batch, steps, hidden]`.
    fn lstm_sequence(
        &self,
        xw: &Layout,
        rest: [(&Self, &Layout); 3],
        dims: crate::ops::recurrent::RnnDims,
    ) -> Result<[Self; 3]>;

    /// Backpropagation through time for `lstm_sequence`: `self` is the view `g_layout` of the
    /// packed output's gradient, `out` the packed output, `saved` the gates and `tanh(c)` the
    /// forward returned, `rest` its `w_hh`, `h0`, `c0`. Returns the gradients of `xw`, `w_hh`,
    /// `h0`, `c0`.
    fn lstm_sequence_backward(
        &self,
        g_layout: &Layout,
        out: (&Self, &Layout),
        saved: [&Self; 2],
        rest: [(&Self, &Layout); 3],
        dims: crate::ops::recurrent::RnnDims,
    ) -> Result<[Self; 4]>;

    /// A whole GRU layer over a sequence (`Tensor::gru_sequence`): `self` is the view `xw`
    /// `[batch, steps, 3 * hidden]`, `rest` holds `w_hh`, `b_hh`, `h0`. Returns the output
    /// `[batch, steps, hidden]` and what the backward reads: the gates `[batch, steps, 3 * hidden]`
    /// and the `n` part of `h W_hh^T + b_hh`, `[batch, steps, hidden]`.
    fn gru_sequence(
        &self,
        xw: &Layout,
        rest: [(&Self, &Layout); 3],
        dims: crate::ops::recurrent::RnnDims,
    ) -> Result<[Self; 3]>;

    /// Backpropagation through time for `gru_sequence` (arguments as `lstm_sequence_backward`;
    /// `rest` holds `w_hh`, `b_hh`, `h0`). Returns the gradients of `xw`, `w_hh`, `b_hh`, `h0`.
    fn gru_sequence_backward(
        &self,
        g_layout: &Layout,
        out: (&Self, &Layout),
        saved: [&Self; 2],
        rest: [(&Self, &Layout); 3],
        dims: crate::ops::recurrent::RnnDims,
    ) -> Result<[Self; 4]>;

    /// Solves `A X = B` (`torch.linalg.solve`): `self` is the square view `layout` `[n, n]`, `b`
    /// the view `[n]` or `[n, k]` (same dtype); returns `X`, row-major, with `b`'s shape. Shapes
    /// are checked by the op.
    ///
    /// # Errors
    /// When `A` is singular (a zero pivot of its LU factorization with partial pivoting).
    fn linalg_solve(&self, layout: &Layout, b: (&Self, &Layout)) -> Result<Self>;

    /// The reduced QR factorization of the `[m, n]` view `layout` (`torch.linalg.qr`,
    /// `mode="reduced"`): `Q` `[m, p]` with orthonormal columns and upper-trapezoidal `R`
    /// `[p, n]`, `p = min(m, n)`, both row-major.
    fn linalg_qr(&self, layout: &Layout) -> Result<(Self, Self)>;

    // ---- fused transformer kernels (`crate::ops::nn`) -----------------------------------------

    /// A fused softmax, layer norm, GELU, cross-entropy or attention kernel, forward or backward,
    /// on the views `inputs` (one dtype); returns its outputs, contiguous (see
    /// `crate::ops::nn::NnKernel` for what each takes and gives).
    ///
    /// # Errors
    /// A cross-entropy target that is not a class index.
    fn nn_kernel(
        kernel: &crate::ops::nn::NnKernel,
        inputs: &[(&Self, &Layout)],
    ) -> Result<Vec<Self>>;

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

    // ---- host transfers (Tensor::to_vec, with_data, update_data, from_vec) -----------------------

    /// A buffer holding `data`, copied from host memory (on the CPU: moved in).
    fn from_host_vec<T: crate::Element>(data: Vec<T>) -> Result<Self>;

    /// Copies the view's elements to host memory, row-major (`T` is the dtype).
    fn to_host_vec<T: crate::Element>(&self, layout: &Layout) -> Result<Vec<T>>;

    /// Copies the view's elements to host memory converted to f64, row-major.
    fn to_host_vec_f64(&self, layout: &Layout) -> Result<Vec<f64>>;

    /// Runs `f` on the view's elements in host memory, row-major (on the CPU: borrowed when the
    /// view is contiguous, else copied; `T` is the dtype).
    fn with_host_slice<T: crate::Element, R>(
        &self,
        layout: &Layout,
        f: impl FnOnce(&[T]) -> R,
    ) -> Result<R>;

    /// Runs `f` on the contiguous view's elements in host memory and keeps what it wrote (on the
    /// CPU: in place; elsewhere a copy there and back).
    fn with_host_slice_mut<T: crate::Element, R>(
        &mut self,
        layout: &Layout,
        f: impl FnOnce(&mut [T]) -> R,
    ) -> Result<R>;
}
