//! im2col / col2im: the patch extraction behind convolution and pooling.

use crate::ops::conv::Window;
use crate::Element;
use rayon::prelude::*;

impl Window {
    fn patch_len(&self) -> usize {
        self.channels * self.kernel.0 * self.kernel.1
    }

    /// Source (row, col) of kernel tap (i, j) at output position (oh, ow), if inside the image:
    /// the definition the row-wise kernels below are tested against.
    #[cfg(test)]
    fn source(&self, oh: usize, ow: usize, i: usize, j: usize) -> Option<(usize, usize)> {
        let y = (oh * self.stride.0 + i * self.dilation.0).checked_sub(self.padding.0)?;
        let x = (ow * self.stride.1 + j * self.dilation.1).checked_sub(self.padding.1)?;
        (y < self.h && x < self.w).then_some((y, x))
    }
}

/// For kernel tap `(i, j)`: each output row's source row (`None` outside the image) and the
/// output columns `lo..hi` whose source column `lo * stride + j * dilation - padding + ...` lies
/// inside the image (source column of `lo` is `first`).
struct TapRows {
    rows: Vec<Option<usize>>,
    lo: usize,
    hi: usize,
    first: usize,
}

impl Window {
    fn tap(&self, oh: usize, ow: usize, i: usize, j: usize) -> TapRows {
        let rows = (0..oh)
            .map(|y| {
                (y * self.stride.0 + i * self.dilation.0)
                    .checked_sub(self.padding.0)
                    .filter(|&sy| sy < self.h)
            })
            .collect();
        let off = j * self.dilation.1; // source column of output column xo: xo * s + off - p
        let s = self.stride.1;
        let lo = self.padding.1.saturating_sub(off).div_ceil(s);
        let hi = (self.w + self.padding.1)
            .checked_sub(off)
            .map_or(0, |lim| lim.div_ceil(s))
            .min(ow);
        let hi = hi.max(lo);
        TapRows {
            rows,
            lo,
            hi,
            first: (lo * s + off).saturating_sub(self.padding.1),
        }
    }
}

/// Copies kernel tap `tap` of one image plane `src` (`[h, w]`) into its `oh * ow` column `row`
/// (positions outside the image keep what `row` holds: the padding value).
fn fill_tap<T: Element>(
    row: &mut [T],
    src: &[T],
    tap: &TapRows,
    (w, ow, sx): (usize, usize, usize),
) {
    for (y, sy) in tap.rows.iter().enumerate() {
        let Some(sy) = sy else { continue };
        let out = &mut row[y * ow + tap.lo..y * ow + tap.hi];
        let from = &src[sy * w + tap.first..];
        if sx == 1 {
            out.copy_from_slice(&from[..out.len()]);
        } else {
            out.iter_mut()
                .enumerate()
                .for_each(|(k, o)| *o = from[k * sx]);
        }
    }
}

/// The adjoint of [`fill_tap`]: adds the column `row` of tap `tap` into the image plane `dst`.
fn add_tap<T: Element>(
    dst: &mut [T],
    row: &[T],
    tap: &TapRows,
    (w, ow, sx): (usize, usize, usize),
) {
    for (y, sy) in tap.rows.iter().enumerate() {
        let Some(sy) = sy else { continue };
        let from = &row[y * ow + tap.lo..y * ow + tap.hi];
        let to = &mut dst[sy * w + tap.first..];
        if sx == 1 {
            to[..from.len()]
                .iter_mut()
                .zip(from)
                .for_each(|(d, &v)| *d = *d + v);
        } else {
            from.iter()
                .enumerate()
                .for_each(|(k, &v)| to[k * sx] = to[k * sx] + v);
        }
    }
}

/// `[n, c, h, w]` images -> `[n, c*kh*kw, oh*ow]` columns, outside the image reading `pad`.
pub(crate) fn im2col<T: Element>(x: &[T], n: usize, win: &Window, pad: T) -> Vec<T> {
    let (oh, ow) = win.output_size().expect("checked by caller");
    let (kh, kw) = win.kernel;
    let (l, kk) = (oh * ow, kh * kw);
    let (plane, image) = (win.h * win.w, win.channels * win.h * win.w);
    let taps: Vec<TapRows> = (0..kk).map(|t| win.tap(oh, ow, t / kw, t % kw)).collect();
    let geo = (win.w, ow, win.stride.1);
    let mut cols = vec![pad; n * win.patch_len() * l];
    if cols.is_empty() || plane == 0 {
        return cols;
    }
    crate::threads::warm();
    cols.par_chunks_mut(kk * l)
        .enumerate()
        .for_each(|(nc, block)| {
            let src = &x[(nc / win.channels) * image + (nc % win.channels) * plane..][..plane];
            for (tap, row) in taps.iter().zip(block.chunks_mut(l)) {
                fill_tap(row, src, tap, geo);
            }
        });
    cols
}

/// The adjoint of [`im2col`]: sums columns back into `[n, c, h, w]` images.
pub(crate) fn col2im<T: Element>(cols: &[T], n: usize, win: &Window) -> Vec<T> {
    let (oh, ow) = win.output_size().expect("checked by caller");
    let (kh, kw) = win.kernel;
    let (l, kk) = (oh * ow, kh * kw);
    let taps: Vec<TapRows> = (0..kk).map(|t| win.tap(oh, ow, t / kw, t % kw)).collect();
    let geo = (win.w, ow, win.stride.1);
    let mut x = vec![T::zero(); n * win.channels * win.h * win.w];
    if x.is_empty() || l == 0 {
        return x;
    }
    crate::threads::warm();
    x.par_chunks_mut(win.h * win.w)
        .enumerate()
        .for_each(|(nc, dst)| {
            for (t, tap) in taps.iter().enumerate() {
                add_tap(dst, &cols[(nc * kk + t) * l..][..l], tap, geo);
            }
        });
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, one element at a time.
    fn im2col_reference(x: &[f64], n: usize, win: &Window, pad: f64) -> Vec<f64> {
        let (oh, ow) = win.output_size().unwrap();
        let (kh, kw) = win.kernel;
        let mut cols = Vec::new();
        for nc in 0..n * win.channels {
            for i in 0..kh {
                for j in 0..kw {
                    for y in 0..oh {
                        for xo in 0..ow {
                            cols.push(match win.source(y, xo, i, j) {
                                Some((sy, sx)) => x[nc * win.h * win.w + sy * win.w + sx],
                                None => pad,
                            });
                        }
                    }
                }
            }
        }
        cols
    }

    #[test]
    fn row_kernels_match_the_definition_and_are_adjoint() {
        for (h, w, kernel, stride, padding, dilation) in [
            (5, 6, (3, 2), (1, 1), (0, 0), (1, 1)),
            (7, 5, (3, 3), (2, 3), (1, 2), (1, 1)),
            (6, 7, (2, 3), (1, 2), (2, 1), (2, 2)),
            (4, 4, (5, 5), (1, 1), (2, 2), (1, 1)),
            (3, 9, (1, 4), (3, 1), (0, 3), (1, 3)),
        ] {
            let win = Window {
                channels: 2,
                h,
                w,
                kernel,
                stride,
                padding,
                dilation,
            };
            let x: Vec<f64> = (0..3 * 2 * h * w)
                .map(|v| (v as f64 * 0.37).sin())
                .collect();
            let cols = im2col(&x, 3, &win, -9.0);
            assert_eq!(cols, im2col_reference(&x, 3, &win, -9.0), "{win:?}");
            // <im2col(x), c> == <x, col2im(c)> for the zero-padded im2col
            let c: Vec<f64> = (0..cols.len()).map(|v| (v as f64 * 0.11).cos()).collect();
            let lhs: f64 = im2col(&x, 3, &win, 0.0)
                .iter()
                .zip(&c)
                .map(|(a, b)| a * b)
                .sum();
            let rhs: f64 = x.iter().zip(col2im(&c, 3, &win)).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9, "{win:?}: {lhs} vs {rhs}");
        }
    }
}
