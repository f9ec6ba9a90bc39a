//! Branch-free `sigmoid` and `tanh` for the fused recurrent kernels.
//!
//! The f32 versions use Cephes' range reduction and polynomials (about 2 ulp from the exact
//! value), written without calls or branches so that loops over them vectorize; libm's `expf` and
//! `tanhf` are scalar calls and cost more than the matrix products in an LSTM step. The f64
//! versions are the exact library functions (f64 is the reference path).

use crate::Element;

/// The gate nonlinearities, per element type.
pub(crate) trait GateMath: Element {
    /// `1 / (1 + e^-x)`.
    fn sigmoid(self) -> Self;
    /// `tanh(x)`.
    fn tanh_gate(self) -> Self;
}

impl GateMath for f64 {
    fn sigmoid(self) -> f64 {
        1.0 / (1.0 + (-self).exp())
    }
    fn tanh_gate(self) -> f64 {
        self.tanh()
    }
}

impl GateMath for f32 {
    fn sigmoid(self) -> f32 {
        1.0 / (1.0 + exp_clamped(-self))
    }
    fn tanh_gate(self) -> f32 {
        tanh_f32(self)
    }
}

/// `e^x` for `x` clamped to `[-87, 87]` (where `e^x` is a normal f32): enough for the gates,
/// which saturate long before.
#[inline(always)]
pub(crate) fn exp_clamped(x: f32) -> f32 {
    exp_clamped_with::<false>(x)
}

/// `a * b + c`, rounded once (`mul_add`) with `FMA`, else twice.
#[inline(always)]
pub(crate) fn mad<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// [`exp_clamped`] with its multiply-adds fused when `FMA` (see
/// [`FmaKernel`](crate::backend::cpu::simd::FmaKernel)); unfused, the same bits as
/// [`exp_clamped`].
#[inline(always)]
pub(crate) fn exp_clamped_with<const FMA: bool>(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // adding 1.5 * 2^23 rounds to the nearest integer in the low mantissa bits
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 87.0);
    let shifted = mad::<FMA>(x, LOG2E, ROUND);
    let n = shifted - ROUND;
    // x = n ln2 + r, |r| <= ln2 / 2, with ln2 split in two for an exact product
    let r = mad::<FMA>(-n, LN2_LO, mad::<FMA>(-n, LN2_HI, x));
    let p = 1.987_569_2e-4;
    let p = mad::<FMA>(p, r, 1.398_199_9e-3);
    let p = mad::<FMA>(p, r, 8.333_452e-3);
    let p = mad::<FMA>(p, r, 4.166_579_6e-2);
    let p = mad::<FMA>(p, r, 0.166_666_65);
    let p = mad::<FMA>(p, r, 0.5);
    let e_r = mad::<FMA>(p * r, r, r) + 1.0;
    // 2^n from the integer in the low bits of `shifted`: n + 127 in the exponent field
    let n_int = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    let two_n = f32::from_bits(((n_int + 127) as u32) << 23);
    e_r * two_n
}

/// `tanh(x)`: an odd polynomial below 0.625 in magnitude, `1 - 2 / (e^2|x| + 1)` above.
#[inline(always)]
fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let p = -5.704_988_7e-3;
    let p = p * z + 2.063_909e-2;
    let p = p * z - 5.373_971_6e-2;
    let p = p * z + 0.133_314_42;
    let p = p * z - 0.333_332_8;
    let small = p * z * x + x;
    let large = 1.0 - 2.0 / (exp_clamped(2.0 * a) + 1.0);
    let large = if x < 0.0 { -large } else { large };
    if a < 0.625 {
        small
    } else {
        large
    }
}

#[cfg(test)]
mod tests {
    use super::GateMath;

    /// Every 997th f32 in [-30, 30] (plus the region boundaries), with the exact f64 value.
    fn grid() -> impl Iterator<Item = f32> {
        let (lo, hi) = ((-30f32).to_bits(), 30f32.to_bits());
        let negatives = (0..lo - 0x8000_0000)
            .step_by(997)
            .map(|b| f32::from_bits(b + 0x8000_0000));
        let positives = (0..hi).step_by(997).map(f32::from_bits);
        negatives.chain(positives).chain([
            0.0,
            -0.0,
            0.625,
            -0.625,
            0.624_999_9,
            87.0,
            -87.0,
            200.0,
            -200.0,
        ])
    }

    fn ulps(got: f32, want: f64) -> f64 {
        let want32 = want as f32;
        let ulp = (f32::from_bits(want32.abs().to_bits() + 1) - want32.abs()) as f64;
        (got as f64 - want).abs() / ulp
    }

    #[test]
    fn sigmoid_f32_is_within_3_ulp_of_exact() {
        let worst = grid()
            .filter(|&x| x >= -87.0) // below, the clamp leaves a result under 2e-38
            .map(|x| ulps(x.sigmoid(), 1.0 / (1.0 + (-(x as f64)).exp())))
            .fold(0.0, f64::max);
        assert!(worst <= 3.0, "worst error {worst} ulp");
    }

    #[test]
    fn tanh_f32_is_within_3_ulp_of_exact() {
        let worst = grid()
            .map(|x| ulps(x.tanh_gate(), (x as f64).tanh()))
            .fold(0.0, f64::max);
        assert!(worst <= 3.0, "worst error {worst} ulp");
        assert!(f32::NAN.tanh_gate().is_nan() && f32::NAN.sigmoid().is_nan());
    }

    #[test]
    fn saturated_gates_are_exact_limits() {
        assert_eq!(100f32.sigmoid(), 1.0);
        assert_eq!(20f32.tanh_gate(), 1.0);
        assert_eq!((-20f32).tanh_gate(), -1.0);
        assert!((-100f32).sigmoid() < 2e-38);
    }
}
