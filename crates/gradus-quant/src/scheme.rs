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
        let (lo, hi) = x
            .iter()
            .fold((0f32, 0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        ActQuant::from_range(lo, hi)
    }

    /// One value, rounded and clamped to `0..=127`.
    #[inline]
    pub fn quantize(&self, x: f32) -> u8 {
        ((x / self.scale).round() + self.zero_point as f32).clamp(0.0, ACTIVATION_MAX as f32) as u8
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
