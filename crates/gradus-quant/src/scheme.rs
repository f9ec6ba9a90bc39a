//! The numbers: symmetric per-output-channel int8 weights and asymmetric 7-bit activations.
//!
//! - Weights (PyTorch's `per_channel_symmetric`, `qint8`): for each output channel `o`,
//!   `scale[o] = max|w[o, ..]| / 127` and `q = clamp(round(w / scale[o]), -127, 127)`; -128 is never
//!   used, so the scheme is symmetric and the AVX2 path never saturates.
//! - Activations (PyTorch's `quint8` with `reduce_range=True`, as its x86 backend uses): an affine
//!   map onto `0..=127` from a range `[lo, hi]` widened to hold 0, `scale = (hi - lo) / 127`,
//!   `zero_point = round(-lo / scale)`, `q = clamp(round(x / scale) + zero_point, 0, 127)`, so that
//!   0.0 (padding, ReLU's zeros) is exact.

/// Largest quantized weight magnitude.
pub const WEIGHT_MAX: f32 = 127.0;
/// Largest quantized activation (7 bits: see the module docs).
pub const ACTIVATION_MAX: u8 = 127;

/// Per-output-channel symmetric int8 quantization of a `[out, per]` row-major weight: the int8
/// values and one scale per row.
///
/// ```
/// use gradus_quant::scheme::quantize_per_channel;
/// let (q, s) = quantize_per_channel(&[0.5, -1.0, 0.0, 0.0], 2, 2);
/// assert_eq!(q, vec![64, -127, 0, 0]);
/// assert_eq!(s, vec![1.0 / 127.0, 1.0]); // an all-zero row gets scale 1
/// ```
pub fn quantize_per_channel(w: &[f32], out: usize, per: usize) -> (Vec<i8>, Vec<f32>) {
    let mut q = Vec::with_capacity(out * per);
    let mut scales = Vec::with_capacity(out);
    for row in w.chunks(per.max(1)).take(out) {
        let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        let s = if max > 0.0 && max.is_finite() {
            max / WEIGHT_MAX
        } else {
            1.0
        };
        q.extend(
            row.iter()
                .map(|v| (v / s).round().clamp(-WEIGHT_MAX, WEIGHT_MAX) as i8),
        );
        scales.push(s);
    }
    (q, scales)
}

/// An affine activation quantizer onto `0..=127`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActQuant {
    /// Real value of one step.
    pub scale: f32,
    /// The quantized value that stands for 0.0.
    pub zero_point: u8,
}

impl ActQuant {
    /// The quantizer for values in `[lo, hi]` (widened to hold 0; an empty or non-finite range
    /// gives scale 1).
    ///
    /// ```
    /// use gradus_quant::scheme::ActQuant;
    /// let q = ActQuant::from_range(-1.0, 1.54);
    /// assert_eq!(q.zero_point, 50);
    /// assert_eq!(q.quantize(0.0), 50);
    /// ```
    pub fn from_range(lo: f32, hi: f32) -> ActQuant {
        let (lo, hi) = (lo.min(0.0), hi.max(0.0));
        let scale = (hi - lo) / ACTIVATION_MAX as f32;
        if !(scale > 0.0 && scale.is_finite()) {
            return ActQuant {
                scale: 1.0,
                zero_point: 0,
            };
        }
        let zero_point = (-lo / scale).round().clamp(0.0, ACTIVATION_MAX as f32) as u8;
        ActQuant { scale, zero_point }
    }

    /// The quantizer for the range of `x` (dynamic quantization).
    // always inlined, so that the row quantizers' AVX-512 and AVX2 copies vectorize it at width
    #[inline(always)]
    pub fn of(x: &[f32]) -> ActQuant {
        // sixteen running minima and maxima, so that the scan vectorizes (min and max are exact:
        // the order does not change the result). `if v < l { v } else { l }` is `l.min(v)` here
        // (NaN is skipped: `l` never holds one) and is what `minps` computes, where `f32::min`'s
        // NaN rule would cost a compare and a blend per step.
        let (mut lo, mut hi) = ([0f32; 16], [0f32; 16]);
        let mut chunks = x.chunks_exact(16);
        for c in &mut chunks {
            for ((l, h), &v) in lo.iter_mut().zip(&mut hi).zip(c) {
                *l = if v < *l { v } else { *l };
                *h = if v > *h { v } else { *h };
            }
        }
        for &v in chunks.remainder() {
            lo[0] = lo[0].min(v);
            hi[0] = hi[0].max(v);
        }
        let lo = lo.iter().fold(0f32, |a, &b| a.min(b));
        let hi = hi.iter().fold(0f32, |a, &b| a.max(b));
        ActQuant::from_range(lo, hi)
    }

    /// One value, rounded (half away from zero, as `f32::round`) and clamped to `0..=127`; NaN
    /// gives 0.
    ///
    /// Written without a call to `roundf` so that loops over it vectorize: `x / scale` is first
    /// held to `±256` (beyond, the result is 0 or 127 either way; NaN goes to -256), where adding
    /// the largest float below 0.5 to the magnitude and truncating rounds exactly as
    /// `f32::round` does, and every conversion is in range.
    #[inline]
    pub fn quantize(&self, x: f32) -> u8 {
        // the largest f32 below 0.5
        const BELOW_HALF: f32 = 0.499_999_97;
        // `max` and `min`, not `clamp`: NaN must go to -256, and `clamp` would keep it
        #[allow(clippy::manual_clamp)]
        let y = (x / self.scale).max(-256.0).min(256.0);
        // SAFETY: `y` is finite and within ±256 (`max`/`min` map NaN to -256), so both
        // conversions below are of finite values far inside the i32 range. (`as i32` would
        // saturate, which the compiler cannot vectorize on baseline x86-64.)
        let magnitude = unsafe { (y.abs() + BELOW_HALF).to_int_unchecked::<i32>() };
        let rounded = (magnitude as f32).copysign(y);
        let q = (rounded + self.zero_point as f32).clamp(0.0, ACTIVATION_MAX as f32);
        // SAFETY: `q` is finite and within 0..=127.
        unsafe { q.to_int_unchecked::<i32>() as u8 }
    }

    /// The real value `q` stands for.
    #[inline]
    pub fn dequantize(&self, q: u8) -> f32 {
        (q as i32 - self.zero_point as i32) as f32 * self.scale
    }

    /// Quantizes `x` into `out` (resized to match).
    pub fn quantize_into(&self, x: &[f32], out: &mut Vec<u8>) {
        out.clear();
        out.extend(x.iter().map(|&v| self.quantize(v)));
    }
}

/// Values from which [`quantize_rows`] splits the rows across threads.
const PARALLEL_VALUES: usize = 1 << 16;

/// Dynamic quantization of a batch (as `QLinear` runs it): each `k`-long row of `x` gets its own
/// quantizer ([`ActQuant::of`], into `params`) and is quantized into its row of `out`, rows
/// `stride` apart, the `stride - k` bytes after each row set to 0. Rows are split across the
/// rayon pool when the batch is large, and the loops use AVX-512 or AVX2 where the CPU has it (the
/// same results: the operations are exact or correctly rounded one by one).
///
/// ```
/// use gradus_quant::scheme::{quantize_rows, ActQuant};
/// let (mut q, mut p) = (vec![9u8; 8], vec![ActQuant::from_range(0.0, 0.0); 2]);
/// quantize_rows(&[0.0, 1.0, 2.0, -1.0, 0.0, 1.0], 3, &mut q, 4, &mut p);
/// assert_eq!(q, [0, 64, 127, 0, 0, 64, 127, 0]);
/// assert_eq!(p[1].zero_point, 64);
/// ```
///
/// # Panics
/// When `stride < k`, or `out` and `params` do not hold the rows of `x`.
pub fn quantize_rows(x: &[f32], k: usize, out: &mut [u8], stride: usize, params: &mut [ActQuant]) {
    let rows = params.len();
    assert!(
        stride >= k && x.len() == rows * k && out.len() == rows * stride,
        "quantize_rows: {} values as {rows} rows of {k} into {} bytes, rows {stride} apart",
        x.len(),
        out.len()
    );
    if rows == 0 {
        return;
    }
    let run = |x: &[f32], out: &mut [u8], params: &mut [ActQuant]| {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
        {
            // SAFETY: the CPU has AVX-512 F and BW.
            return unsafe { quantize_rows_avx512(x, k, out, stride, params) };
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            return unsafe { quantize_rows_avx2(x, k, out, stride, params) };
        }
        quantize_rows_plain(x, k, out, stride, params)
    };
    if rows > 1 && x.len() >= PARALLEL_VALUES && rayon::current_num_threads() > 1 {
        use rayon::prelude::*;
        let per = rows.div_ceil(2 * rayon::current_num_threads());
        gradus_tensor::threads::warm();
        params
            .par_chunks_mut(per)
            .zip(out.par_chunks_mut(per * stride))
            .zip(x.par_chunks(per * k.max(1)))
            .for_each(|((p, o), x)| run(x, o, p));
    } else {
        run(x, out, params);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn quantize_rows_avx2(
    x: &[f32],
    k: usize,
    out: &mut [u8],
    stride: usize,
    p: &mut [ActQuant],
) {
    quantize_rows_plain(x, k, out, stride, p)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512bw")]
unsafe fn quantize_rows_avx512(
    x: &[f32],
    k: usize,
    out: &mut [u8],
    stride: usize,
    p: &mut [ActQuant],
) {
    quantize_rows_plain(x, k, out, stride, p)
}

#[inline(always)]
fn quantize_rows_plain(
    x: &[f32],
    k: usize,
    out: &mut [u8],
    stride: usize,
    params: &mut [ActQuant],
) {
    for (i, p) in params.iter_mut().enumerate() {
        let (xr, row) = (
            &x[i * k..(i + 1) * k],
            &mut out[i * stride..(i + 1) * stride],
        );
        *p = ActQuant::of(xr);
        let (q, pad) = row.split_at_mut(k);
        xr.iter().zip(q).for_each(|(&v, q)| *q = p.quantize(v));
        pad.fill(0);
    }
}

/// Sum of each `per`-long row of `q` (the zero-point correction: `Σ (x - z)·w = Σ x·w - z·Σ w`).
pub fn row_sums(q: &[i8], per: usize) -> Vec<i32> {
    q.chunks(per.max(1))
        .map(|r| r.iter().map(|&v| v as i32).sum())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook form `quantize` must equal bit for bit.
    fn reference(q: &ActQuant, x: f32) -> u8 {
        ((x / q.scale).round() + q.zero_point as f32).clamp(0.0, ACTIVATION_MAX as f32) as u8
    }

    #[test]
    fn quantize_equals_round_half_away_everywhere_it_matters() {
        let quantizers = [
            ActQuant::from_range(-1.0, 1.54),
            ActQuant::from_range(0.0, 6.0),
            ActQuant::from_range(-3.0, 0.0),
            ActQuant::from_range(-1e-30, 2e-30),
            ActQuant::from_range(0.0, 0.0),
        ];
        let mut values = vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0];
        values.extend([f32::MIN_POSITIVE, -f32::MIN_POSITIVE, f32::MAX, f32::MIN]);
        for q in &quantizers {
            // every half step in and well beyond the quantized range, and its neighbours
            for h in -1200..=1200 {
                let y = h as f32 * 0.5;
                for v in [
                    y,
                    f32::from_bits(y.to_bits() + 1),
                    f32::from_bits(y.to_bits().wrapping_sub(1)),
                ] {
                    values.push(v * q.scale);
                }
            }
        }
        let mut state = 0x2545_f491_u32;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            values.push(f32::from_bits(state));
        }
        for q in &quantizers {
            for &x in &values {
                assert_eq!(q.quantize(x), reference(q, x), "{x:e} with {q:?}");
            }
        }
    }

    #[test]
    fn every_row_quantizer_path_equals_the_plain_loops() {
        // odd lengths, with NaN, infinities, signed zeros and huge values among the rows
        let special = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -0.0,
            0.0,
            3e38,
            -3e38,
        ];
        for (k, stride) in [(1usize, 4usize), (15, 16), (17, 20), (33, 36), (784, 784)] {
            let rows = 5;
            let x: Vec<f32> = (0..rows * k)
                .map(|i| match (i * 7919) % 23 {
                    0 if i / k == 1 => special[i % special.len()],
                    r if i / k == 2 => r as f32 * 0.25, // no negative values
                    r => (r as f32 - 11.0) * 0.37 * (1 + i / k) as f32,
                })
                .collect();
            let mut want = (
                vec![7u8; rows * stride],
                vec![ActQuant::from_range(0.0, 0.0); rows],
            );
            quantize_rows_plain(&x, k, &mut want.0, stride, &mut want.1);
            #[cfg(target_arch = "x86_64")]
            {
                use std::arch::is_x86_feature_detected as has;
                let mut got = (
                    vec![7u8; rows * stride],
                    vec![ActQuant::from_range(0.0, 0.0); rows],
                );
                if has!("avx512f") && has!("avx512bw") {
                    // SAFETY: the CPU has AVX-512 F and BW.
                    unsafe { quantize_rows_avx512(&x, k, &mut got.0, stride, &mut got.1) };
                    assert_eq!(got, want, "AVX-512, k {k}");
                }
                if has!("avx2") {
                    // SAFETY: the CPU has AVX2.
                    unsafe { quantize_rows_avx2(&x, k, &mut got.0, stride, &mut got.1) };
                    assert_eq!(got, want, "AVX2, k {k}");
                }
            }
            // and the textbook definition, row by row
            for (i, p) in want.1.iter().enumerate() {
                let xr = &x[i * k..(i + 1) * k];
                let (lo, hi) = xr
                    .iter()
                    .fold((0f32, 0f32), |(l, h), &v| (l.min(v), h.max(v)));
                assert_eq!(*p, ActQuant::from_range(lo, hi), "row {i}, k {k}");
                let q: Vec<u8> = xr.iter().map(|&v| reference(p, v)).collect();
                assert_eq!(
                    &want.0[i * stride..i * stride + k],
                    &q[..],
                    "row {i}, k {k}"
                );
                assert!(want.0[i * stride + k..(i + 1) * stride]
                    .iter()
                    .all(|&b| b == 0));
            }
        }
    }

    #[test]
    fn the_range_scan_equals_a_plain_fold() {
        for len in [0usize, 1, 7, 8, 9, 16, 17, 31, 784] {
            let x: Vec<f32> = (0..len)
                .map(|i| ((i * 37 % 101) as f32 - 40.0) * 0.37)
                .collect();
            let (lo, hi) = x
                .iter()
                .fold((0f32, 0f32), |(l, h), &v| (l.min(v), h.max(v)));
            assert_eq!(
                ActQuant::of(&x),
                ActQuant::from_range(lo, hi),
                "length {len}"
            );
        }
    }
}
