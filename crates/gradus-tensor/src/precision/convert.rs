//! Conversions between f32 and the 16-bit formats, as bit patterns (`u16`).
//!
//! The scalar functions are the reference: round to nearest, ties to even; infinities kept;
//! every NaN stays a NaN (made quiet, sign kept); values below the format's normal range kept
//! as subnormals (never flushed to zero), those below half the smallest subnormal rounded to a
//! signed zero; values past the largest finite one rounded to infinity as IEEE 754 says. The
//! slice functions are the fast path (for bf16 a branch-free loop compiled for the widest SIMD,
//! see [`crate::simd`]; for f16 the `half` crate, which uses the F16C instructions where the CPU
//! has them) and are tested equal to the reference.
//!
//! ```
//! use gradus_tensor::precision::convert::*;
//! assert_eq!(f32_to_bf16_bits(1.0), 0x3f80);
//! assert_eq!(f16_bits_to_f32(f32_to_f16_bits(0.1)), 0.099975586);
//! assert!(bf16_bits_to_f32(f32_to_bf16_bits(f32::NAN)).is_nan());
//! ```

use super::Half;
use crate::backend::cpu::kernels::filled;
use crate::simd::{with_widest_simd, SimdKernel};
use half::slice::{HalfBitsSliceExt, HalfFloatSliceExt};
use half::{bf16, f16};
use std::mem::MaybeUninit;

/// f32 to bfloat16 bits (reference scalar path).
pub fn f32_to_bf16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        // keep the sign and the top payload bits, set the quiet bit
        return ((bits >> 16) as u16) | 0x0040;
    }
    // add half an ulp of bf16, plus one when the kept part is odd (ties to even); an overflow of
    // the mantissa carries into the exponent, up to infinity
    let round = 0x7fff + ((bits >> 16) & 1);
    (bits.wrapping_add(round) >> 16) as u16
}

/// bfloat16 bits to f32 (exact).
pub fn bf16_bits_to_f32(b: u16) -> f32 {
    f32::from_bits((b as u32) << 16)
}

/// f32 to IEEE binary16 bits (reference scalar path).
pub fn f32_to_f16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let man = bits & 0x007f_ffff;
    if exp == 0xff {
        // infinity, or a NaN made quiet with the top payload bits kept
        return if man == 0 {
            sign | 0x7c00
        } else {
            sign | 0x7e00 | (man >> 13) as u16
        };
    }
    // unbiased exponent; f16's bias is 15
    let e = exp - 127;
    if e > 15 {
        return sign | 0x7c00;
    }
    if e >= -14 {
        // normal: 10 mantissa bits kept, 13 rounded off
        let half_exp = ((e + 15) as u32) << 10;
        let kept = half_exp | (man >> 13);
        let rest = man & 0x1fff;
        let up = rest > 0x1000 || (rest == 0x1000 && kept & 1 == 1);
        // a carry out of the mantissa raises the exponent, up to infinity (0x7c00)
        return sign | (kept + up as u32) as u16;
    }
    if e < -25 {
        // below half the smallest subnormal (2^-24): a signed zero
        return sign;
    }
    // subnormal: value = m * 2^-24 with m = (1.man) * 2^(e + 24)
    let full = man | 0x0080_0000; // 24 significant bits, value full * 2^(e - 23)
    let shift = (-e - 1) as u32; // bits dropped: e - 23 + 24 = shift to 2^-24 units
    let kept = full >> shift;
    let rest = full & ((1 << shift) - 1);
    let halfway = 1u32 << (shift - 1);
    let up = rest > halfway || (rest == halfway && kept & 1 == 1);
    sign | (kept + up as u32) as u16
}

/// IEEE binary16 bits to f32 (exact).
pub fn f16_bits_to_f32(h: u16) -> f32 {
    let sign = ((h & 0x8000) as u32) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x03ff) as u32;
    let bits = match (exp, man) {
        (0, 0) => sign,
        // subnormal: man * 2^-24, exact in f32
        (0, _) => return signum(sign) * (man as f32) * 2f32.powi(-24),
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000 | (man << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

fn signum(sign: u32) -> f32 {
    if sign == 0 {
        1.0
    } else {
        -1.0
    }
}

/// bf16 bits widened to f32 bits, a NaN made quiet (as the `half` crate does); branch-free, so
/// that a loop of it vectorizes.
#[inline(always)]
pub(crate) fn widen_bf16_bits(b: u16) -> u32 {
    let wide = (b as u32) << 16;
    let quiet = if b & 0x7fff > 0x7f80 { 0x0040_0000 } else { 0 };
    wide | quiet
}

/// [`f32_to_bf16_bits`] without branches, so that a loop of it vectorizes.
#[inline(always)]
pub(crate) fn round_bf16_bits(bits: u32) -> u16 {
    let nan = bits & 0x7fff_ffff > 0x7f80_0000;
    let rounded = (bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16) as u16;
    let quiet = ((bits >> 16) as u16) | 0x0040;
    if nan {
        quiet
    } else {
        rounded
    }
}

/// `out[i] = src[i]` widened to f32 (exact; a NaN made quiet). `out` may be uninitialized; every
/// element is written. Compiled for the widest SIMD this CPU has.
///
/// # Panics
/// When the lengths differ.
pub(crate) fn widen_bf16(src: &[bf16], out: &mut [MaybeUninit<f32>]) {
    struct Widen<'a>(&'a [bf16], &'a mut [MaybeUninit<f32>]);
    impl SimdKernel for Widen<'_> {
        #[inline(always)]
        fn run(self) {
            for (o, &b) in self.1.iter_mut().zip(self.0) {
                o.write(f32::from_bits(widen_bf16_bits(b.to_bits())));
            }
        }
    }
    assert_eq!(src.len(), out.len(), "widen_bf16: lengths differ");
    with_widest_simd(Widen(src, out));
}

/// `out[i] = src[i]` rounded to bf16 as [`f32_to_bf16_bits`]. `out` may be uninitialized;
/// every element is written. Compiled for the widest SIMD this CPU has.
///
/// # Panics
/// When the lengths differ.
pub(crate) fn round_bf16(src: &[f32], out: &mut [MaybeUninit<bf16>]) {
    struct Round<'a>(&'a [f32], &'a mut [MaybeUninit<bf16>]);
    impl SimdKernel for Round<'_> {
        #[inline(always)]
        fn run(self) {
            for (o, &x) in self.1.iter_mut().zip(self.0) {
                o.write(bf16::from_bits(round_bf16_bits(x.to_bits())));
            }
        }
    }
    assert_eq!(src.len(), out.len(), "round_bf16: lengths differ");
    with_widest_simd(Round(src, out));
}

/// f32 values to 16-bit patterns (fast path).
///
/// ```
/// use gradus_tensor::precision::{convert, Half};
/// assert_eq!(convert::to_bits(Half::BF16, &[1.0, -2.0]), vec![0x3f80, 0xc000]);
/// ```
pub fn to_bits(format: Half, values: &[f32]) -> Vec<u16> {
    match format {
        // SAFETY: `round_bf16` writes every element.
        Half::BF16 => unsafe { filled::<bf16>(values.len(), |o| round_bf16(values, o)) }
            .reinterpret_cast()
            .to_vec(),
        Half::F16 => {
            let mut out = vec![f16::ZERO; values.len()];
            out.convert_from_f32_slice(values);
            out.reinterpret_cast().to_vec()
        }
    }
}

/// 16-bit patterns to f32 values (fast path, exact).
///
/// ```
/// use gradus_tensor::precision::{convert, Half};
/// assert_eq!(convert::from_bits(Half::F16, &[0x3c00, 0x7c00]), vec![1.0, f32::INFINITY]);
/// ```
pub fn from_bits(format: Half, bits: &[u16]) -> Vec<f32> {
    match format {
        // SAFETY: `widen_bf16` writes every element.
        Half::BF16 => unsafe { filled(bits.len(), |o| widen_bf16(bits.reinterpret_cast(), o)) },
        Half::F16 => {
            let mut out = vec![0f32; bits.len()];
            let v: &[f16] = bits.reinterpret_cast();
            v.convert_to_f32_slice(&mut out);
            out
        }
    }
}

/// f64 to f32 rounded to odd: truncated toward zero, with the last bit set when bits were
/// dropped. Rounding that to a format of at most 22 significant bits (bf16, f16, their
/// subnormals included) gives the f64 value correctly rounded: the set bit stands for what was
/// dropped, so a tie is never made where there was none (Boldo and Melquiond, "Emulation of FMA
/// and correctly rounded sums: proved algorithms using rounding to odd", IEEE TC 2008).
pub fn f64_to_f32_odd(x: f64) -> f32 {
    let f = x as f32;
    if x.is_nan() || f as f64 == x {
        return f;
    }
    // `as` rounds to nearest: step back toward zero when it went past x
    let toward_zero = if (f as f64).abs() > x.abs() {
        f32::from_bits(f.to_bits() - 1)
    } else {
        f
    };
    f32::from_bits(toward_zero.to_bits() | 1)
}

/// f64 to bfloat16 bits, rounded once (to nearest, ties to even).
///
/// ```
/// use gradus_tensor::precision::convert::f64_to_bf16_bits;
/// // just above the tie between 1 and 1 + 2^-7: up (through f32 it would be the tie, then 1)
/// assert_eq!(f64_to_bf16_bits(1.0 + 2f64.powi(-8) + 2f64.powi(-30)), 0x3f81);
/// ```
pub fn f64_to_bf16_bits(x: f64) -> u16 {
    f32_to_bf16_bits(f64_to_f32_odd(x))
}

/// f64 to IEEE binary16 bits, rounded once (to nearest, ties to even).
pub fn f64_to_f16_bits(x: f64) -> u16 {
    f32_to_f16_bits(f64_to_f32_odd(x))
}

/// f64 values to 16-bit patterns, rounded once (not twice through f32).
pub fn f64_to_bits(format: Half, values: &[f64]) -> Vec<u16> {
    match format {
        Half::BF16 => values.iter().map(|&v| f64_to_bf16_bits(v)).collect(),
        Half::F16 => values.iter().map(|&v| f64_to_f16_bits(v)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f32 inputs that exercise every branch: zeros, ties, subnormals of both formats, the
    /// overflow edge, infinities, NaNs with payloads, and a sweep of 2^32 / 65537 bit patterns.
    fn inputs() -> Vec<f32> {
        let mut v: Vec<f32> = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            1.0 + 2f32.powi(-8),
            1.0 + 3.0 * 2f32.powi(-8),
            1.0 + 2f32.powi(-11),
            65504.0,
            65519.99,
            65520.0,
            f32::MAX,
            f32::MIN_POSITIVE,
            f32::MIN_POSITIVE / 3.0,
            f32::from_bits(1),
            2f32.powi(-24),
            2f32.powi(-25),
            2f32.powi(-25) * 1.0001,
            3.0 * 2f32.powi(-25),
            2f32.powi(-14) * 0.9999,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7f80_0001),
            f32::from_bits(0xffc1_2345),
        ];
        v.extend((0..65537u64).map(|i| f32::from_bits((i * 65537) as u32)));
        v
    }

    fn same(a: u16, b: u16, nan: bool) -> bool {
        a == b || (nan && a & 0x7fff > 0x7c00 && b & 0x7fff > 0x7c00)
    }

    #[test]
    fn bf16_reference_equals_half_and_the_fast_path() {
        let xs = inputs();
        let fast = to_bits(Half::BF16, &xs);
        for (&x, &f) in xs.iter().zip(&fast) {
            let r = f32_to_bf16_bits(x);
            assert_eq!(r, bf16::from_f32(x).to_bits(), "{x:e} ({:#x})", x.to_bits());
            assert_eq!(r, f, "{x:e}");
        }
    }

    #[test]
    fn f16_reference_equals_half_and_the_fast_path() {
        let xs = inputs();
        let fast = to_bits(Half::F16, &xs);
        for (&x, &f) in xs.iter().zip(&fast) {
            let r = f32_to_f16_bits(x);
            let h = f16::from_f32(x).to_bits();
            // NaN payloads may differ between the software and F16C paths; NaN stays NaN
            assert!(same(r, h, x.is_nan()), "{x:e}: {r:#x} vs half {h:#x}");
            assert!(same(r, f, x.is_nan()), "{x:e}: {r:#x} vs fast {f:#x}");
        }
    }

    #[test]
    fn every_16_bit_pattern_widens_exactly_and_rounds_back_to_itself() {
        let all: Vec<u16> = (0..=u16::MAX).collect();
        for (format, to_f32, from_f32) in [
            (
                Half::BF16,
                bf16_bits_to_f32 as fn(u16) -> f32,
                f32_to_bf16_bits as fn(f32) -> u16,
            ),
            (Half::F16, f16_bits_to_f32, f32_to_f16_bits),
        ] {
            let fast = from_bits(format, &all);
            for (&b, &f) in all.iter().zip(&fast) {
                let x = to_f32(b);
                let reference = match format {
                    Half::BF16 => bf16::from_bits(b).to_f32(),
                    Half::F16 => f16::from_bits(b).to_f32(),
                };
                if x.is_nan() {
                    // the fast path may quiet a signaling NaN; it stays a NaN
                    assert!(f.is_nan() && reference.is_nan(), "{format:?} {b:#x}");
                    assert!(to_f32(from_f32(x)).is_nan(), "{format:?} {b:#x}");
                } else {
                    assert_eq!(x.to_bits(), f.to_bits(), "{format:?} {b:#x}");
                    assert_eq!(x.to_bits(), reference.to_bits(), "{format:?} {b:#x}");
                    assert_eq!(from_f32(x), b, "{format:?} {b:#x}");
                }
            }
        }
    }

    /// The f64 value correctly rounded to the format, from the two neighbours that bracket it
    /// and their midpoint, which f64 holds exactly.
    fn f64_reference(format: Half, x: f64) -> f64 {
        let widen = |b: u16| match format {
            Half::BF16 => bf16_bits_to_f32(b) as f64,
            Half::F16 => f16_bits_to_f32(b) as f64,
        };
        let (sign, a) = (x.signum(), x.abs());
        // bisect the positive bit patterns, which are ordered as their values (the test keeps
        // below the largest finite value)
        let mut lo = 0u16;
        let mut hi = 0x7f00u16;
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if widen(mid) <= a {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let (l, h) = (widen(lo), widen(lo + 1));
        if a == l {
            return sign * l;
        }
        let m = (l + h) / 2.0;
        let v = if a < m || (a == m && lo.is_multiple_of(2)) {
            l
        } else {
            h
        };
        sign * v
    }

    #[test]
    fn f64_values_round_once_to_16_bits() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for format in [Half::BF16, Half::F16] {
            let widen = |b: u16| match format {
                Half::BF16 => bf16_bits_to_f32(b) as f64,
                Half::F16 => f16_bits_to_f32(b) as f64,
            };
            // values near ties: a 16-bit midpoint plus or minus a few f64 ulps, and random ones
            let mut xs = Vec::new();
            for b in (0u16..0x7b00).step_by(97) {
                let mid = (widen(b) + widen(b + 1)) / 2.0;
                for d in [-2i64, -1, 0, 1, 2, 1 << 30] {
                    xs.push(f64::from_bits((mid.to_bits() as i64 + d) as u64));
                }
            }
            let range = if format == Half::F16 { 60_000.0 } else { 1e30 };
            for _ in 0..20_000 {
                let u = (next() >> 11) as f64 / (1u64 << 53) as f64;
                let scale = 2f64.powi((next() % 40) as i32 - 30);
                xs.push(((u - 0.5) * scale).clamp(-range, range));
            }
            for &x in &xs {
                let bits = match format {
                    Half::BF16 => f64_to_bf16_bits(x),
                    Half::F16 => f64_to_f16_bits(x),
                };
                assert_eq!(widen(bits), f64_reference(format, x), "{format:?} {x:e}");
            }
        }
        // beyond the largest finite value plus half an ulp: infinity; NaN stays NaN
        assert_eq!(f64_to_f16_bits(65520.0), 0x7c00);
        assert_eq!(f64_to_f16_bits(65519.99), 0x7bff);
        assert_eq!(f64_to_bf16_bits(1e300), 0x7f80);
        assert!(bf16_bits_to_f32(f64_to_bf16_bits(f64::NAN)).is_nan());
        // below half the smallest subnormal: zero; just above: the smallest subnormal
        assert_eq!(f64_to_f16_bits(2f64.powi(-25)), 0);
        assert_eq!(f64_to_f16_bits(2f64.powi(-25) * (1.0 + 1e-12)), 1);
        assert_eq!(f64_to_bf16_bits(2f64.powi(-134) * (1.0 + 1e-12)), 1);
    }

    #[test]
    fn rounding_edges_follow_ieee_754() {
        // ties to even
        assert_eq!(f32_to_bf16_bits(1.0 + 2f32.powi(-8)), 0x3f80);
        assert_eq!(f32_to_bf16_bits(1.0 + 3.0 * 2f32.powi(-8)), 0x3f82);
        assert_eq!(f32_to_f16_bits(1.0 + 2f32.powi(-11)), 0x3c00);
        // f16 overflow: 65520 is the midpoint to the next (absent) value, rounds to infinity
        assert_eq!(f32_to_f16_bits(65519.0), 0x7bff);
        assert_eq!(f32_to_f16_bits(65520.0), 0x7c00);
        // subnormals kept: 2^-24 is f16's smallest; half of it is a tie, rounded to even 0
        assert_eq!(f32_to_f16_bits(2f32.powi(-24)), 0x0001);
        assert_eq!(f32_to_f16_bits(2f32.powi(-25)), 0x0000);
        assert_eq!(f32_to_f16_bits(-3.0 * 2f32.powi(-25)), 0x8002);
        // f32 subnormals are bf16 subnormals
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x0001_8000)), 0x0002);
        assert_eq!(f32_to_bf16_bits(f32::MAX), 0x7f80);
    }
}
