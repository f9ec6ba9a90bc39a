//! Max pooling in one pass over the images: each window's maximum and the plane position
//! (`y * w + x`) of its first maximum, without the im2col copy that the composed form reads.

use crate::ops::conv::Window;
use crate::Element;
use rayon::prelude::*;

/// `[n, c, h, w]` images (no padding, dilation 1) to the maxima `[n, c, oh, ow]` and, for each,
/// the position in its `[h, w]` plane of the first maximum in row-major window order (a NaN
/// counts as the maximum, as `max_rows` does). Every window must hold at least one element.
pub(crate) fn max_pool2d<T: Element>(x: &[T], n: usize, win: &Window) -> (Vec<T>, Vec<f64>) {
    let (oh, ow) = win.output_size().expect("checked by caller");
    let (kh, kw) = win.kernel;
    let (sy, sx) = win.stride;
    let (plane, l) = (win.h * win.w, oh * ow);
    let planes = n * win.channels;
    let mut values = vec![T::zero(); planes * l];
    let mut index = vec![0.0f64; planes * l];
    if values.is_empty() || plane == 0 {
        return (values, index);
    }
    // the window's sizes as locals the `move` closure owns: kept in registers, not reloaded
    // through the captured `win` on every element
    let w = win.w;
    values
        .par_chunks_mut(l)
        .zip(index.par_chunks_mut(l))
        .enumerate()
        .for_each(move |(p, (vals, idx))| {
            let src = &x[p * plane..][..plane];
            for (y, (vrow, irow)) in vals
                .chunks_exact_mut(ow)
                .zip(idx.chunks_exact_mut(ow))
                .enumerate()
            {
                for (xo, (v_out, i_out)) in vrow.iter_mut().zip(irow.iter_mut()).enumerate() {
                    let first = y * sy * w + xo * sx;
                    let (mut best, mut at) = (src[first], first);
                    for i in 0..kh {
                        let row = first + i * w;
                        for (j, &v) in src[row..row + kw].iter().enumerate() {
                            if v > best || (v.is_nan() && !best.is_nan()) {
                                (best, at) = (v, row + j);
                            }
                        }
                    }
                    *v_out = best;
                    *i_out = at as f64;
                }
            }
        });
    (values, index)
}
