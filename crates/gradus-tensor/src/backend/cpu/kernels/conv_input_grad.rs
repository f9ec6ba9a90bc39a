//! The input gradient of the direct stride-1 convolution (`conv_direct`), summed only where the
//! output gradient holds data: `dx[ci, y, x] = sum_{co, i, j} w[co, ci, i, j] * g[co, y + p - i*d,
//! x + p - j*d]` over the `(y + p - i*d, x + p - j*d)` inside `g`.
//!
//! The forward kernel reads padded position `r + o_t` for wide output `r` and tap offset `o_t`
//! (`conv_direct::Plan`); this is its adjoint on the same plan: every tap scatters
//! `sum_co w[co, ci, t] * gw[co, r]` (`gw` the output gradient widened to the padded width, zeros
//! in the discarded columns) into padded position `r + o_t`, and the padded planes' interiors are
//! then copied out. Only the wide runs of `g` are multiplied (for LeNet's second layer 144
//! positions per tap, where the forward kernel run on `g` padded by `k - 1` computed 256, most
//! of them products with the padding's zeros).
//!
//! Summation order per input position: kernel row, then kernel column (each tap's sum over
//! output channels, in channel order, added once), the channel sums with one rounding per
//! product (fused multiply-add) on CPUs whose vector level has it. It depends on neither the
//! channel blocking nor the thread count (images run in parallel, each one on its own).

#[cfg(target_arch = "x86_64")]
use super::conv_direct::{as_f32, as_f32_mut};
use super::conv_direct::{
    channel_blocks, dispatch_channels, madd, Blocking, Plan, PORTABLE_CHANNELS,
};
#[cfg(target_arch = "x86_64")]
use super::conv_direct_avx512 as avx512;
use super::{with_widest_simd, SimdKernel};
use crate::ops::conv::Window;
use crate::Element;
use rayon::prelude::*;

impl Plan {
    /// Stride of one padded plane of the scattered input gradient: the wide run plus the reach
    /// of the last tap (at least a plane, so the planes do not overlap).
    pub(super) fn scatter_stride(&self) -> usize {
        let (kh, kw) = self.kernel;
        let reach = (kh - 1) * self.dilation.0 * self.wp + (kw - 1) * self.dilation.1;
        self.wide + reach
    }
}

/// One image: `gw` the widened output gradient `[c_out, wide]`, `w` the weights
/// `[c_out, c_in * kh * kw]`, `dxp` the padded input gradient `[c_in, scatter_stride]` (zeroed
/// by the caller).
struct Image<'a, T, const L: usize, const F: bool> {
    gw: &'a [T],
    w: &'a [T],
    dxp: &'a mut [T],
    taps: &'a [usize],
    plan: Plan,
}

impl<T: Element, const L: usize, const F: bool> Image<'_, T, L, F> {
    /// Input channels `ci..ci + N`: for every tap and wide block, the channel sum of the block's
    /// output-gradient runs, each added into the padded planes at the tap's offset.
    #[inline(always)]
    fn channels<const N: usize>(&mut self, ci: usize) {
        let p = self.plan;
        let (kk, stride) = (self.taps.len(), p.scatter_stride());
        let patch = p.c_in * kk;
        let c_out = self.gw.len() / p.wide;
        for (t, &o) in self.taps.iter().enumerate() {
            for r0 in (0..p.wide).step_by(L) {
                let mut acc = [[T::zero(); L]; N];
                for co in 0..c_out {
                    let gv: &[T; L] = self.gw[co * p.wide + r0..][..L].try_into().expect("L");
                    for (c, a) in acc.iter_mut().enumerate() {
                        let w = self.w[co * patch + (ci + c) * kk + t];
                        for l in 0..L {
                            a[l] = madd::<T, F>(a[l], w, gv[l]);
                        }
                    }
                }
                for (c, a) in acc.iter().enumerate() {
                    let dst: &mut [T; L] = (&mut self.dxp[(ci + c) * stride + o + r0..][..L])
                        .try_into()
                        .expect("L");
                    for l in 0..L {
                        dst[l] = dst[l] + a[l];
                    }
                }
            }
        }
    }
}

impl<T: Element, const L: usize, const F: bool> SimdKernel for Image<'_, T, L, F> {
    #[inline(always)]
    fn run(mut self) {
        for (ci, n) in channel_blocks(self.plan.c_in, PORTABLE_CHANNELS) {
            dispatch_channels!(n, self, channels(ci));
        }
    }
}

/// Scatters one image's products into `dxp` with `blocking`.
fn run_image<T: Element, const L: usize>(
    gw: &[T],
    w: &[T],
    dxp: &mut [T],
    taps: &[usize],
    plan: Plan,
    blocking: Blocking,
) {
    #[cfg(target_arch = "x86_64")]
    if blocking.explicit::<T>() {
        debug_assert_eq!(L, avx512::LANES);
        let blocks = channel_blocks(plan.c_in, avx512::MAX_CHANNELS);
        // SAFETY: `explicit` only when the CPU has AVX-512F
        return unsafe {
            avx512::input_grad(as_f32(gw), as_f32(w), as_f32_mut(dxp), taps, &plan, blocks)
        };
    }
    match blocking.fused {
        true => with_widest_simd(Image::<T, L, true> {
            gw,
            w,
            dxp,
            taps,
            plan,
        }),
        false => with_widest_simd(Image::<T, L, false> {
            gw,
            w,
            dxp,
            taps,
            plan,
        }),
    }
}

/// Input gradient `[n, c_in, h, w]` of the stride-1 convolution by `[c_out, c_in, kh, kw]`
/// weights `w` whose output gradient is `g` (`[n, c_out, oh, ow]`), geometry `win` (that of the
/// input). Images run in parallel.
pub(crate) fn conv2d_input_grad<T: Element>(
    g: &[T],
    w: &[T],
    n: usize,
    c_out: usize,
    win: &Window,
) -> Vec<T> {
    input_grad_blocked(g, w, n, c_out, win, Blocking::of_cpu())
}

/// [`conv2d_input_grad`] with a given blocking.
fn input_grad_blocked<T: Element>(
    g: &[T],
    w: &[T],
    n: usize,
    c_out: usize,
    win: &Window,
    blocking: Blocking,
) -> Vec<T> {
    debug_assert_eq!(win.stride, (1, 1));
    if std::mem::size_of::<T>() == 4 {
        run::<T, 16>(g, w, n, c_out, win, blocking)
    } else {
        run::<T, 8>(g, w, n, c_out, win, blocking)
    }
}

fn run<T: Element, const L: usize>(
    g: &[T],
    w: &[T],
    n: usize,
    c_out: usize,
    win: &Window,
    blocking: Blocking,
) -> Vec<T> {
    let plan = Plan::new(win, L);
    let (image, out) = (win.channels * win.h * win.w, c_out * plan.oh * plan.ow);
    let mut dx = vec![T::zero(); n * image];
    if dx.is_empty() || out == 0 {
        return dx;
    }
    let (taps, stride) = (plan.tap_offsets(), plan.scatter_stride());
    let (ph, pw) = win.padding;
    crate::threads::warm();
    dx.par_chunks_mut(image).enumerate().for_each_init(
        || {
            (
                vec![T::zero(); c_out * plan.wide],
                vec![T::zero(); win.channels * stride],
            )
        },
        |(gw, dxp), (b, dst)| {
            let gb = &g[b * out..][..out];
            for co in 0..c_out {
                for y in 0..plan.oh {
                    let to = co * plan.wide + y * plan.wp;
                    gw[to..to + plan.ow]
                        .copy_from_slice(&gb[(co * plan.oh + y) * plan.ow..][..plan.ow]);
                }
            }
            dxp.fill(T::zero());
            run_image::<T, L>(gw, w, dxp, &taps, plan, blocking);
            for c in 0..win.channels {
                for y in 0..win.h {
                    let from = c * stride + (y + ph) * plan.wp + pw;
                    dst[(c * win.h + y) * win.w..][..win.w].copy_from_slice(&dxp[from..][..win.w]);
                }
            }
        },
    );
    dx
}

#[cfg(test)]
mod tests {
    use super::super::conv_direct::tests::{blockings, noise};
    use super::*;

    /// The definition: for every input position, the products of the weights and the output
    /// gradient positions that read it.
    fn reference(g: &[f64], w: &[f64], n: usize, c_out: usize, win: &Window) -> Vec<f64> {
        let (oh, ow) = win.output_size().unwrap();
        let ((kh, kw), (c, h, wd)) = (win.kernel, (win.channels, win.h, win.w));
        let mut dx = vec![0.0; n * c * h * wd];
        for b in 0..n {
            for co in 0..c_out {
                for yy in 0..oh {
                    for xx in 0..ow {
                        let gv = g[((b * c_out + co) * oh + yy) * ow + xx];
                        for ci in 0..c {
                            for i in 0..kh {
                                for j in 0..kw {
                                    let sy = (yy + i * win.dilation.0).wrapping_sub(win.padding.0);
                                    let sx = (xx + j * win.dilation.1).wrapping_sub(win.padding.1);
                                    if sy < h && sx < wd {
                                        dx[((b * c + ci) * h + sy) * wd + sx] +=
                                            w[((co * c + ci) * kh + i) * kw + j] * gv;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        dx
    }

    /// The input gradient summed in the kernel's order, each product added by `madd::<F>`: per
    /// input position, per tap in order whose output position `r = s - o_t` is a wide
    /// position, the channel sum (from zero, channels in order), added once.
    fn ordered<const F: bool>(g: &[f32], w: &[f32], n: usize, co: usize, win: &Window) -> Vec<f32> {
        const L: usize = 16;
        let plan = Plan::new(win, L);
        let taps = plan.tap_offsets();
        let ((c, h, wd), kk) = ((win.channels, win.h, win.w), taps.len());
        let out = co * plan.oh * plan.ow;
        let gw = |b: usize, k: usize, r: usize| {
            let (y, x) = (r / plan.wp, r % plan.wp);
            match y < plan.oh && x < plan.ow {
                true => g[b * out + (k * plan.oh + y) * plan.ow + x],
                false => 0.0,
            }
        };
        let mut dx = vec![0.0f32; n * c * h * wd];
        for (e, v) in dx.iter_mut().enumerate() {
            let (b, ci, y, x) = (e / (c * h * wd), e / (h * wd) % c, e / wd % h, e % wd);
            let s = (y + win.padding.0) * plan.wp + x + win.padding.1;
            let mut sum = 0.0f32;
            for (t, &o) in taps.iter().enumerate() {
                let Some(r) = s.checked_sub(o).filter(|&r| r < plan.wide) else {
                    continue;
                };
                let mut acc = 0.0f32;
                for k in 0..co {
                    acc = madd::<f32, F>(acc, w[(k * c + ci) * kk + t], gw(b, k, r));
                }
                sum += acc;
            }
            *v = sum;
        }
        dx
    }

    /// (n, c_in, c_out, h, w, kernel, padding, dilation)
    type Case = (
        usize,
        usize,
        usize,
        usize,
        usize,
        (usize, usize),
        (usize, usize),
        (usize, usize),
    );

    /// LeNet's layers, odd sizes, padding up to `k - 1`, dilation, channel counts that are not
    /// whole blocks, a 1x1 kernel.
    const CASES: [Case; 7] = [
        (2, 6, 16, 14, 14, (5, 5), (0, 0), (1, 1)),
        (2, 1, 6, 28, 28, (5, 5), (2, 2), (1, 1)),
        (3, 3, 7, 7, 5, (3, 3), (1, 1), (1, 1)),
        (1, 2, 3, 8, 9, (3, 2), (2, 0), (2, 3)),
        (2, 11, 5, 9, 6, (4, 3), (3, 2), (1, 1)),
        (1, 9, 13, 5, 7, (2, 5), (1, 4), (1, 1)),
        (2, 5, 1, 6, 6, (1, 1), (0, 0), (1, 1)),
    ];

    fn window(
        c: usize,
        h: usize,
        w: usize,
        kernel: (usize, usize),
        padding: (usize, usize),
        dilation: (usize, usize),
    ) -> Window {
        Window {
            channels: c,
            h,
            w,
            kernel,
            stride: (1, 1),
            padding,
            dilation,
        }
    }

    #[test]
    fn matches_the_definition_over_geometries() {
        for (n, ci, co, h, w, kernel, padding, dilation) in CASES {
            let win = window(ci, h, w, kernel, padding, dilation);
            let (oh, ow) = win.output_size().unwrap();
            let g: Vec<f64> = (0..n * co * oh * ow)
                .map(|i| ((i * 37) % 23) as f64 - 11.0)
                .collect();
            let wt: Vec<f64> = (0..co * ci * kernel.0 * kernel.1)
                .map(|i| ((i * 13) % 17) as f64 / 8.0 - 1.0)
                .collect();
            let want = reference(&g, &wt, n, co, &win);
            // integers and eighths: exact in either order
            assert_eq!(conv2d_input_grad(&g, &wt, n, co, &win), want, "{win:?}");
            let g32: Vec<f32> = g.iter().map(|&v| v as f32).collect();
            let w32: Vec<f32> = wt.iter().map(|&v| v as f32).collect();
            for blocking in blockings() {
                let got: Vec<f64> = input_grad_blocked(&g32, &w32, n, co, &win, blocking)
                    .iter()
                    .map(|&v| v as f64)
                    .collect();
                assert_eq!(got, want, "f32 {win:?} {blocking:?}");
            }
        }
    }

    #[test]
    fn every_blocking_gives_the_bits_of_the_ordered_sum() {
        for (n, ci, co, h, w, kernel, padding, dilation) in CASES {
            let win = window(ci, h, w, kernel, padding, dilation);
            let (oh, ow) = win.output_size().unwrap();
            let g = noise(n * co * oh * ow, 1);
            let wt = noise(co * ci * kernel.0 * kernel.1, 2);
            for blocking in blockings() {
                let want = match blocking.fused {
                    true => ordered::<true>(&g, &wt, n, co, &win),
                    false => ordered::<false>(&g, &wt, n, co, &win),
                };
                let got = input_grad_blocked(&g, &wt, n, co, &win, blocking);
                let bits = |v: &[f32]| v.iter().map(|t| t.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "{win:?} {blocking:?}");
            }
        }
    }
}
