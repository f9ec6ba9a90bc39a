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
    pub fn of(x: &[f32]) -> ActQuant {
        // eight running minima and maxima, so that the scan vectorizes (min and max are exact:
        // the order does not change the result)
        let (mut lo, mut hi) = ([0f32; 8], [0f32; 8]);
        let mut chunks = x.chunks_exact(8);
        for c in &mut chunks {
            for ((l, h), &v) in lo.iter_mut().zip(&mut hi).zip(c) {
                *l = l.min(v);
                *h = h.max(v);
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
    fn the_range_scan_equals_a_plain_fold() {
        for len in [0usize, 1, 7, 8, 9, 31, 784] {
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
