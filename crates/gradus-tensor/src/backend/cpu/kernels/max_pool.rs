//! Max pooling in one pass over the images: each window's maximum and the plane position
//! (`y * w + x`) of its first maximum, without the im2col copy that the composed form reads.

use super::fast_math::replaces_max;
use super::{with_widest_simd, SimdKernel};
use crate::ops::conv::Window;
use crate::Element;
use rayon::prelude::*;

/// `[n, c, h, w]` images (no padding, dilation 1) to the maxima `[n, c, oh, ow]` and, for each,
/// the position in its `[h, w]` plane of the first maximum in row-major window order (a NaN
/// counts as the maximum, as `max_rows` does). Every window must hold at least one element.
pub(crate) fn max_pool2d<T: Element>(x: &[T], n: usize, win: &Window) -> (Vec<T>, Vec<f64>) {
    let (oh, ow) = win.output_size().expect("checked by caller");
    let (plane, l) = (win.h * win.w, oh * ow);
    let planes = n * win.channels;
    let mut values = vec![T::zero(); planes * l];
    let mut index = vec![0.0f64; planes * l];
    if values.is_empty() || plane == 0 {
        return (values, index);
    }
    let shape = Shape {
        w: win.w,
        ow,
        kernel: win.kernel,
        stride: win.stride,
    };
    crate::threads::warm();
    values
        .par_chunks_mut(l)
        .zip(index.par_chunks_mut(l))
        .enumerate()
        .for_each(|(p, (vals, idx))| {
            let src = &x[p * plane..][..plane];
            with_widest_simd(Plane {
                src,
                vals,
                idx,
                shape,
            });
        });
    (values, index)
}

/// The sizes of a plane's windows, copied into each plane's kernel (kept in registers, not
/// reloaded through a reference on every element).
#[derive(Clone, Copy)]
struct Shape {
    w: usize,
    ow: usize,
    kernel: (usize, usize),
    stride: (usize, usize),
}

/// One `[h, w]` plane's windows.
struct Plane<'a, T> {
    src: &'a [T],
    vals: &'a mut [T],
    idx: &'a mut [f64],
    shape: Shape,
}

impl<T: Element> SimdKernel for Plane<'_, T> {
    #[inline(always)]
    fn run(self) {
        let Shape {
            w,
            ow,
            kernel: (kh, kw),
            stride: (sy, sx),
        } = self.shape;
        let src = self.src;
        let rows = self
            .vals
            .chunks_exact_mut(ow)
            .zip(self.idx.chunks_exact_mut(ow));
        if (kh, kw, sy, sx) == (2, 2, 2, 2) {
            // the common 2 x 2 window of stride 2, unrolled: a loop over the outputs of a row
            // with no inner loops, which the compiler vectorizes
            for (y, (vrow, irow)) in rows.enumerate() {
                let top = 2 * y * w;
                let (r0, r1) = (&src[top..][..2 * ow], &src[top + w..][..2 * ow]);
                let outs = vrow.iter_mut().zip(irow.iter_mut());
                for (xo, (v_out, i_out)) in outs.enumerate() {
                    let (mut best, mut at) = (r0[2 * xo], 0u32);
                    for (k, v) in [(1, r0[2 * xo + 1]), (2, r1[2 * xo]), (3, r1[2 * xo + 1])] {
                        let take = replaces_max(v, best);
                        best = if take { v } else { best };
                        at = if take { k } else { at };
                    }
                    // window element k sits at row k / 2, column k % 2
                    let pos = top + 2 * xo + (at as usize >> 1) * w + (at as usize & 1);
                    *v_out = best;
                    *i_out = pos as f64;
                }
            }
            return;
        }
        for (y, (vrow, irow)) in rows.enumerate() {
            for (xo, (v_out, i_out)) in vrow.iter_mut().zip(irow.iter_mut()).enumerate() {
                let first = y * sy * w + xo * sx;
                let (mut best, mut at) = (src[first], first);
                for i in 0..kh {
                    let row = first + i * w;
                    for (j, &v) in src[row..row + kw].iter().enumerate() {
                        let take = replaces_max(v, best);
                        best = if take { v } else { best };
                        at = if take { row + j } else { at };
                    }
                }
                *v_out = best;
                *i_out = at as f64;
            }
        }
    }
}
