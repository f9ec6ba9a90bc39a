//! AVX-512 f32 register blocks of the direct convolution (`conv_direct`) and of its weight
//! gradient (`conv_weight_grad`), written with intrinsics so that up to 8 output channels (up to
//! 16 accumulators of 16 lanes) stay in registers; the portable loops keep
//! at most 4 (the compiler does not unroll wider blocks). The same products, added in the same
//! order with one rounding each, as the portable kernels' fused path: the same bits.

use super::conv_direct::Plan;
use std::arch::x86_64::*;
use std::mem::MaybeUninit;

/// f32 lanes of one register: wide output positions per block.
pub(super) const LANES: usize = 16;

/// Output channels per register block, at most.
pub(super) const MAX_CHANNELS: usize = 8;

/// Calls `$f::<N>(args)` for a block of `$n` (1 to 8) output channels.
macro_rules! per_block {
    ($n:expr, $f:ident($($arg:expr),*)) => {
        match $n {
            1 => $f::<1>($($arg),*),
            2 => $f::<2>($($arg),*),
            3 => $f::<3>($($arg),*),
            4 => $f::<4>($($arg),*),
            5 => $f::<5>($($arg),*),
            6 => $f::<6>($($arg),*),
            7 => $f::<7>($($arg),*),
            8 => $f::<8>($($arg),*),
            n => unreachable!("block of {n} channels"),
        }
    };
}

/// The forward kernel on one padded image `xp` (see `conv_direct::Image`): `w`
/// `[c_out, patch]`, `y` `[c_out, oh * ow]` (each element of the blocks' channels written once,
/// none read), `blocks` the `(first channel, count)` blocks.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn forward(
    xp: &[f32],
    w: &[f32],
    y: &mut [MaybeUninit<f32>],
    taps: &[usize],
    plan: &Plan,
    blocks: impl Iterator<Item = (usize, usize)>,
) {
    assert!(xp.len() >= plan.padded_len() && plan.wide.is_multiple_of(LANES));
    for (co, n) in blocks {
        // SAFETY: AVX-512F as the caller promises; the lengths are checked inside
        unsafe {
            match n {
                1 => forward_block::<1, 8>(xp, w, y, taps, plan, co),
                2 => forward_block::<2, 8>(xp, w, y, taps, plan, co),
                3 => forward_block::<3, 5>(xp, w, y, taps, plan, co),
                4 => forward_block::<4, 4>(xp, w, y, taps, plan, co),
                5 => forward_block::<5, 3>(xp, w, y, taps, plan, co),
                6 => forward_block::<6, 2>(xp, w, y, taps, plan, co),
                7 => forward_block::<7, 2>(xp, w, y, taps, plan, co),
                8 => forward_block::<8, 2>(xp, w, y, taps, plan, co),
                n => unreachable!("block of {n} channels"),
            }
        }
    }
}

/// Output channels `co..co + N` of one image, `V` blocks of wide positions at a time (`N * V`
/// independent accumulators: enough chains to cover the FMA latency when `N` is small, as for
/// the input gradient of a one-channel image), then the last blocks one at a time.
#[target_feature(enable = "avx512f")]
unsafe fn forward_block<const N: usize, const V: usize>(
    xp: &[f32],
    w: &[f32],
    y: &mut [MaybeUninit<f32>],
    taps: &[usize],
    p: &Plan,
    co: usize,
) {
    let patch = p.c_in * taps.len();
    assert!(w.len() >= (co + N) * patch && y.len() >= (co + N) * p.oh * p.ow);
    let blocks = p.wide / LANES;
    let mut b = 0;
    while b + V <= blocks {
        // SAFETY: AVX-512F (this function's feature); blocks b..b + V exist
        unsafe { forward_run::<N, V>(xp, w, y, taps, p, co, b * LANES) };
        b += V;
    }
    while b < blocks {
        // SAFETY: as above, block b exists
        unsafe { forward_run::<N, 1>(xp, w, y, taps, p, co, b * LANES) };
        b += 1;
    }
}

/// Channels `co..co + N` at the `V` blocks of wide positions from `r0`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn forward_run<const N: usize, const V: usize>(
    xp: &[f32],
    w: &[f32],
    y: &mut [MaybeUninit<f32>],
    taps: &[usize],
    p: &Plan,
    co: usize,
    r0: usize,
) {
    let (plane, kk) = (p.hp * p.wp, taps.len());
    let (patch, pixels) = (p.c_in * kk, p.oh * p.ow);
    let mut acc = [[_mm512_setzero_ps(); V]; N];
    for ci in 0..p.c_in {
        for (t, &o) in taps.iter().enumerate() {
            let q = ci * kk + t;
            // SAFETY: r0 + V * LANES <= wide, and the padded copy holds every plane plus the
            // reach of the last tap and a whole wide run (`Plan::padded_len`, checked in
            // `forward`); q < patch and co + N channels fit `w` (checked in `forward_block`)
            unsafe {
                let at = xp.as_ptr().add(ci * plane + o + r0);
                let xv: [__m512; V] = std::array::from_fn(|v| _mm512_loadu_ps(at.add(v * LANES)));
                let wq = w.as_ptr().add(co * patch + q);
                for (c, a) in acc.iter_mut().enumerate() {
                    let wc = _mm512_set1_ps(*wq.add(c * patch));
                    for (a, &x) in a.iter_mut().zip(&xv) {
                        *a = _mm512_fmadd_ps(wc, x, *a);
                    }
                }
            }
        }
    }
    let mut out = [0.0f32; LANES];
    for (c, a) in acc.iter().enumerate() {
        let dst = &mut y[(co + c) * pixels..][..pixels];
        for (v, a) in a.iter().enumerate() {
            // SAFETY: `out` holds LANES f32
            unsafe { _mm512_storeu_ps(out.as_mut_ptr(), *a) };
            let r = r0 + v * LANES;
            let (mut yy, mut xx) = (r / p.wp, r % p.wp);
            for &value in &out {
                if yy >= p.oh {
                    break;
                }
                if xx < p.ow {
                    dst[yy * p.ow + xx].write(value);
                }
                xx += 1;
                if xx == p.wp {
                    (yy, xx) = (yy + 1, 0);
                }
            }
        }
    }
}

/// One image's weight-gradient products added into `lanes` (`[c_out, patch, LANES]`), as
/// `conv_weight_grad::Image` does: `gw` the widened output gradient `[c_out, wide]`.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn weight_grad(
    xp: &[f32],
    gw: &[f32],
    lanes: &mut [f32],
    taps: &[usize],
    plan: &Plan,
    blocks: impl Iterator<Item = (usize, usize)>,
) {
    assert!(xp.len() >= plan.padded_len() && plan.wide.is_multiple_of(LANES));
    for (co, n) in blocks {
        // SAFETY: AVX-512F as the caller promises; the lengths are checked inside
        unsafe { per_block!(n, weight_grad_block(xp, gw, lanes, taps, plan, co)) }
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn weight_grad_block<const N: usize>(
    xp: &[f32],
    gw: &[f32],
    lanes: &mut [f32],
    taps: &[usize],
    p: &Plan,
    co: usize,
) {
    let (plane, kk) = (p.hp * p.wp, taps.len());
    let patch = p.c_in * kk;
    assert!(gw.len() >= (co + N) * p.wide && lanes.len() >= (co + N) * patch * LANES);
    let start = |q: usize| (q / kk) * plane + taps[q % kk];
    // two taps at a time: each output-gradient load serves both, 2N accumulators
    for q in (0..patch).step_by(2) {
        let pair = q + 1 < patch;
        let (s0, s1) = (start(q), start(if pair { q + 1 } else { q }));
        let mut acc0 = [_mm512_setzero_ps(); N];
        let mut acc1 = [_mm512_setzero_ps(); N];
        for r0 in (0..p.wide).step_by(LANES) {
            // SAFETY: s + r0 + LANES is within the padded copy (`Plan::padded_len`, checked in
            // `weight_grad`) and (co + c) * wide + r0 + LANES within `gw` (checked above)
            unsafe {
                let x0 = _mm512_loadu_ps(xp.as_ptr().add(s0 + r0));
                let x1 = _mm512_loadu_ps(xp.as_ptr().add(s1 + r0));
                for c in 0..N {
                    let g = _mm512_loadu_ps(gw.as_ptr().add((co + c) * p.wide + r0));
                    acc0[c] = _mm512_fmadd_ps(g, x0, acc0[c]);
                    acc1[c] = _mm512_fmadd_ps(g, x1, acc1[c]);
                }
            }
        }
        for c in 0..N {
            for (k, a) in [(0, acc0[c]), (1, acc1[c])] {
                if k == 1 && !pair {
                    continue;
                }
                let at = &mut lanes[((co + c) * patch + q + k) * LANES..][..LANES];
                // SAFETY: `at` holds LANES f32
                unsafe {
                    let sum = _mm512_add_ps(_mm512_loadu_ps(at.as_ptr()), a);
                    _mm512_storeu_ps(at.as_mut_ptr(), sum);
                }
            }
        }
    }
}

/// One image's input gradient scattered into `dxp` (`[c_in, scatter_stride]`, zeroed), as
/// `conv_input_grad::Image` does: `gw` the widened output gradient `[c_out, wide]`, `w` the
/// weights `[c_out, patch]`, `blocks` the `(first input channel, count)` blocks.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn input_grad(
    gw: &[f32],
    w: &[f32],
    dxp: &mut [f32],
    taps: &[usize],
    plan: &Plan,
    blocks: impl Iterator<Item = (usize, usize)>,
) {
    let c_out = gw.len() / plan.wide;
    assert!(
        plan.wide.is_multiple_of(LANES)
            && gw.len() == c_out * plan.wide
            && w.len() >= c_out * plan.c_in * taps.len()
            && dxp.len() >= plan.c_in * plan.scatter_stride()
            && taps.iter().all(|&o| o + plan.wide <= plan.scatter_stride())
    );
    for (ci, n) in blocks {
        // SAFETY: AVX-512F as the caller promises; the lengths are checked above
        unsafe {
            match n {
                1 => input_grad_block::<1, 8>(gw, w, dxp, taps, plan, ci),
                2 => input_grad_block::<2, 6>(gw, w, dxp, taps, plan, ci),
                3 => input_grad_block::<3, 4>(gw, w, dxp, taps, plan, ci),
                4 => input_grad_block::<4, 3>(gw, w, dxp, taps, plan, ci),
                5 => input_grad_block::<5, 2>(gw, w, dxp, taps, plan, ci),
                6 => input_grad_block::<6, 2>(gw, w, dxp, taps, plan, ci),
                7 => input_grad_block::<7, 2>(gw, w, dxp, taps, plan, ci),
                8 => input_grad_block::<8, 2>(gw, w, dxp, taps, plan, ci),
                n => unreachable!("block of {n} channels"),
            }
        }
    }
}

/// Input channels `ci..ci + N` of one image: per tap, `V` wide blocks at a time (`N * V`
/// independent accumulators: enough chains to cover the FMA latency when `N` is small, as for a
/// one-channel image), then the last blocks one at a time.
#[target_feature(enable = "avx512f")]
unsafe fn input_grad_block<const N: usize, const V: usize>(
    gw: &[f32],
    w: &[f32],
    dxp: &mut [f32],
    taps: &[usize],
    p: &Plan,
    ci: usize,
) {
    let blocks = p.wide / LANES;
    for t in 0..taps.len() {
        let mut b = 0;
        while b + V <= blocks {
            // SAFETY: AVX-512F (this function's feature); blocks b..b + V exist
            unsafe { input_grad_run::<N, V>(gw, w, dxp, taps, p, ci, t, b * LANES) };
            b += V;
        }
        while b < blocks {
            // SAFETY: as above, block b exists
            unsafe { input_grad_run::<N, 1>(gw, w, dxp, taps, p, ci, t, b * LANES) };
            b += 1;
        }
    }
}

/// Input channels `ci..ci + N`, tap `t`, the `V` wide blocks from `r0`: the channel sums of the
/// output gradient's runs, added into the padded planes at the tap's offset.
#[target_feature(enable = "avx512f")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn input_grad_run<const N: usize, const V: usize>(
    gw: &[f32],
    w: &[f32],
    dxp: &mut [f32],
    taps: &[usize],
    p: &Plan,
    ci: usize,
    t: usize,
    r0: usize,
) {
    let (kk, stride) = (taps.len(), p.scatter_stride());
    let (patch, c_out) = (p.c_in * kk, gw.len() / p.wide);
    let mut acc = [[_mm512_setzero_ps(); V]; N];
    for co in 0..c_out {
        // SAFETY: r0 + V * LANES <= wide, so the runs lie in `gw`'s row co; the weight
        // co * patch + (ci + c) * kk + t < c_out * patch (checked in `input_grad`)
        unsafe {
            let at = gw.as_ptr().add(co * p.wide + r0);
            let gv: [__m512; V] = std::array::from_fn(|v| _mm512_loadu_ps(at.add(v * LANES)));
            let wq = w.as_ptr().add(co * patch + ci * kk + t);
            for (c, a) in acc.iter_mut().enumerate() {
                let wc = _mm512_set1_ps(*wq.add(c * kk));
                for (a, &g) in a.iter_mut().zip(&gv) {
                    *a = _mm512_fmadd_ps(wc, g, *a);
                }
            }
        }
    }
    for (c, a) in acc.iter().enumerate() {
        let at = (ci + c) * stride + taps[t] + r0;
        for (v, a) in a.iter().enumerate() {
            // SAFETY: taps[t] + r0 + V * LANES <= taps[t] + wide <= stride (checked in
            // `input_grad`), and the ci + c < c_in planes fit `dxp`
            unsafe {
                let d = dxp.as_mut_ptr().add(at + v * LANES);
                _mm512_storeu_ps(d, _mm512_add_ps(_mm512_loadu_ps(d), *a));
            }
        }
    }
}
