//! Host transfers on the CPU: the elements already live in host memory, so reading is a borrow or
//! a copy and writing happens in place.

use super::CpuStorage;
use crate::backend::BackendStorage;
use crate::dtype::with_any_dtype;
use crate::layout::Layout;
use crate::{Element, Result, TensorError};

/// The view's elements converted to f64, row-major.
pub(crate) fn to_vec_f64(s: &CpuStorage, layout: &Layout) -> Vec<f64> {
    with_any_dtype!(s.dtype(), T => s.view::<T>(layout).iter().map(|&x| <T as Element>::to_f64(x)).collect())
}

/// Runs `f` on the contiguous view's elements in place.
pub(crate) fn with_slice_mut<T: Element, R>(
    s: &mut CpuStorage,
    layout: &Layout,
    f: impl FnOnce(&mut [T]) -> R,
) -> Result<R> {
    if !layout.is_contiguous() {
        return Err(TensorError::InvalidArgument {
            op: "update_data",
            detail: format!(
                "needs a contiguous tensor, got strides {:?}",
                layout.strides()
            ),
        });
    }
    let (start, n) = (layout.offset, layout.numel());
    Ok(f(&mut s.slice_mut::<T>()[start..start + n]))
}
