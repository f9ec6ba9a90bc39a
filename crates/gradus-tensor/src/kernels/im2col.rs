//! im2col / col2im: the patch extraction behind convolution and pooling.

use crate::Element;
use rayon::prelude::*;

/// Geometry of a 2-D sliding window over `[channels, h, w]` images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub channels: usize,
    pub h: usize,
    pub w: usize,
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    pub dilation: (usize, usize),
}

impl Window {
    /// Output height and width, or `None` when the kernel does not fit.
    pub fn output_size(&self) -> Option<(usize, usize)> {
        let out = |size: usize, k: usize, s: usize, p: usize, d: usize| {
            let span = d * (k - 1) + 1;
            (size + 2 * p).checked_sub(span).map(|r| r / s + 1)
        };
        Some((
            out(
                self.h,
                self.kernel.0,
                self.stride.0,
                self.padding.0,
                self.dilation.0,
            )?,
            out(
                self.w,
                self.kernel.1,
                self.stride.1,
                self.padding.1,
                self.dilation.1,
            )?,
        ))
    }

    fn patch_len(&self) -> usize {
        self.channels * self.kernel.0 * self.kernel.1
    }

    /// Source (row, col) of kernel tap (i, j) at output position (oh, ow), if inside the image.
    #[inline]
    fn source(&self, oh: usize, ow: usize, i: usize, j: usize) -> Option<(usize, usize)> {
        let y = (oh * self.stride.0 + i * self.dilation.0).checked_sub(self.padding.0)?;
        let x = (ow * self.stride.1 + j * self.dilation.1).checked_sub(self.padding.1)?;
        (y < self.h && x < self.w).then_some((y, x))
    }
}

/// `[n, c, h, w]` images -> `[n, c*kh*kw, oh*ow]` columns; outside the image reads `pad`.
pub(crate) fn im2col<T: Element>(x: &[T], n: usize, win: &Window, pad: T) -> Vec<T> {
    let (oh, ow) = win.output_size().expect("checked by caller");
    let (kh, kw) = win.kernel;
    let l = oh * ow;
    let image = win.channels * win.h * win.w;
    let mut cols = vec![T::zero(); n * win.patch_len() * l];
    cols.par_chunks_mut(kh * kw * l)
        .enumerate()
        .for_each(|(nc, block)| {
            let src = &x[(nc / win.channels) * image + (nc % win.channels) * win.h * win.w..]
                [..win.h * win.w];
            for i in 0..kh {
                for j in 0..kw {
                    let row = &mut block[(i * kw + j) * l..][..l];
                    for y in 0..oh {
                        for xo in 0..ow {
                            row[y * ow + xo] = match win.source(y, xo, i, j) {
                                Some((sy, sx)) => src[sy * win.w + sx],
                                None => pad,
                            };
                        }
                    }
                }
            }
        });
    cols
}

/// The adjoint of [`im2col`]: sums `[n, c*kh*kw, oh*ow]` columns back into `[n, c, h, w]`.
pub(crate) fn col2im<T: Element>(cols: &[T], n: usize, win: &Window) -> Vec<T> {
    let (oh, ow) = win.output_size().expect("checked by caller");
    let (kh, kw) = win.kernel;
    let l = oh * ow;
    let mut x = vec![T::zero(); n * win.channels * win.h * win.w];
    x.par_chunks_mut(win.h * win.w)
        .enumerate()
        .for_each(|(nc, dst)| {
            let block = &cols[nc * kh * kw * l..][..kh * kw * l];
            for i in 0..kh {
                for j in 0..kw {
                    let row = &block[(i * kw + j) * l..][..l];
                    for y in 0..oh {
                        for xo in 0..ow {
                            if let Some((sy, sx)) = win.source(y, xo, i, j) {
                                dst[sy * win.w + sx] = dst[sy * win.w + sx] + row[y * ow + xo];
                            }
                        }
                    }
                }
            }
        });
    x
}
