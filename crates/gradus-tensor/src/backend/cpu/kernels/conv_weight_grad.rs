//! The weight gradient of the direct stride-1 convolution (`conv_direct`), without a column
//! matrix: `dw[co, ci, i, j] = sum_{n, y, x} g[n, co, y, x] * xpad[n, ci, y + i*dy, x + j*dx]`.
//!
//! Per image, the padded planes `xpad` are those of the forward kernel and `g` is widened to the
//! padded width (zeros in the discarded columns and past the last row), so each (channel, tap)
//! is a dot product of two contiguous runs; `CB` output channels share each input load.
//! Images are summed in fixed blocks of `BLOCK`, the blocks' partial sums then added in order:
//! the same bits with any thread count.

use super::conv_direct::{pad_image, Plan, CB};
use super::{with_widest_simd, SimdKernel};
use crate::ops::conv::Window;
use crate::Element;
use rayon::prelude::*;

/// Images per parallel task.
const BLOCK: usize = 8;

/// One image's contribution, added into `dw` (`[c_out, c_in * kh * kw]`).
struct Image<'a, T, const L: usize> {
    xp: &'a [T],
    /// `[c_out, wide]` widened output gradient.
    gw: &'a [T],
    /// `[c_out, c_in * kh * kw, L]` running lane sums of the block's images.
    lanes: &'a mut [T],
    taps: &'a [usize],
    plan: Plan,
}

impl<T: Element, const L: usize> Image<'_, T, L> {
    /// Adds this image's products into the lane sums of output channels `co..co + N`.
    #[inline(always)]
    fn channels<const N: usize>(&mut self, co: usize) {
        let p = self.plan;
        let (plane, kk) = (p.hp * p.wp, self.taps.len());
        let patch = p.c_in * kk;
        for q in 0..patch {
            let xq = &self.xp[(q / kk) * plane + self.taps[q % kk]..][..p.wide];
            let mut acc = [[T::zero(); L]; N];
            for (r0, xv) in xq.chunks_exact(L).enumerate() {
                let xv: &[T; L] = xv.try_into().expect("L");
                for (c, a) in acc.iter_mut().enumerate() {
                    let gv: &[T; L] = self.gw[(co + c) * p.wide + r0 * L..][..L]
                        .try_into()
                        .expect("L");
                    for ((a, &g), &x) in a.iter_mut().zip(gv).zip(xv) {
                        *a = *a + g * x;
                    }
                }
            }
            for (c, a) in acc.iter().enumerate() {
                let lanes: &mut [T; L] = (&mut self.lanes[((co + c) * patch + q) * L..][..L])
                    .try_into()
                    .expect("L");
                for l in 0..L {
                    lanes[l] = lanes[l] + a[l];
                }
            }
        }
    }
}

impl<T: Element, const L: usize> SimdKernel for Image<'_, T, L> {
    #[inline(always)]
    fn run(mut self) {
        let c_out = self.gw.len() / self.plan.wide;
        let mut co = 0;
        while co + CB <= c_out {
            self.channels::<CB>(co);
            co += CB;
        }
        if co + 2 <= c_out {
            self.channels::<2>(co);
            co += 2;
        }
        if co < c_out {
            self.channels::<1>(co);
        }
    }
}

/// Weight gradient of the stride-1 convolution of `[n, c_in, h, w]` images `x` whose output
/// gradient is `g` (`[n, c_out, oh, ow]`): `[c_out, c_in, kh, kw]`.
pub(crate) fn conv2d_weight_grad<T: Element>(
    x: &[T],
    g: &[T],
    n: usize,
    c_out: usize,
    win: &Window,
) -> Vec<T> {
    debug_assert_eq!(win.stride, (1, 1));
    if std::mem::size_of::<T>() == 4 {
        run::<T, 16>(x, g, n, c_out, win)
    } else {
        run::<T, 8>(x, g, n, c_out, win)
    }
}

fn run<T: Element, const L: usize>(
    x: &[T],
    g: &[T],
    n: usize,
    c_out: usize,
    win: &Window,
) -> Vec<T> {
    let plan = Plan::new(win, L);
    let patch = win.channels * win.kernel.0 * win.kernel.1;
    let (image, out) = (win.channels * win.h * win.w, c_out * plan.oh * plan.ow);
    if n == 0 || patch == 0 || c_out == 0 || out == 0 {
        return vec![T::zero(); c_out * patch];
    }
    let taps = plan.tap_offsets();
    let partials: Vec<Vec<T>> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|blk| {
            let mut lanes = vec![T::zero(); c_out * patch * L];
            let mut xp = vec![T::zero(); plan.padded_len()];
            let mut gw = vec![T::zero(); c_out * plan.wide];
            for b in blk * BLOCK..((blk + 1) * BLOCK).min(n) {
                pad_image(&mut xp, &x[b * image..][..image], win, &plan);
                let gb = &g[b * out..][..out];
                for co in 0..c_out {
                    for y in 0..plan.oh {
                        let to = co * plan.wide + y * plan.wp;
                        gw[to..to + plan.ow]
                            .copy_from_slice(&gb[(co * plan.oh + y) * plan.ow..][..plan.ow]);
                    }
                }
                with_widest_simd(Image::<T, L> {
                    xp: &xp,
                    gw: &gw,
                    lanes: &mut lanes,
                    taps: &taps,
                    plan,
                });
            }
            // each weight's lanes added in lane order
            let dw: Vec<T> = lanes
                .chunks_exact(L)
                .map(|v| v.iter().fold(T::zero(), |s, &x| s + x))
                .collect();
            dw
        })
        .collect();
    let mut dw = vec![T::zero(); c_out * patch];
    for part in &partials {
        dw.iter_mut().zip(part).for_each(|(d, &v)| *d = *d + v);
    }
    dw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_definition_over_geometries() {
        // (n, c_in, c_out, h, w, kernel, padding, dilation)
        let cases = [
            (2, 1, 6, 9, 11, (5, 5), (2, 2), (1, 1)),
            (9, 6, 16, 14, 14, (5, 5), (0, 0), (1, 1)),
            (3, 3, 7, 7, 5, (3, 3), (1, 1), (1, 1)),
            (1, 2, 3, 8, 9, (3, 2), (2, 0), (2, 3)),
            (2, 5, 1, 6, 6, (1, 1), (0, 0), (1, 1)),
        ];
        for (n, ci, co, h, w, kernel, padding, dilation) in cases {
            let win = Window {
                channels: ci,
                h,
                w,
                kernel,
                stride: (1, 1),
                padding,
                dilation,
            };
            let (oh, ow) = win.output_size().unwrap();
            let x: Vec<f64> = (0..n * ci * h * w)
                .map(|i| ((i * 37) % 23) as f64 - 11.0)
                .collect();
            let g: Vec<f64> = (0..n * co * oh * ow)
                .map(|i| ((i * 13) % 17) as f64 / 8.0 - 1.0)
                .collect();
            let (kh, kw) = kernel;
            let mut want = vec![0.0; co * ci * kh * kw];
            for b in 0..n {
                for o in 0..co {
                    for c in 0..ci {
                        for i in 0..kh {
                            for j in 0..kw {
                                for yy in 0..oh {
                                    for xx in 0..ow {
                                        let sy =
                                            (yy + i * dilation.0) as isize - padding.0 as isize;
                                        let sx =
                                            (xx + j * dilation.1) as isize - padding.1 as isize;
                                        if sy < 0 || sx < 0 || sy >= h as isize || sx >= w as isize
                                        {
                                            continue;
                                        }
                                        let xi = ((b * ci + c) * h + sy as usize) * w + sx as usize;
                                        want[((o * ci + c) * kh + i) * kw + j] +=
                                            g[((b * co + o) * oh + yy) * ow + xx] * x[xi];
                                    }
                                }
                            }
                        }
                    }
                }
            }
            // integers times eighths: exact in either order
            assert_eq!(conv2d_weight_grad(&x, &g, n, co, &win), want, "{win:?}");
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let g32: Vec<f32> = g.iter().map(|&v| v as f32).collect();
            let got: Vec<f64> = conv2d_weight_grad(&x32, &g32, n, co, &win)
                .iter()
                .map(|&v| v as f64)
                .collect();
            assert_eq!(got, want, "f32 {win:?}");
        }
    }
}
