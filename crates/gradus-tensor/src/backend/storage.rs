//! [`Storage`]: an opaque buffer (elements + dtype + device), dispatching each backend call to the
//! backend that holds it.

use super::cpu::CpuStorage;
use super::BackendStorage;
use crate::fused::{ElementRule, FusedTarget};
use crate::layout::Layout;
use crate::memory::MemoryToken;
use crate::ops::unary::UnaryKernel;
use crate::{DType, Device, Result};

/// A flat buffer of elements owned by one or more tensors (views share it).
///
/// Opaque: where the elements live (host memory, a GPU) is the backend's business. Tensors reach
/// host memory only through the explicit transfers [`crate::Tensor::to_vec`],
/// [`crate::Tensor::with_data`] and [`crate::Tensor::update_data`].
///
/// ```
/// use gradus_tensor::{DType, Device, Tensor};
/// let t = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap();
/// assert_eq!((t.dtype(), t.device()), (DType::F32, Device::Cpu));
/// ```
#[derive(Clone, Debug)]
pub struct Storage(
    pub(crate) Inner,
    // held for its `Drop`: counts the buffer's bytes in `crate::memory` while it lives
    #[allow(dead_code)] MemoryToken,
);

/// One variant per backend.
#[derive(Clone, Debug)]
pub(crate) enum Inner {
    Cpu(CpuStorage),
}

/// Runs `$body` with `$s` bound to the backend storage inside `$storage`.
macro_rules! on_backend {
    ($storage:expr, $s:ident => $body:expr) => {
        match &$storage.0 {
            Inner::Cpu($s) => $body,
        }
    };
}

/// Results of logistic regression's fused pass: the unscaled loss sum, the unscaled `dw` and
/// `db` when asked, and the logits when asked.
pub(crate) type LogisticParts = (f64, Option<(Storage, Storage)>, Option<Storage>);

impl Storage {
    pub(crate) fn cpu(s: CpuStorage) -> Storage {
        let bytes = s.len() * s.dtype().size_in_bytes();
        Storage(Inner::Cpu(s), MemoryToken::new(bytes))
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        on_backend!(self, s => s.dtype())
    }

    /// The device holding the elements.
    pub fn device(&self) -> Device {
        on_backend!(self, s => s.device())
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        on_backend!(self, s => s.len())
    }

    /// True when it holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // ---- backend calls, one per op family (see `backend/mod.rs`) -------------------------------

    /// `k.f(x)` per element of the view `layout`, into a new contiguous buffer.
    pub(crate) fn unary<K: UnaryKernel>(&self, layout: &Layout, k: K) -> Result<Storage> {
        on_backend!(self, s => Ok(Storage::cpu(s.unary(layout, k)?)))
    }

    // ---- elementwise: binary, ternary, comparisons, casts ----------------------------------------

    /// `k.f(a, b)` per element of two views broadcast to the output shape, into a new contiguous
    /// buffer (see [`BackendStorage::binary`]).
    pub(crate) fn binary<K: crate::ops::binary::BinaryKernel>(
        &self,
        layout: &Layout,
        rhs: &Storage,
        rhs_layout: &Layout,
        k: K,
    ) -> Result<Storage> {
        match (&self.0, &rhs.0) {
            (Inner::Cpu(a), Inner::Cpu(b)) => Ok(Storage::cpu(a.binary(layout, b, rhs_layout, k)?)),
        }
    }

    /// `k.f(a, b, c)` per element of three views broadcast to the output shape (see
    /// [`BackendStorage::ternary`]).
    pub(crate) fn ternary<K: crate::ops::binary::TernaryKernel>(
        &self,
        layout: &Layout,
        b: (&Storage, &Layout),
        c: (&Storage, &Layout),
        k: K,
    ) -> Result<Storage> {
        let ((b, b_layout), (c, c_layout)) = (b, c);
        match (&self.0, &b.0, &c.0) {
            (Inner::Cpu(x), Inner::Cpu(y), Inner::Cpu(z)) => Ok(Storage::cpu(x.ternary(
                layout,
                (y, b_layout),
                (z, c_layout),
                k,
            )?)),
        }
    }

    // ---- reductions ------------------------------------------------------------------------------

    /// The sum of the view over sorted, distinct `axes` (see [`BackendStorage::reduce_sum`]).
    pub(crate) fn reduce_sum(&self, layout: &Layout, axes: &[usize]) -> Result<Storage> {
        on_backend!(self, s => Ok(Storage::cpu(s.reduce_sum(layout, axes)?)))
    }

    /// The maximum along `axis` and its first index, an f64 buffer (see
    /// [`BackendStorage::reduce_max`]).
    pub(crate) fn reduce_max(&self, layout: &Layout, axis: usize) -> Result<(Storage, Storage)> {
        on_backend!(self, s => {
            let (values, index) = s.reduce_max(layout, axis)?;
            Ok((Storage::cpu(values), Storage::cpu(index)))
        })
    }

    /// `sum(x^2)` of the view in f64 (see [`BackendStorage::sum_squares_f64`]).
    pub(crate) fn sum_squares_f64(&self, layout: &Layout) -> Result<Storage> {
        on_backend!(self, s => Ok(Storage::cpu(s.sum_squares_f64(layout)?)))
    }

    /// `sum((a - b)^2)` of two views in f64 (see [`BackendStorage::squared_distance_f64`]).
    pub(crate) fn squared_distance_f64(
        &self,
        layout: &Layout,
        other: (&Storage, &Layout),
    ) -> Result<Storage> {
        match (&self.0, &other.0 .0) {
            (Inner::Cpu(a), Inner::Cpu(b)) => {
                Ok(Storage::cpu(a.squared_distance_f64(layout, (b, other.1))?))
            }
        }
    }

    // ---- random ----------------------------------------------------------------------------------

    /// A new buffer of `dtype` on `device` holding samples drawn on the host (see
    /// [`BackendStorage::from_samples`]).
    pub(crate) fn from_samples(device: Device, samples: Vec<f64>, dtype: DType) -> Result<Storage> {
        match device {
            Device::Cpu => Ok(Storage::cpu(CpuStorage::from_samples(samples, dtype)?)),
        }
    }

    // ---- copies, shape and index ops -------------------------------------------------------------

    /// A buffer of `n` elements equal to `value` on `device`.
    pub(crate) fn full(device: Device, n: usize, value: f64, dtype: DType) -> Result<Storage> {
        match device {
            Device::Cpu => Ok(Storage::cpu(CpuStorage::full(n, value, dtype)?)),
        }
    }

    /// A contiguous copy of the view `layout`.
    pub(crate) fn copy(&self, layout: &Layout) -> Result<Storage> {
        on_backend!(self, s => Ok(Storage::cpu(s.copy(layout)?)))
    }

    /// A contiguous copy of the view `layout` on `device` (a copy on the same device too).
    pub(crate) fn to_device(&self, layout: &Layout, device: Device) -> Result<Storage> {
        match (&self.0, device) {
            (Inner::Cpu(s), Device::Cpu) => Ok(Storage::cpu(s.copy(layout)?)),
        }
    }

    /// The view converted to `dtype`.
    pub(crate) fn cast(&self, layout: &Layout, dtype: DType) -> Result<Storage> {
        on_backend!(self, s => Ok(Storage::cpu(s.cast(layout, dtype)?)))
    }

    /// The view padded with zeros on `axis`.
    pub(crate) fn pad_axis(
        &self,
        layout: &Layout,
        axis: usize,
        before: usize,
        after: usize,
    ) -> Result<Storage> {
        on_backend!(self, s => Ok(Storage::cpu(s.pad_axis(layout, axis, before, after)?)))
    }

    /// The views joined along `axis` (all on one device).
    pub(crate) fn concat(parts: &[(&Storage, &Layout)], axis: usize) -> Result<Storage> {
        let cpu: Vec<(&CpuStorage, &Layout)> = parts
            .iter()
            .map(|(s, l)| match &s.0 {
                Inner::Cpu(c) => (c, *l),
            })
            .collect();
        Ok(Storage::cpu(CpuStorage::concat(&cpu, axis)?))
    }

    /// `self.narrow(axis, start, len) += src` in place (`self` contiguous, shape `dst_shape`).
    pub(crate) fn narrow_add_assign(
        &mut self,
        dst_shape: &[usize],
        (src, src_layout): (&Storage, &Layout),
        axis: usize,
        start: usize,
    ) -> Result<()> {
        match (&mut self.0, &src.0) {
            (Inner::Cpu(d), Inner::Cpu(s)) => {
                d.narrow_add_assign(dst_shape, (s, src_layout), axis, start)
            }
        }
    }

    /// Overwrites the contiguous view `layout` with the view `src`.
    pub(crate) fn copy_into(
        &mut self,
        layout: &Layout,
        (src, src_layout): (&Storage, &Layout),
    ) -> Result<()> {
        match (&mut self.0, &src.0) {
            (Inner::Cpu(d), Inner::Cpu(s)) => d.copy_into(layout, (s, src_layout)),
        }
    }

    /// The slices at `indices` (1-D, whole numbers, checked) along `axis` (see
    /// [`BackendStorage::index_select`]).
    pub(crate) fn index_select(
        &self,
        layout: &Layout,
        axis: usize,
        (indices, i_layout): (&Storage, &Layout),
    ) -> Result<Storage> {
        match (&self.0, &indices.0) {
            (Inner::Cpu(d), Inner::Cpu(i)) => {
                Ok(Storage::cpu(d.index_select(layout, axis, (i, i_layout))?))
            }
        }
    }

    /// A copy with the slices of `src` added at `indices` along `axis`.
    pub(crate) fn index_add(
        &self,
        layout: &Layout,
        axis: usize,
        (indices, i_layout): (&Storage, &Layout),
        (src, src_layout): (&Storage, &Layout),
    ) -> Result<Storage> {
        match (&self.0, &indices.0, &src.0) {
            (Inner::Cpu(d), Inner::Cpu(i), Inner::Cpu(s)) => Ok(Storage::cpu(d.index_add(
                layout,
                axis,
                (i, i_layout),
                (s, src_layout),
            )?)),
        }
    }

    /// Elements picked along `axis` by `index`.
    pub(crate) fn gather(
        &self,
        layout: &Layout,
        axis: usize,
        (index, i_layout): (&Storage, &Layout),
    ) -> Result<Storage> {
        match (&self.0, &index.0) {
            (Inner::Cpu(d), Inner::Cpu(i)) => {
                Ok(Storage::cpu(d.gather(layout, axis, (i, i_layout))?))
            }
        }
    }

    /// A copy with `src` added at `index` along `axis` (the adjoint of `gather`).
    pub(crate) fn scatter_add(
        &self,
        layout: &Layout,
        axis: usize,
        (index, i_layout): (&Storage, &Layout),
        (src, src_layout): (&Storage, &Layout),
    ) -> Result<Storage> {
        match (&self.0, &index.0, &src.0) {
            (Inner::Cpu(d), Inner::Cpu(i), Inner::Cpu(s)) => Ok(Storage::cpu(d.scatter_add(
                layout,
                axis,
                (i, i_layout),
                (s, src_layout),
            )?)),
        }
    }

    /// One-hot rows of `dtype` for the indices in the view `layout` of this buffer, on its
    /// device.
    pub(crate) fn one_hot(
        &self,
        layout: &Layout,
        num_classes: usize,
        dtype: DType,
    ) -> Result<Storage> {
        on_backend!(self, s => Ok(Storage::cpu(s.one_hot(layout, num_classes, dtype)?)))
    }

    // ---- matmul, convolution, pooling, recurrent cells, linear algebra --------------------------

    /// Batched matrix product of two views broadcast to the same batch axes.
    pub(crate) fn matmul(
        &self,
        layout: &Layout,
        (rhs, rhs_layout): (&Storage, &Layout),
    ) -> Result<Storage> {
        match (&self.0, &rhs.0) {
            (Inner::Cpu(a), Inner::Cpu(b)) => Ok(Storage::cpu(a.matmul(layout, (b, rhs_layout))?)),
        }
    }

    /// im2col: images to columns of patches.
    pub(crate) fn im2col(
        &self,
        layout: &Layout,
        window: &crate::ops::conv::Window,
        pad: f64,
    ) -> Result<Storage> {
        on_backend!(self, s => Ok(Storage::cpu(s.im2col(layout, window, pad)?)))
    }

    /// col2im: columns of patches summed back into images.
    pub(crate) fn col2im(
        &self,
        layout: &Layout,
        window: &crate::ops::conv::Window,
    ) -> Result<Storage> {
        on_backend!(self, s => Ok(Storage::cpu(s.col2im(layout, window)?)))
    }

    /// Direct stride-1 convolution (see [`BackendStorage::conv2d_direct`]).
    pub(crate) fn conv2d_direct(
        &self,
        layout: &Layout,
        (weight, weight_layout): (&Storage, &Layout),
        window: &crate::ops::conv::Window,
    ) -> Result<Storage> {
        match (&self.0, &weight.0) {
            (Inner::Cpu(x), Inner::Cpu(w)) => Ok(Storage::cpu(x.conv2d_direct(
                layout,
                (w, weight_layout),
                window,
            )?)),
        }
    }

    /// Weight gradient of the direct convolution (see [`BackendStorage::conv2d_weight_grad`]).
    pub(crate) fn conv2d_weight_grad(
        &self,
        layout: &Layout,
        (grad, grad_layout): (&Storage, &Layout),
        window: &crate::ops::conv::Window,
    ) -> Result<Storage> {
        match (&self.0, &grad.0) {
            (Inner::Cpu(x), Inner::Cpu(g)) => Ok(Storage::cpu(x.conv2d_weight_grad(
                layout,
                (g, grad_layout),
                window,
            )?)),
        }
    }

    /// Input gradient of the direct convolution (see [`BackendStorage::conv2d_input_grad`]).
    pub(crate) fn conv2d_input_grad(
        &self,
        layout: &Layout,
        (weight, weight_layout): (&Storage, &Layout),
        window: &crate::ops::conv::Window,
    ) -> Result<Storage> {
        match (&self.0, &weight.0) {
            (Inner::Cpu(g), Inner::Cpu(w)) => Ok(Storage::cpu(g.conv2d_input_grad(
                layout,
                (w, weight_layout),
                window,
            )?)),
        }
    }

    /// Max pooling: the maxima and their f64 plane positions (see
    /// [`BackendStorage::max_pool2d`]).
    pub(crate) fn max_pool2d(
        &self,
        layout: &Layout,
        window: &crate::ops::conv::Window,
    ) -> Result<(Storage, Storage)> {
        on_backend!(self, s => {
            let (values, index) = s.max_pool2d(layout, window)?;
            Ok((Storage::cpu(values), Storage::cpu(index)))
        })
    }

    /// A whole LSTM layer over a sequence: packed output, gates, `tanh(c)`.
    pub(crate) fn lstm_sequence(
        &self,
        xw: &Layout,
        rest: [(&Storage, &Layout); 3],
        dims: crate::ops::recurrent::RnnDims,
    ) -> Result<[Storage; 3]> {
        match &self.0 {
            Inner::Cpu(x) => Ok(x
                .lstm_sequence(xw, rest_on_cpu(rest), dims)?
                .map(Storage::cpu)),
        }
    }

    /// The gradients of an LSTM layer's inputs.
    pub(crate) fn lstm_sequence_backward(
        &self,
        g_layout: &Layout,
        (out, out_layout): (&Storage, &Layout),
        saved: [&Storage; 2],
        rest: [(&Storage, &Layout); 3],
        dims: crate::ops::recurrent::RnnDims,
    ) -> Result<[Storage; 4]> {
        match (&self.0, &out.0, &saved[0].0, &saved[1].0) {
            (Inner::Cpu(g), Inner::Cpu(o), Inner::Cpu(s0), Inner::Cpu(s1)) => {
                let rest = rest_on_cpu(rest);
                let grads =
                    g.lstm_sequence_backward(g_layout, (o, out_layout), [s0, s1], rest, dims)?;
                Ok(grads.map(Storage::cpu))
            }
        }
    }

    /// A whole GRU layer over a sequence: output, gates, the `n` part of `h W_hh^T + b_hh`.
    pub(crate) fn gru_sequence(
        &self,
        xw: &Layout,
        rest: [(&Storage, &Layout); 3],
        dims: crate::ops::recurrent::RnnDims,
    ) -> Result<[Storage; 3]> {
        match &self.0 {
            Inner::Cpu(x) => Ok(x
                .gru_sequence(xw, rest_on_cpu(rest), dims)?
                .map(Storage::cpu)),
        }
    }

    /// The gradients of a GRU layer's inputs.
    pub(crate) fn gru_sequence_backward(
        &self,
        g_layout: &Layout,
        (out, out_layout): (&Storage, &Layout),
        saved: [&Storage; 2],
        rest: [(&Storage, &Layout); 3],
        dims: crate::ops::recurrent::RnnDims,
    ) -> Result<[Storage; 4]> {
        match (&self.0, &out.0, &saved[0].0, &saved[1].0) {
            (Inner::Cpu(g), Inner::Cpu(o), Inner::Cpu(s0), Inner::Cpu(s1)) => {
                let rest = rest_on_cpu(rest);
                let grads =
                    g.gru_sequence_backward(g_layout, (o, out_layout), [s0, s1], rest, dims)?;
                Ok(grads.map(Storage::cpu))
            }
        }
    }

    /// Solves `A X = B` for the square view `layout` and the view `b` (see
    /// [`BackendStorage::linalg_solve`]).
    pub(crate) fn linalg_solve(
        &self,
        layout: &Layout,
        (b, b_layout): (&Storage, &Layout),
    ) -> Result<Storage> {
        match (&self.0, &b.0) {
            (Inner::Cpu(a), Inner::Cpu(b)) => {
                Ok(Storage::cpu(a.linalg_solve(layout, (b, b_layout))?))
            }
        }
    }

    /// The reduced QR factorization of the `[m, n]` view (see [`BackendStorage::linalg_qr`]).
    pub(crate) fn linalg_qr(&self, layout: &Layout) -> Result<(Storage, Storage)> {
        on_backend!(self, s => {
            let (q, r) = s.linalg_qr(layout)?;
            Ok((Storage::cpu(q), Storage::cpu(r)))
        })
    }

    /// A fused transformer kernel (see [`BackendStorage::nn_kernel`]).
    pub(crate) fn nn_kernel(
        kernel: &crate::ops::nn::NnKernel,
        inputs: &[(&Storage, &Layout)],
    ) -> Result<Vec<Storage>> {
        let cpu: Vec<(&CpuStorage, &Layout)> = inputs
            .iter()
            .map(|&(s, l)| match &s.0 {
                Inner::Cpu(c) => (c, l),
            })
            .collect();
        Ok(CpuStorage::nn_kernel(kernel, &cpu)?
            .into_iter()
            .map(Storage::cpu)
            .collect())
    }

    /// Logistic regression's fused loss pass (see `Tensor::linear_bce_with_logits`): the sum of
    /// the rows' losses, when `grads` the unscaled `dw [cols]` and `db [1]`, and when `logits`
    /// the rows' logits `[rows]`. Contiguous views of one dtype.
    pub(crate) fn linear_bce_with_logits(
        inputs: [(&Storage, &Layout); 4],
        (grads, logits): (bool, bool),
    ) -> Result<LogisticParts> {
        let [x, w, b, y] = inputs.map(|(s, l)| match &s.0 {
            Inner::Cpu(c) => (c, l),
        });
        let (loss, g, z) = CpuStorage::linear_bce_with_logits(x, w, b, y, (grads, logits))?;
        let g = g.map(|(dw, db)| (Storage::cpu(dw), Storage::cpu(db)));
        Ok((loss, g, z.map(Storage::cpu)))
    }

    // ---- optimizer rules -------------------------------------------------------------------------

    /// The fused per-element update (see [`BackendStorage::fused_update`]); every operand must be
    /// on this storage's backend.
    pub(crate) fn fused_update<R: ElementRule<K>, const K: usize>(
        &mut self,
        target: FusedTarget,
        dst: (usize, usize),
        src: Option<(&Storage, usize)>,
        state: ([&mut Storage; K], [usize; K]),
        rule: &R,
    ) -> Result<()> {
        match &mut self.0 {
            Inner::Cpu(d) => {
                let src = src.map(|(s, offset)| match &s.0 {
                    Inner::Cpu(s) => (s, offset),
                });
                let slots = state.0.map(|t| match &mut t.0 {
                    Inner::Cpu(t) => t,
                });
                d.fused_update(target, dst, src, (slots, state.1), rule)
            }
        }
    }

    // ---- host transfers --------------------------------------------------------------------------

    /// A buffer on `device` holding `data`, copied from host memory (on the CPU: moved in).
    pub(crate) fn from_host_vec<T: crate::Element>(
        device: Device,
        data: Vec<T>,
    ) -> Result<Storage> {
        match device {
            Device::Cpu => Ok(Storage::cpu(CpuStorage::from_host_vec(data)?)),
        }
    }

    /// Copies the view's elements to host memory.
    pub(crate) fn to_host_vec<T: crate::Element>(&self, layout: &Layout) -> Result<Vec<T>> {
        on_backend!(self, s => s.to_host_vec(layout))
    }

    /// Copies the view's elements to host memory as f64.
    pub(crate) fn to_host_vec_f64(&self, layout: &Layout) -> Result<Vec<f64>> {
        on_backend!(self, s => s.to_host_vec_f64(layout))
    }

    /// Runs `f` on the view's elements in host memory.
    pub(crate) fn with_host_slice<T: crate::Element, R>(
        &self,
        layout: &Layout,
        f: impl FnOnce(&[T]) -> R,
    ) -> Result<R> {
        on_backend!(self, s => s.with_host_slice(layout, f))
    }

    /// Runs `f` on the contiguous view's elements in host memory and keeps what it wrote.
    pub(crate) fn with_host_slice_mut<T: crate::Element, R>(
        &mut self,
        layout: &Layout,
        f: impl FnOnce(&mut [T]) -> R,
    ) -> Result<R> {
        match &mut self.0 {
            Inner::Cpu(s) => s.with_host_slice_mut(layout, f),
        }
    }
}

/// The CPU buffers of a recurrent call's other operands (all on one device).
fn rest_on_cpu<'a>(rest: [(&'a Storage, &'a Layout); 3]) -> [(&'a CpuStorage, &'a Layout); 3] {
    rest.map(|(s, l)| match &s.0 {
        Inner::Cpu(c) => (c, l),
    })
}
