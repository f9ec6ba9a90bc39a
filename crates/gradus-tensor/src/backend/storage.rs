//! [`Storage`]: an opaque buffer (elements + dtype + device), dispatching each backend call to the
//! backend that holds it.

use super::cpu::CpuStorage;
use super::BackendStorage;
use crate::fused::{ElementRule, FusedTarget};
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

    // ---- reductions ------------------------------------------------------------------------------

    // ---- random ----------------------------------------------------------------------------------

    // ---- copies, shape and index ops -------------------------------------------------------------

    // ---- matmul, convolution, pooling, recurrent cells -------------------------------------------

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
                let src = src.map(|(s, offset)| (s.as_cpu(), offset));
                let slots = state.0.map(|t| t.as_cpu_mut());
                d.fused_update(target, dst, src, (slots, state.1), rule)
            }
        }
    }

    /// The sum of squares of the view, in f64 (see [`BackendStorage::sum_squares`]).
    pub(crate) fn sum_squares(&self, layout: &Layout) -> Result<f64> {
        on_backend!(self, s => s.sum_squares(layout))
    }

    // ---- host transfers --------------------------------------------------------------------------
}
