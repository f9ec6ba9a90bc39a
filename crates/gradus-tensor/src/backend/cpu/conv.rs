//! Convolution's data movement on the CPU: im2col and its adjoint col2im (`kernels::im2col`).
//! Convolution itself is im2col then a matrix product; average pooling is im2col then a
//! reduction, max pooling (no padding) one pass of its own.

use super::kernels::{conv_direct, conv_input_grad, conv_weight_grad, im2col, max_pool};
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

/// Direct stride-1 convolution of `[n, c_in, h, w]` images by `[c_out, c_in, kh, kw]` weights
/// (`kernels::conv_direct`).
pub(crate) fn conv2d_direct(
    s: &CpuStorage,
    layout: &Layout,
    (w, w_layout): (&CpuStorage, &Layout),
    win: &Window,
) -> CpuStorage {
    let n = layout.shape()[0];
    let c_out = w_layout.shape()[0];
    with_dtype!(s.dtype(), T => CpuStorage::from_vec(conv_direct::conv2d(
        &s.view::<T>(layout),
        &w.view::<T>(w_layout),
        n,
        c_out,
        win,
    )))
}

/// Weight gradient `[c_out, c_in, kh, kw]` of the direct convolution of `[n, c_in, h, w]` images
/// whose output gradient is `g` `[n, c_out, oh, ow]` (`kernels::conv_weight_grad`).
pub(crate) fn conv2d_weight_grad(
    s: &CpuStorage,
    layout: &Layout,
    (g, g_layout): (&CpuStorage, &Layout),
    win: &Window,
) -> CpuStorage {
    let n = layout.shape()[0];
    let c_out = g_layout.shape()[1];
    with_dtype!(s.dtype(), T => CpuStorage::from_vec(conv_weight_grad::conv2d_weight_grad(
        &s.view::<T>(layout),
        &g.view::<T>(g_layout),
        n,
        c_out,
        win,
    )))
}

/// Input gradient `[n, c_in, h, w]` of the direct convolution by `[c_out, c_in, kh, kw]` weights
/// whose output gradient is `g` `[n, c_out, oh, ow]` (`kernels::conv_input_grad`); `win` is the
/// input's geometry.
pub(crate) fn conv2d_input_grad(
    g: &CpuStorage,
    layout: &Layout,
    (w, w_layout): (&CpuStorage, &Layout),
    win: &Window,
) -> CpuStorage {
    let n = layout.shape()[0];
    let c_out = w_layout.shape()[0];
    with_dtype!(g.dtype(), T => CpuStorage::from_vec(conv_input_grad::conv2d_input_grad(
        &g.view::<T>(layout),
        &w.view::<T>(w_layout),
        n,
        c_out,
        win,
    )))
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
