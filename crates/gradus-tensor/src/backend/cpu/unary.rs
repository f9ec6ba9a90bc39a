//! Elementwise maps of one tensor on the CPU.

use super::kernels::elementwise;
use super::CpuStorage;
use crate::layout::Layout;
use crate::ops::unary::UnaryKernel;
use crate::Element;

/// `k.f(x)` per element of the view, into a new contiguous buffer.
pub(crate) fn unary<K: UnaryKernel>(s: &CpuStorage, layout: &Layout, k: K) -> CpuStorage {
    fn go<T: Element, K: UnaryKernel>(s: &CpuStorage, layout: &Layout, k: K) -> CpuStorage {
        CpuStorage::from_vec(s.with_view(layout, |v: &[T]| elementwise::map(v, |a| k.f(a))))
    }
    match s {
        CpuStorage::F32(_) => go::<f32, K>(s, layout, k),
        CpuStorage::F64(_) => go::<f64, K>(s, layout, k),
        _ => super::half::not_widened(s),
    }
}
