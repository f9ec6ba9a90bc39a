//! Convolution's data movement on the CPU: im2col and its adjoint col2im (`kernels::im2col`).
//! Convolution itself is im2col then a matrix product; average pooling is im2col then a
//! reduction, max pooling (no padding) one pass of its own.

use super::kernels::{im2col, max_pool};
use super::CpuStorage;
use crate::backend::BackendStorage;
use crate::dtype::with_dtype;
use crate::layout::Layout;
use crate::ops::conv::Window;
use crate::Element;

/// `[n, c, h, w]` images to `[n, c*kh*kw, oh*ow]` (or, batch inside, `[c*kh*kw, n * oh*ow]`)
/// columns, `pad` outside the image.
pub(crate) fn im2col(s: &CpuStorage, layout: &Layout, win: &Window, pad: f64) -> CpuStorage {
    let n = layout.shape()[0];
    with_dtype!(s.dtype(), T => CpuStorage::from_vec(im2col::im2col(&s.view::<T>(layout), n, win, T::from_f64(pad))))
}

/// `[n, c*kh*kw, oh*ow]` columns summed back into `[n, c, h, w]` images.
pub(crate) fn col2im(s: &CpuStorage, layout: &Layout, win: &Window) -> CpuStorage {
    let n = layout.shape()[0];
    with_dtype!(s.dtype(), T => CpuStorage::from_vec(im2col::col2im(&s.view::<T>(layout), n, win)))
}

/// Max pooling of `[n, c, h, w]` images (no padding): the maxima `[n, c, oh, ow]` and the f64
/// plane position of each one's first maximum.
pub(crate) fn max_pool2d(
    s: &CpuStorage,
    layout: &Layout,
    win: &Window,
) -> (CpuStorage, CpuStorage) {
    let n = layout.shape()[0];
    with_dtype!(s.dtype(), T => {
        let (values, index) = max_pool::max_pool2d(&s.view::<T>(layout), n, win);
        (CpuStorage::from_vec(values), CpuStorage::from_vec(index))
    })
}
