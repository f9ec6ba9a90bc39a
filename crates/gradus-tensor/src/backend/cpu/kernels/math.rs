//! Branch-free `sigmoid` and `tanh` for the fused recurrent kernels, with their multiply-adds
//! fused on CPUs with FMA.
//!
//! The f32 versions use Cephes' range reduction and polynomials (about 2 ulp from the exact
//! value), written without calls or branches so that loops over them vectorize; libm's `expf` and
//! `tanhf` are scalar calls and cost more than the matrix products in an LSTM step. The f64
//! versions are the exact library functions (f64 is the reference path).

use crate::Element;

/// The gate nonlinearities, per element type. The f32 versions fuse their multiply-adds with
/// `FMA` (see [`FmaKernel`](crate::backend::cpu::simd::FmaKernel)); f64 calls the library.
pub(crate) trait GateMath: Element {
    /// `1 / (1 + e^-x)`.
    fn sigmoid_with<const FMA: bool>(self) -> Self;
    /// `tanh(x)`.
    fn tanh_gate_with<const FMA: bool>(self) -> Self;
    /// [`sigmoid_with`](Self::sigmoid_with), unfused.
    fn sigmoid(self) -> Self {
        self.sigmoid_with::<false>()
    }
}

impl GateMath for f64 {
    fn sigmoid_with<const FMA: bool>(self) -> f64 {
        1.0 / (1.0 + (-self).exp())
    }
    fn tanh_gate_with<const FMA: bool>(self) -> f64 {
        self.tanh()
    }
}

impl GateMath for f32 {
    #[inline(always)]
    fn sigmoid_with<const FMA: bool>(self) -> f32 {
        1.0 / (1.0 + exp_clamped_with::<FMA>(-self))
    }
    #[inline(always)]
    fn tanh_gate_with<const FMA: bool>(self) -> f32 {
        tanh_f32::<FMA>(self)
    }
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

/// `e^x` for `x` clamped to `[-87, 87]` (where `e^x` is a normal f32): enough for the gates,
/// which saturate long before. Its multiply-adds are fused when `FMA` (see
/// [`FmaKernel`](crate::backend::cpu::simd::FmaKernel)).
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
fn tanh_f32<const FMA: bool>(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let p = -5.704_988_7e-3;
    let p = mad::<FMA>(p, z, 2.063_909e-2);
    let p = mad::<FMA>(p, z, -5.373_971_6e-2);
    let p = mad::<FMA>(p, z, 0.133_314_42);
    let p = mad::<FMA>(p, z, -0.333_332_8);
    let small = mad::<FMA>(p * z, x, x);
    let large = 1.0 - 2.0 / (exp_clamped_with::<FMA>(2.0 * a) + 1.0);
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

    /// An f32 function.
    type Gate = fn(f32) -> f32;

    /// `sigmoid` and `tanh`, unfused (`false`) and fused (`true`).
    fn gates(fma: bool) -> (Gate, Gate) {
        if fma {
            (f32::sigmoid_with::<true>, f32::tanh_gate_with::<true>)
        } else {
            (f32::sigmoid_with::<false>, f32::tanh_gate_with::<false>)
        }
    }

    #[test]
    fn sigmoid_f32_is_within_3_ulp_of_exact() {
        for fma in [false, true] {
            let sigmoid = gates(fma).0;
            let worst = grid()
                .filter(|&x| x >= -87.0) // below, the clamp leaves a result under 2e-38
                .map(|x| ulps(sigmoid(x), 1.0 / (1.0 + (-(x as f64)).exp())))
                .fold(0.0, f64::max);
            assert!(worst <= 3.0, "worst error {worst} ulp (fused: {fma})");
        }
    }

    #[test]
    fn tanh_f32_is_within_3_ulp_of_exact() {
        for fma in [false, true] {
            let (sigmoid, tanh) = gates(fma);
            let worst = grid()
                .map(|x| ulps(tanh(x), (x as f64).tanh()))
                .fold(0.0, f64::max);
            assert!(worst <= 3.0, "worst error {worst} ulp (fused: {fma})");
            assert!(tanh(f32::NAN).is_nan() && sigmoid(f32::NAN).is_nan());
        }
    }

    #[test]
    fn saturated_gates_are_exact_limits() {
        for fma in [false, true] {
            let (sigmoid, tanh) = gates(fma);
            assert_eq!(sigmoid(100.0), 1.0);
            assert_eq!(tanh(20.0), 1.0);
            assert_eq!(tanh(-20.0), -1.0);
            assert!(sigmoid(-100.0) < 2e-38);
        }
    }

    #[test]
    fn fused_gates_round_differently_somewhere() {
        // the fused build runs its own instructions, not the unfused ones again
        let (s0, t0) = gates(false);
        let (s1, t1) = gates(true);
        assert!(grid().any(|x| s0(x).to_bits() != s1(x).to_bits()));
        assert!(grid().any(|x| t0(x).to_bits() != t1(x).to_bits()));
    }
}
