//! The weight gradient of the direct stride-1 convolution (`conv_direct`), without a column
//! matrix: `dw[co, ci, i, j] = sum_{n, y, x} g[n, co, y, x] * xpad[n, ci, y + i*dy, x + j*dx]`.
//!
//! Per image, the padded planes `xpad` are those of the forward kernel and `g` is widened to the
//! padded width (zeros in the discarded columns and past the last row), so each (channel, tap)
//! is a dot product of two contiguous runs; a block of output channels shares each input load
//! (and, on AVX-512, each output-gradient load serves two taps).
//! Images are summed in fixed blocks of `BLOCK`, the blocks' partial sums then added in order:
//! the same bits with any thread count.

#[cfg(target_arch = "x86_64")]
use super::conv_direct::{as_f32, as_f32_mut};
use super::conv_direct::{
    channel_blocks, dispatch_channels, madd, pad_image, Blocking, Plan, PORTABLE_CHANNELS,
};
#[cfg(target_arch = "x86_64")]
use super::conv_direct_avx512 as avx512;
use super::{with_widest_simd, SimdKernel};
use crate::ops::conv::Window;
use crate::Element;
use rayon::prelude::*;

/// Images per parallel task.
const BLOCK: usize = 8;

/// One image's contribution, added into `dw` (`[c_out, c_in * kh * kw]`).
struct Image<'a, T, const L: usize, const F: bool> {
    xp: &'a [T],
    /// `[c_out, wide]` widened output gradient.
    gw: &'a [T],
    /// `[c_out, c_in * kh * kw, L]` running lane sums of the block's images.
    lanes: &'a mut [T],
    taps: &'a [usize],
    plan: Plan,
}

impl<T: Element, const L: usize, const F: bool> Image<'_, T, L, F> {
    /// Adds this image's products into the lane sums of output channels `co..co + N`: each
    /// input run loaded once for `N` channels.
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
                        *a = madd::<T, F>(*a, g, x);
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

impl<T: Element, const L: usize, const F: bool> SimdKernel for Image<'_, T, L, F> {
    #[inline(always)]
    fn run(mut self) {
        let c_out = self.gw.len() / self.plan.wide;
        for (co, n) in channel_blocks(c_out, PORTABLE_CHANNELS) {
            dispatch_channels!(n, self, channels(co));
        }
    }
}

/// Adds one image's products into `lanes` with `blocking`.
fn run_image<T: Element, const L: usize>(
    xp: &[T],
    gw: &[T],
    lanes: &mut [T],
    taps: &[usize],
    plan: Plan,
    blocking: Blocking,
) {
    #[cfg(target_arch = "x86_64")]
    if blocking.explicit::<T>() {
        debug_assert_eq!(L, avx512::LANES);
        let blocks = channel_blocks(gw.len() / plan.wide, avx512::MAX_CHANNELS);
        // SAFETY: `explicit` only when the CPU has AVX-512F
        return unsafe {
            avx512::weight_grad(
                as_f32(xp),
                as_f32(gw),
                as_f32_mut(lanes),
                taps,
                &plan,
                blocks,
            )
        };
    }
    match blocking.fused {
        true => with_widest_simd(Image::<T, L, true> {
            xp,
            gw,
            lanes,
            taps,
            plan,
        }),
        false => with_widest_simd(Image::<T, L, false> {
            xp,
            gw,
            lanes,
            taps,
            plan,
        }),
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
    weight_grad_blocked(x, g, n, c_out, win, Blocking::of_cpu())
}

/// [`conv2d_weight_grad`] with a given blocking.
fn weight_grad_blocked<T: Element>(
    x: &[T],
    g: &[T],
    n: usize,
    c_out: usize,
    win: &Window,
    blocking: Blocking,
) -> Vec<T> {
    debug_assert_eq!(win.stride, (1, 1));
    if std::mem::size_of::<T>() == 4 {
        run::<T, 16>(x, g, n, c_out, win, blocking)
    } else {
        run::<T, 8>(x, g, n, c_out, win, blocking)
    }
}

fn run<T: Element, const L: usize>(
    x: &[T],
    g: &[T],
    n: usize,
    c_out: usize,
    win: &Window,
    blocking: Blocking,
) -> Vec<T> {
    let plan = Plan::new(win, L);
    let patch = win.channels * win.kernel.0 * win.kernel.1;
    let (image, out) = (win.channels * win.h * win.w, c_out * plan.oh * plan.ow);
    if n == 0 || patch == 0 || c_out == 0 || out == 0 {
        return vec![T::zero(); c_out * patch];
    }
    let taps = plan.tap_offsets();
    crate::threads::warm();
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
                run_image::<T, L>(&xp, &gw, &mut lanes, &taps, plan, blocking);
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
    use super::super::conv_direct::tests::{blockings, noise};
    use super::*;

    /// The weight gradient summed in the kernel's order, each product added by `madd::<F>`:
    /// per block of `BLOCK` images, per lane `l`, the positions `l, l + L, ...` of every image's
    /// widened runs; then the lanes in order, then the blocks in order.
    fn ordered<const F: bool>(x: &[f32], g: &[f32], n: usize, co: usize, win: &Window) -> Vec<f32> {
        const L: usize = 16;
        let plan = Plan::new(win, L);
        let taps = plan.tap_offsets();
        let (kk, plane) = (taps.len(), plan.hp * plan.wp);
        let patch = win.channels * kk;
        let (image, out) = (win.channels * win.h * win.w, co * plan.oh * plan.ow);
        let mut dw = vec![0.0f32; co * patch];
        for blk in 0..n.div_ceil(BLOCK) {
            let mut lanes = vec![[0.0f32; L]; co * patch];
            for b in blk * BLOCK..((blk + 1) * BLOCK).min(n) {
                let mut xp = vec![0.0; plan.padded_len()];
                pad_image(&mut xp, &x[b * image..][..image], win, &plan);
                // g widened: position y * wp + x holds g[y, x] for x < ow, else zero
                let gw = |c: usize, r: usize| {
                    let (y, xx) = (r / plan.wp, r % plan.wp);
                    match y < plan.oh && xx < plan.ow {
                        true => g[b * out + (c * plan.oh + y) * plan.ow + xx],
                        false => 0.0,
                    }
                };
                for c in 0..co {
                    for q in 0..patch {
                        let start = (q / kk) * plane + taps[q % kk];
                        for (l, lane) in lanes[c * patch + q].iter_mut().enumerate() {
                            let mut acc = 0.0;
                            for r in (l..plan.wide).step_by(L) {
                                acc = madd::<f32, F>(acc, gw(c, r), xp[start + r]);
                            }
                            *lane += acc;
                        }
                    }
                }
            }
            for (d, v) in dw.iter_mut().zip(&lanes) {
                *d += v.iter().fold(0.0, |s, &t| s + t);
            }
        }
        dw
    }

    #[test]
    fn every_blocking_gives_the_bits_of_the_ordered_sum() {
        // (n, c_in, c_out, h, w, kernel, padding, dilation): LeNet's layers (batch over two
        // blocks), odd sizes
        let cases = [
            (10, 6, 16, 14, 14, (5, 5), (0, 0), (1, 1)),
            (3, 1, 6, 28, 28, (5, 5), (2, 2), (1, 1)),
            (2, 3, 13, 9, 7, (3, 2), (1, 0), (2, 3)),
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
            let x = noise(n * ci * h * w, 3);
            let g = noise(n * co * oh * ow, 4);
            for blocking in blockings() {
                let want = match blocking.fused {
                    true => ordered::<true>(&x, &g, n, co, &win),
                    false => ordered::<false>(&x, &g, n, co, &win),
                };
                let got = weight_grad_blocked(&x, &g, n, co, &win, blocking);
                let bits = |v: &[f32]| v.iter().map(|t| t.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "{win:?} {blocking:?}");
            }
        }
    }

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
