//! [`Storage`]: an opaque buffer (elements + dtype + device), dispatching each backend call to the
//! backend that holds it.

use super::cpu::CpuStorage;
use super::BackendStorage;
use crate::layout::Layout;
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
pub struct Storage(pub(crate) Inner);

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

impl Storage {
    pub(crate) fn cpu(s: CpuStorage) -> Storage {
        Storage(Inner::Cpu(s))
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

    /// The host storage, when the elements live in host memory (internal: CPU kernels and
    /// explicit host transfers only).
    pub(crate) fn as_cpu(&self) -> &CpuStorage {
        match &self.0 {
            Inner::Cpu(s) => s,
        }
    }

    /// Mutable host storage (see [`Storage::as_cpu`]).
    pub(crate) fn as_cpu_mut(&mut self) -> &mut CpuStorage {
        match &mut self.0 {
            Inner::Cpu(s) => s,
        }
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

    /// The maximum along `axis` and its first index (see [`BackendStorage::reduce_max`]).
    pub(crate) fn reduce_max(&self, layout: &Layout, axis: usize) -> Result<(Storage, Vec<usize>)> {
        on_backend!(self, s => {
            let (values, index) = s.reduce_max(layout, axis)?;
            Ok((Storage::cpu(values), index))
        })
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

    // ---- matmul, convolution, pooling, recurrent cells -------------------------------------------

    // ---- optimizer rules -------------------------------------------------------------------------

    // ---- host transfers --------------------------------------------------------------------------
}
