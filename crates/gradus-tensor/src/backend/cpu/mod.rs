//! The CPU backend: host `Vec`s, faer GEMM, rayon parallelism and SIMD compiled per instruction
//! level and chosen at run time. The only place in gradus that reads or writes tensor elements as
//! host slices.

mod fused;
pub(crate) mod kernels;
pub mod simd;
mod unary;
// one file per op family, in the order of the trait's sections

use super::BackendStorage;
use crate::layout::Layout;
use crate::{DType, Device, Element, Result};

/// Host buffers, one variant per element type.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum CpuStorage {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl CpuStorage {
    /// Wraps host data.
    pub(crate) fn from_vec<T: Element>(data: Vec<T>) -> CpuStorage {
        T::into_cpu(data)
    }

    /// The whole buffer as a slice (dtype must match).
    pub(crate) fn slice<T: Element>(&self) -> &[T] {
        T::cpu_slice(self)
    }

    /// The whole buffer as a mutable slice (dtype must match).
    pub(crate) fn slice_mut<T: Element>(&mut self) -> &mut [T] {
        T::cpu_slice_mut(self)
    }

    /// Runs `f` on the view's elements in row-major order: borrowed when contiguous, else gathered.
    pub(crate) fn with_view<T: Element, R>(&self, layout: &Layout, f: impl FnOnce(&[T]) -> R) -> R {
        let all = self.slice::<T>();
        if layout.is_contiguous() {
            f(&all[layout.offset..layout.offset + layout.numel()])
        } else {
            f(&kernels::elementwise::gather_strided(all, layout))
        }
    }
}

impl BackendStorage for CpuStorage {
    fn dtype(&self) -> DType {
        match self {
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::F64(_) => DType::F64,
        }
    }

    fn device(&self) -> Device {
        Device::Cpu
    }

    fn len(&self) -> usize {
        match self {
            CpuStorage::F32(v) => v.len(),
            CpuStorage::F64(v) => v.len(),
        }
    }

    fn unary<K: crate::ops::unary::UnaryKernel>(&self, layout: &Layout, k: K) -> Result<Self> {
        Ok(unary::unary(self, layout, k))
    }

    // ---- elementwise: binary, ternary, comparisons, casts ----------------------------------------

    // ---- reductions ------------------------------------------------------------------------------

    // ---- random ----------------------------------------------------------------------------------

    // ---- copies, shape and index ops -------------------------------------------------------------

    // ---- matmul, convolution, pooling, recurrent cells -------------------------------------------

    // ---- optimizer rules -------------------------------------------------------------------------

    fn fused_update<R: crate::fused::ElementRule<K>, const K: usize>(
        &mut self,
        target: crate::fused::FusedTarget,
        dst: (usize, usize),
        src: Option<(&Self, usize)>,
        state: ([&mut Self; K], [usize; K]),
        rule: &R,
    ) -> Result<()> {
        fused::fused_update(self, target, dst, src, state, rule)
    }

    fn sum_squares(&self, layout: &Layout) -> Result<f64> {
        Ok(fused::sum_squares(self, layout))
    }

    // ---- host transfers --------------------------------------------------------------------------
}
