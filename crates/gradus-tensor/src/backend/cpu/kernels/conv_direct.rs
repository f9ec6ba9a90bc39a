//! Direct (im2col-free) stride-1 convolution for small channel counts (LeNet-sized layers).
//!
//! Each image is copied once into a zero-padded plane per channel (`[c_in, hp, wp]`). Output
//! position `(y, x)` of tap `(i, j)` then reads padded position `(y + i*dy, x + j*dx)`, so over the
//! "wide" output index `r = y * wp + x` (every padded column, the last `wp - ow` of each row
//! discarded) every tap is one contiguous run of the padded input at offset `i*dy*wp + j*dx`.
//! The kernel keeps a block of `L` wide positions of a few output channels (up to 8 on AVX-512,
//! 4 otherwise: `Blocking`) in registers and adds `weight * input run` for every input channel
//! and tap, then writes the valid columns out: one vector load and one multiply-add per channel
//! per tap, no column matrix. Summation order per output: input channel, then kernel row, then
//! kernel column, each product added with one rounding (fused multiply-add) on CPUs whose
//! vector level has it, two otherwise; so results depend on the CPU, never on the thread count
//! or the channel blocking (the im2col GEMM adds the same products in its own order, so results
//! agree to rounding, not bit for bit).

#[cfg(target_arch = "x86_64")]
use super::conv_direct_avx512 as avx512;
use super::{with_widest_simd, SimdKernel};
use crate::backend::cpu::simd::{widest_level, Level};
use crate::ops::conv::Window;
use crate::Element;
use rayon::prelude::*;
#[cfg(target_arch = "x86_64")]
use std::any::TypeId;
use std::mem::MaybeUninit;

/// Geometry of one image's padded copy and wide output.
#[derive(Clone, Copy, Debug)]
pub(super) struct Plan {
    pub(super) c_in: usize,
    pub(super) kernel: (usize, usize),
    pub(super) dilation: (usize, usize),
    /// Padded plane height and width.
    pub(super) hp: usize,
    pub(super) wp: usize,
    pub(super) oh: usize,
    pub(super) ow: usize,
    /// Wide output positions, rounded up to whole blocks of `L`.
    pub(super) wide: usize,
}

impl Plan {
    pub(super) fn new(win: &Window, lanes: usize) -> Plan {
        let (oh, ow) = win.output_size().expect("checked by caller");
        let wp = win.w + 2 * win.padding.1;
        Plan {
            c_in: win.channels,
            kernel: win.kernel,
            dilation: win.dilation,
            hp: win.h + 2 * win.padding.0,
            wp,
            oh,
            ow,
            wide: (oh * wp).div_ceil(lanes) * lanes,
        }
    }

    /// Length of the padded copy: every plane, plus the slack the last block's taps read.
    pub(super) fn padded_len(&self) -> usize {
        let (kh, kw) = self.kernel;
        let reach = (kh - 1) * self.dilation.0 * self.wp + (kw - 1) * self.dilation.1;
        ((self.c_in - 1) * self.hp * self.wp + reach + self.wide).max(self.c_in * self.hp * self.wp)
    }

    /// Offset in a padded plane of each tap, row-major over the kernel.
    pub(super) fn tap_offsets(&self) -> Vec<usize> {
        let (kh, kw) = self.kernel;
        (0..kh * kw)
            .map(|t| (t / kw) * self.dilation.0 * self.wp + (t % kw) * self.dilation.1)
            .collect()
    }
}

/// Copies `[c, h, w]` image `x` into zero-padded planes `[c, hp, wp]` (`dst` pre-zeroed, longer
/// than the planes by the slack).
pub(super) fn pad_image<T: Element>(dst: &mut [T], x: &[T], win: &Window, plan: &Plan) {
    let (h, w) = (win.h, win.w);
    let (ph, pw) = win.padding;
    for c in 0..plan.c_in {
        for y in 0..h {
            let to = c * plan.hp * plan.wp + (y + ph) * plan.wp + pw;
            dst[to..to + w].copy_from_slice(&x[(c * h + y) * w..][..w]);
        }
    }
}

/// How the kernels run on this CPU: with fused multiply-adds or not (changes the rounding of
/// each product, so it is fixed per CPU, never per call or thread count), and whether the
/// AVX-512 f32 blocks (`conv_direct_avx512`: 8 output channels per block, the same bits as the
/// portable fused path) run.
#[derive(Clone, Copy, Debug)]
pub(super) struct Blocking {
    pub(super) fused: bool,
    /// Only ever true from [`Blocking::of_cpu`] on a CPU with AVX-512F.
    pub(super) avx512: bool,
}

impl Blocking {
    /// This CPU's: fused where the widest vector level has FMA.
    pub(super) fn of_cpu() -> Blocking {
        let level = widest_level();
        Blocking {
            fused: level.has_fma(),
            avx512: level == Level::Avx512,
        }
    }

    /// Whether `T` runs the AVX-512 f32 blocks.
    #[cfg(target_arch = "x86_64")]
    pub(super) fn explicit<T: 'static>(self) -> bool {
        self.avx512 && self.fused && TypeId::of::<T>() == TypeId::of::<f32>()
    }
}

/// Splits `c_out` channels into blocks of at most `max` (register blocks of the kernels), as
/// even as possible: `(first channel, count)`.
pub(super) fn channel_blocks(c_out: usize, max: usize) -> impl Iterator<Item = (usize, usize)> {
    let count = c_out.div_ceil(max);
    (0..count).map(move |b| {
        let (lo, hi) = (b * c_out / count, (b + 1) * c_out / count);
        (lo, hi - lo)
    })
}

/// Output channels per register block of the portable kernels: 4 blocks of `L` lanes (8
/// registers of AVX2, 16 of SSE).
pub(super) const PORTABLE_CHANNELS: usize = 4;

/// Casts a slice of `T` known to be `f32` (checked) to `&[f32]`.
#[cfg(target_arch = "x86_64")]
pub(super) fn as_f32<T: 'static>(v: &[T]) -> &[f32] {
    assert_eq!(TypeId::of::<T>(), TypeId::of::<f32>());
    // SAFETY: T is f32 (checked just above)
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast(), v.len()) }
}

/// Casts a mutable slice of possibly uninitialized `T` known to be `f32` (checked) to
/// `&mut [MaybeUninit<f32>]`.
#[cfg(target_arch = "x86_64")]
pub(super) fn as_f32_uninit<T: 'static>(v: &mut [MaybeUninit<T>]) -> &mut [MaybeUninit<f32>] {
    assert_eq!(TypeId::of::<T>(), TypeId::of::<f32>());
    // SAFETY: T is f32 (checked just above)
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast(), v.len()) }
}

/// Casts a mutable slice of `T` known to be `f32` (checked) to `&mut [f32]`.
#[cfg(target_arch = "x86_64")]
pub(super) fn as_f32_mut<T: 'static>(v: &mut [T]) -> &mut [f32] {
    assert_eq!(TypeId::of::<T>(), TypeId::of::<f32>());
    // SAFETY: T is f32 (checked just above)
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast(), v.len()) }
}

/// `acc + a * b`: one rounding (`mul_add`) when `F`, two otherwise.
#[inline(always)]
pub(super) fn madd<T: Element, const F: bool>(acc: T, a: T, b: T) -> T {
    if F {
        a.mul_add(b, acc)
    } else {
        acc + a * b
    }
}

/// Calls `$obj.$method::<N>(args)` for a block of `$n` (1 to 4) output channels.
macro_rules! dispatch_channels {
    ($n:expr, $obj:expr, $method:ident($($arg:expr),*)) => {
        match $n {
            1 => $obj.$method::<1>($($arg),*),
            2 => $obj.$method::<2>($($arg),*),
            3 => $obj.$method::<3>($($arg),*),
            4 => $obj.$method::<4>($($arg),*),
            n => unreachable!("block of {n} channels"),
        }
    };
}
pub(super) use dispatch_channels;

/// One image: `xp` padded planes, `w` the weights `[c_out, c_in * kh * kw]`, `y` the
/// `[c_out, oh * ow]` output (every element written, none read: it may be uninitialized).
struct Image<'a, T, const L: usize, const F: bool> {
    xp: &'a [T],
    w: &'a [T],
    y: &'a mut [MaybeUninit<T>],
    taps: &'a [usize],
    plan: Plan,
}

impl<T: Element, const L: usize, const F: bool> Image<'_, T, L, F> {
    /// Output channels `co..co + N` over every wide block. Allocates nothing: the weights are read
    /// in place and each tap's offset is computed as it is used.
    #[inline(always)]
    fn channels<const N: usize>(&mut self, co: usize) {
        let im = self;
        let p = im.plan;
        let (plane, kk) = (p.hp * p.wp, im.taps.len());
        let patch = p.c_in * kk;
        // the block's weight rows, each `[patch]`
        let rows: [&[T]; N] = std::array::from_fn(|c| &im.w[(co + c) * patch..][..patch]);
        for r0 in (0..p.wide).step_by(L) {
            let mut acc = [[T::zero(); L]; N];
            let xr = &im.xp[r0..];
            for ci in 0..p.c_in {
                let xc = &xr[ci * plane..];
                for (t, &o) in im.taps.iter().enumerate() {
                    let q = ci * kk + t;
                    let xv: &[T; L] = xc[o..o + L].try_into().expect("L");
                    for c in 0..N {
                        let w = rows[c][q];
                        for l in 0..L {
                            acc[c][l] = madd::<T, F>(acc[c][l], w, xv[l]);
                        }
                    }
                }
            }
            for (c, a) in acc.iter().enumerate() {
                let out = &mut im.y[(co + c) * p.oh * p.ow..][..p.oh * p.ow];
                let (mut yy, mut xx) = (r0 / p.wp, r0 % p.wp);
                for &v in a {
                    if yy >= p.oh {
                        break;
                    }
                    if xx < p.ow {
                        out[yy * p.ow + xx].write(v);
                    }
                    xx += 1;
                    if xx == p.wp {
                        (yy, xx) = (yy + 1, 0);
                    }
                }
            }
        }
    }
}

impl<T: Element, const L: usize, const F: bool> SimdKernel for Image<'_, T, L, F> {
    #[inline(always)]
    fn run(mut self) {
        let c_out = self.y.len() / (self.plan.oh * self.plan.ow);
        for (co, n) in channel_blocks(c_out, PORTABLE_CHANNELS) {
            dispatch_channels!(n, self, channels(co));
        }
    }
}

/// Runs the forward kernel on one padded image with `blocking`, writing every element of `y`.
fn run_image<T: Element, const L: usize>(
    xp: &[T],
    w: &[T],
    y: &mut [MaybeUninit<T>],
    taps: &[usize],
    plan: Plan,
    blocking: Blocking,
) {
    #[cfg(target_arch = "x86_64")]
    if blocking.explicit::<T>() {
        debug_assert_eq!(L, avx512::LANES);
        let blocks = channel_blocks(y.len() / (plan.oh * plan.ow), avx512::MAX_CHANNELS);
        // SAFETY: `explicit` only when the CPU has AVX-512F
        return unsafe {
            avx512::forward(as_f32(xp), as_f32(w), as_f32_uninit(y), taps, &plan, blocks)
        };
    }
    match blocking.fused {
        true => with_widest_simd(Image::<T, L, true> {
            xp,
            w,
            y,
            taps,
            plan,
        }),
        false => with_widest_simd(Image::<T, L, false> {
            xp,
            w,
            y,
            taps,
            plan,
        }),
    }
}

/// Stride-1, one-group convolution: `[n, c_in, h, w]` images `x`, `[c_out, c_in, kh, kw]`
/// weights `w`, geometry `win` (stride must be 1) -> `[n, c_out, oh, ow]`. Images run in
/// parallel.
pub(crate) fn conv2d<T: Element>(x: &[T], w: &[T], n: usize, c_out: usize, win: &Window) -> Vec<T> {
    conv2d_blocked(x, w, n, c_out, win, Blocking::of_cpu())
}

/// [`conv2d`] with a given blocking.
fn conv2d_blocked<T: Element>(
    x: &[T],
    w: &[T],
    n: usize,
    c_out: usize,
    win: &Window,
    blocking: Blocking,
) -> Vec<T> {
    debug_assert_eq!(win.stride, (1, 1));
    if std::mem::size_of::<T>() == 4 {
        run::<T, 16>(x, w, n, c_out, win, blocking)
    } else {
        run::<T, 8>(x, w, n, c_out, win, blocking)
    }
}

fn run<T: Element, const L: usize>(
    x: &[T],
    w: &[T],
    n: usize,
    c_out: usize,
    win: &Window,
    blocking: Blocking,
) -> Vec<T> {
    let plan = Plan::new(win, L);
    let out_len = c_out * plan.oh * plan.ow;
    let image = win.channels * win.h * win.w;
    if n * out_len == 0 || image == 0 {
        return vec![T::zero(); n * out_len];
    }
    let taps = plan.tap_offsets();
    // not zeroed first: the kernel writes every output once
    let mut y = Vec::with_capacity(n * out_len);
    crate::threads::warm();
    y.spare_capacity_mut()[..n * out_len]
        .par_chunks_mut(out_len)
        .enumerate()
        .for_each_init(
            || vec![T::zero(); plan.padded_len()],
            |xp, (b, out)| {
                pad_image(xp, &x[b * image..][..image], win, &plan);
                run_image::<T, L>(xp, w, out, &taps, plan, blocking);
            },
        );
    // SAFETY: `run_image` wrote all `out_len` elements of each of the `n` images
    unsafe { y.set_len(n * out_len) };
    y
}

/// Lanes of the f32 kernel's register block (wide output positions per step).
const F32_LANES: usize = 16;

/// The direct kernel on plain f32 slices, one image at a time, for tape-free inference: a
/// stride-1, one-group `conv2d` (PyTorch's `nn.Conv2d`, dilation 1) of an image `[c_in, h, w]`
/// by a weight `[c_out, c_in, kh, kw]` with zero padding, into `[c_out, oh, ow]`. Built once per
/// input size; [`Self::run`] allocates nothing (the caller keeps the padded copy between calls).
/// Each output sums its products in the order input channel, kernel row, kernel column.
///
/// ```
/// use gradus_tensor::DirectConv2d;
/// let conv = DirectConv2d::new(1, (2, 2), 1, (1, 1), (0, 0)).unwrap(); // 1x1 kernel
/// let mut padded = vec![0.0; conv.padded_len()];
/// let mut y = [0.0; 4];
/// conv.run(&[1.0, 2.0, 3.0, 4.0], &[2.0], &mut padded, &mut y);
/// assert_eq!(y, [2.0, 4.0, 6.0, 8.0]);
/// assert!(DirectConv2d::new(1, (2, 2), 1, (5, 5), (1, 1)).is_none()); // does not fit
/// ```
#[derive(Clone, Debug)]
pub struct DirectConv2d {
    window: Window,
    plan: Plan,
    c_out: usize,
    /// `[kh · kw]`: each tap's offset in a padded plane.
    taps: Vec<usize>,
}

impl DirectConv2d {
    /// The convolution of `c_in` channels of `h x w` into `c_out` channels by a `kernel`
    /// (rows, columns) with `padding` zeros on each side; `None` when the kernel is empty or
    /// larger than the padded image.
    pub fn new(
        c_in: usize,
        (h, w): (usize, usize),
        c_out: usize,
        kernel: (usize, usize),
        padding: (usize, usize),
    ) -> Option<DirectConv2d> {
        let window = Window {
            channels: c_in,
            h,
            w,
            kernel,
            stride: (1, 1),
            padding,
            dilation: (1, 1),
        };
        if c_in == 0 || kernel.0 == 0 || kernel.1 == 0 {
            return None;
        }
        window.output_size()?;
        let plan = Plan::new(&window, F32_LANES);
        Some(DirectConv2d {
            taps: plan.tap_offsets(),
            window,
            plan,
            c_out,
        })
    }

    /// Output height and width `(oh, ow)`.
    pub fn output(&self) -> (usize, usize) {
        (self.plan.oh, self.plan.ow)
    }

    /// Length of the padded copy [`Self::run`] takes (the zero-padded planes and the slack the
    /// last block reads).
    pub fn padded_len(&self) -> usize {
        self.plan.padded_len()
    }

    /// `y` `[c_out, oh, ow]` = the convolution of `x` `[c_in, h, w]` by `weight`
    /// `[c_out, c_in, kh, kw]` (no bias); `padded` (of [`Self::padded_len`]) is overwritten.
    ///
    /// # Panics
    /// When a slice's length differs from its shape.
    pub fn run(&self, x: &[f32], weight: &[f32], padded: &mut [f32], y: &mut [f32]) {
        let (win, plan) = (&self.window, &self.plan);
        assert!(
            x.len() == win.channels * win.h * win.w
                && weight.len() == self.c_out * win.channels * win.kernel.0 * win.kernel.1
                && padded.len() == plan.padded_len()
                && y.len() == self.c_out * plan.oh * plan.ow,
            "DirectConv2d: x {}, weight {}, padded {}, y {} values for {win:?} into {} channels",
            x.len(),
            weight.len(),
            padded.len(),
            y.len(),
            self.c_out
        );
        if y.is_empty() {
            return;
        }
        padded.fill(0.0);
        pad_image(padded, x, win, plan);
        // SAFETY: `MaybeUninit<f32>` has `f32`'s layout, and the kernel stores only initialized
        // values
        let y = unsafe { &mut *(y as *mut [f32] as *mut [MaybeUninit<f32>]) };
        run_image::<f32, F32_LANES>(padded, weight, y, &self.taps, *plan, Blocking::of_cpu());
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The definition: sum over channels and taps of weight times input, zero outside.
    fn reference(x: &[f64], w: &[f64], n: usize, c_out: usize, win: &Window) -> Vec<f64> {
        let (oh, ow) = win.output_size().unwrap();
        let (kh, kw) = win.kernel;
        let (c, h, wd) = (win.channels, win.h, win.w);
        let mut y = vec![0.0; n * c_out * oh * ow];
        for b in 0..n {
            for co in 0..c_out {
                for yy in 0..oh {
                    for xx in 0..ow {
                        let mut s = 0.0;
                        for ci in 0..c {
                            for i in 0..kh {
                                for j in 0..kw {
                                    let sy =
                                        (yy + i * win.dilation.0) as isize - win.padding.0 as isize;
                                    let sx =
                                        (xx + j * win.dilation.1) as isize - win.padding.1 as isize;
                                    if sy < 0 || sx < 0 || sy >= h as isize || sx >= wd as isize {
                                        continue;
                                    }
                                    let xi = ((b * c + ci) * h + sy as usize) * wd + sx as usize;
                                    s += w[((co * c + ci) * kh + i) * kw + j] * x[xi];
                                }
                            }
                        }
                        y[((b * c_out + co) * oh + yy) * ow + xx] = s;
                    }
                }
            }
        }
        y
    }

    #[test]
    fn matches_the_definition_over_geometries() {
        // (n, c_in, c_out, h, w, kernel, padding, dilation)
        let cases = [
            (2, 1, 6, 9, 11, (5, 5), (2, 2), (1, 1)),
            (1, 6, 16, 14, 14, (5, 5), (0, 0), (1, 1)),
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
            let x: Vec<f64> = (0..n * ci * h * w)
                .map(|i| ((i * 37) % 23) as f64 - 11.0)
                .collect();
            let wt: Vec<f64> = (0..co * ci * kernel.0 * kernel.1)
                .map(|i| ((i * 13) % 17) as f64 / 8.0 - 1.0)
                .collect();
            let want = reference(&x, &wt, n, co, &win);
            // integers and eighths: exact in either order
            assert_eq!(conv2d(&x, &wt, n, co, &win), want, "{win:?}");
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let w32: Vec<f32> = wt.iter().map(|&v| v as f32).collect();
            let got: Vec<f64> = conv2d(&x32, &w32, n, co, &win)
                .iter()
                .map(|&v| v as f64)
                .collect();
            assert_eq!(got, want, "f32 {win:?}");
        }
    }

    /// Values in [-1, 1) from a fixed LCG: products round, so only the same order gives the
    /// same bits.
    pub(in crate::backend::cpu::kernels) fn noise(len: usize, seed: u64) -> Vec<f32> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32) / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// The portable kernels fused and not, and this CPU's blocking (the AVX-512 blocks where it
    /// has AVX-512F).
    pub(in crate::backend::cpu::kernels) fn blockings() -> [Blocking; 3] {
        let portable = |fused| Blocking {
            fused,
            avx512: false,
        };
        [portable(false), portable(true), Blocking::of_cpu()]
    }

    /// The definition summed in the kernel's order (input channel, kernel row, kernel column,
    /// padding read as zero), each product added by `madd::<F>`.
    fn ordered<const F: bool>(
        x: &[f32],
        w: &[f32],
        n: usize,
        c_out: usize,
        win: &Window,
    ) -> Vec<f32> {
        let (oh, ow) = win.output_size().unwrap();
        let ((kh, kw), (c, h, wd)) = (win.kernel, (win.channels, win.h, win.w));
        let mut y = vec![0.0; n * c_out * oh * ow];
        for (o, v) in y.iter_mut().enumerate() {
            let (b, co, yy, xx) = (
                o / (c_out * oh * ow),
                o / (oh * ow) % c_out,
                o / ow % oh,
                o % ow,
            );
            let mut s = 0.0f32;
            for ci in 0..c {
                for i in 0..kh {
                    for j in 0..kw {
                        let sy = (yy + i * win.dilation.0).wrapping_sub(win.padding.0);
                        let sx = (xx + j * win.dilation.1).wrapping_sub(win.padding.1);
                        let xv = match sy < h && sx < wd {
                            true => x[((b * c + ci) * h + sy) * wd + sx],
                            false => 0.0,
                        };
                        s = madd::<f32, F>(s, w[((co * c + ci) * kh + i) * kw + j], xv);
                    }
                }
            }
            *v = s;
        }
        y
    }

    #[test]
    fn every_blocking_gives_the_bits_of_the_ordered_sum() {
        // (n, c_in, c_out, h, w, kernel, padding, dilation): LeNet's layers and their input
        // gradients, odd sizes
        let cases = [
            (2, 6, 16, 14, 14, (5, 5), (0, 0), (1, 1)),
            (2, 16, 6, 10, 10, (5, 5), (4, 4), (1, 1)),
            (2, 1, 6, 28, 28, (5, 5), (2, 2), (1, 1)),
            (1, 3, 13, 9, 7, (3, 2), (1, 0), (2, 3)),
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
            let x = noise(n * ci * h * w, 1);
            let wt = noise(co * ci * kernel.0 * kernel.1, 2);
            for blocking in blockings() {
                let want = match blocking.fused {
                    true => ordered::<true>(&x, &wt, n, co, &win),
                    false => ordered::<false>(&x, &wt, n, co, &win),
                };
                let got = conv2d_blocked(&x, &wt, n, co, &win, blocking);
                let bits = |v: &[f32]| v.iter().map(|t| t.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "{win:?} {blocking:?}");
            }
        }
    }

    #[test]
    fn the_inference_api_matches_the_definition_reusing_its_buffers() {
        // (c_in, c_out, h, w, kernel, padding): LeNet's two layers, odd sizes, 1..=5 channels
        let cases = [
            (1, 6, 28, 28, (5, 5), (2, 2)),
            (6, 16, 14, 14, (5, 5), (0, 0)),
            (3, 5, 7, 9, (3, 2), (1, 0)),
            (2, 1, 5, 4, (1, 1), (0, 0)),
            (5, 7, 3, 3, (3, 3), (2, 1)),
        ];
        for (ci, co, h, w, kernel, padding) in cases {
            let conv = DirectConv2d::new(ci, (h, w), co, kernel, padding).unwrap();
            let win = Window {
                channels: ci,
                h,
                w,
                kernel,
                stride: (1, 1),
                padding,
                dilation: (1, 1),
            };
            let (oh, ow) = win.output_size().unwrap();
            assert_eq!(conv.output(), (oh, ow));
            let n = 2;
            let x: Vec<f64> = (0..n * ci * h * w)
                .map(|i| ((i * 29) % 19) as f64 - 9.0)
                .collect();
            let wt: Vec<f64> = (0..co * ci * kernel.0 * kernel.1)
                .map(|i| ((i * 11) % 13) as f64 / 4.0 - 1.5)
                .collect();
            let want = reference(&x, &wt, n, co, &win);
            let w32: Vec<f32> = wt.iter().map(|&v| v as f32).collect();
            // one padded buffer for both images, filled with garbage first
            let mut padded = vec![f32::NAN; conv.padded_len()];
            let mut y = vec![f32::NAN; co * oh * ow];
            for b in 0..n {
                let image = ci * h * w;
                let xb: Vec<f32> = x[b * image..][..image].iter().map(|&v| v as f32).collect();
                conv.run(&xb, &w32, &mut padded, &mut y);
                let got: Vec<f64> = y.iter().map(|&v| v as f64).collect();
                // integers and quarters: exact in any order
                assert_eq!(got, want[b * y.len()..][..y.len()], "image {b} of {win:?}");
            }
        }
        assert!(DirectConv2d::new(1, (3, 3), 1, (4, 4), (0, 0)).is_none());
        assert!(DirectConv2d::new(0, (3, 3), 1, (1, 1), (0, 0)).is_none());
    }
}
