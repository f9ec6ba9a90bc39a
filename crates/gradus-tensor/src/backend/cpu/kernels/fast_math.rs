//! Branch-free `exp` and the normal distribution's CDF and density for the fused transformer
//! kernels (softmax, cross-entropy, attention, exact GELU).
//!
//! The f32 versions have no calls and no branches, so loops over them vectorize at every SIMD
//! level (libm's `expf` and `erff` are scalar calls: 38% of a GPT step's time before these). The
//! f64 versions are the exact library functions: f64 is the reference path.

use super::math::{exp_clamped_with, mad};
use crate::Element;

/// `e^x`, `Φ(x)` and `φ(x)` per element type. Each fuses its multiply-adds when `FMA` (for
/// loops run as an [`FmaKernel`](crate::backend::cpu::simd::FmaKernel)).
pub(crate) trait VecMath: Element {
    /// `e^x`; exactly 0 below about -87.3 in f32 (where `e^x` leaves the normal range), so that a
    /// `-inf` score (a masked position) gives a zero weight.
    fn exp_with<const FMA: bool>(self) -> Self;
    /// The standard normal CDF `Φ(x) = erfc(-x / √2) / 2` (relative error about 1e-7 in f32).
    fn normal_cdf_with<const FMA: bool>(self) -> Self;
    /// `self * a + b`, rounded once with `FMA` (`mul_add`), else twice.
    fn mad<const FMA: bool>(self, a: Self, b: Self) -> Self;
    /// The standard normal density `φ(x) = e^(-x²/2) / √(2π)`.
    #[inline(always)]
    fn normal_pdf_with<const FMA: bool>(self) -> Self {
        (self * self * Self::from_f64(-0.5)).exp_with::<FMA>() * Self::from_f64(FRAC_1_SQRT_2PI)
    }
}

const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

impl VecMath for f64 {
    #[inline(always)]
    fn exp_with<const FMA: bool>(self) -> f64 {
        self.exp()
    }
    #[inline(always)]
    fn normal_cdf_with<const FMA: bool>(self) -> f64 {
        0.5 * libm::erfc(-self * std::f64::consts::FRAC_1_SQRT_2)
    }
    #[inline(always)]
    fn mad<const FMA: bool>(self, a: f64, b: f64) -> f64 {
        if FMA {
            self.mul_add(a, b)
        } else {
            self * a + b
        }
    }
}

impl VecMath for f32 {
    #[inline(always)]
    fn exp_with<const FMA: bool>(self) -> f32 {
        let e = exp_clamped_with::<FMA>(self);
        if self < -87.0 {
            0.0
        } else {
            e
        }
    }
    #[inline(always)]
    fn normal_cdf_with<const FMA: bool>(self) -> f32 {
        0.5 * erfc_f32::<FMA>(-self * std::f32::consts::FRAC_1_SQRT_2)
    }
    #[inline(always)]
    fn mad<const FMA: bool>(self, a: f32, b: f32) -> f32 {
        mad::<FMA>(self, a, b)
    }
    #[inline(always)]
    fn normal_pdf_with<const FMA: bool>(self) -> f32 {
        (self * self * -0.5).exp_with::<FMA>() * FRAC_1_SQRT_2PI as f32
    }
}

/// `erfc(z)` by the Chebyshev fit of Numerical Recipes (`erfcc`, fractional error below 1.2e-7
/// for every `z`): `t e^(-z² + P(t))` with `t = 1 / (1 + |z| / 2)`, reflected as `2 - erfc(|z|)`
/// for negative `z`. Computing `Φ` from `erfc` keeps its relative error small in both tails.
#[inline(always)]
fn erfc_f32<const FMA: bool>(z: f32) -> f32 {
    let a = z.abs();
    let t = 1.0 / mad::<FMA>(0.5, a, 1.0);
    let p = 0.170_872_77_f32;
    let p = mad::<FMA>(p, t, -0.822_152_23);
    let p = mad::<FMA>(p, t, 1.488_515_9);
    let p = mad::<FMA>(p, t, -1.135_204);
    let p = mad::<FMA>(p, t, 0.278_868_07);
    let p = mad::<FMA>(p, t, -0.186_288_06);
    let p = mad::<FMA>(p, t, 0.096_784_18);
    let p = mad::<FMA>(p, t, 0.374_091_96);
    let p = mad::<FMA>(p, t, 1.000_023_7);
    let p = mad::<FMA>(p, t, -1.265_512_2);
    let r = t * mad::<FMA>(-a, a, p).exp_with::<FMA>();
    if z >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Whether `v` takes the place of `best` in a running first maximum: it is larger, or it is the
/// first NaN (a NaN counts as the maximum, as PyTorch's `max` reports it). Written for selects,
/// not branches: where a maximum lies is data, and a branch on it is mispredicted about as often
/// as not.
#[inline(always)]
pub(crate) fn replaces_max<T: Element>(v: T, best: T) -> bool {
    (v > best) | (v.is_nan() & !best.is_nan())
}

/// `out[r n + j] = e^(x[r n + j] - shift[r])` for the rows of `n` of `x`: the shifts
/// subtracted row by row, then [`VecMath::exp_with`] (fused with `FMA`) over the whole block in
/// one loop, so that rows shorter than a vector (10 classes, against 16 f32 lanes) still run at
/// full width instead of in a row loop's scalar remainder. The values are those of a loop per
/// row.
#[inline(always)]
pub(crate) fn exp_shifted_rows<T: VecMath, const FMA: bool>(
    x: &[T],
    shift: &[T],
    n: usize,
    out: &mut [T],
) {
    let rows = out.chunks_exact_mut(n).zip(x.chunks_exact(n));
    for ((out, x), &s) in rows.zip(shift) {
        for (o, &x) in out.iter_mut().zip(x) {
            *o = x - s;
        }
    }
    for o in out.iter_mut() {
        *o = o.exp_with::<FMA>();
    }
}

/// The sum of `x`, in 16 lanes combined pairwise: a fixed order of additions (so every SIMD
/// level and thread count gives the same bits) that the compiler turns into vector adds.
#[inline(always)]
pub(crate) fn sum<T: Element>(x: &[T]) -> T {
    let mut acc = [T::zero(); 16];
    let mut chunks = x.chunks_exact(16);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = *a + v;
        }
    }
    for (k, &v) in chunks.remainder().iter().enumerate() {
        acc[k] = acc[k] + v;
    }
    combine(acc)
}

/// `sum_i a_i b_i` in the fixed lane order of [`sum`].
#[inline(always)]
pub(crate) fn dot<T: Element>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::zero(); 16];
    let (mut ca, mut cb) = (a.chunks_exact(16), b.chunks_exact(16));
    for (x, y) in (&mut ca).zip(&mut cb) {
        for ((a, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            *a = *a + x * y;
        }
    }
    for (k, (&x, &y)) in ca.remainder().iter().zip(cb.remainder()).enumerate() {
        acc[k] = acc[k] + x * y;
    }
    combine(acc)
}

/// `[x[0] . w, x[1] . w, x[2] . w, x[3] . w]`, computed side by side: four independent chains,
/// their multiply-adds fused when `FMA`. The first `16 * (len / 16)` products are summed in
/// [`dot`]'s lane order, the rest one after another and added to that sum.
#[inline(always)]
pub(crate) fn dot4<const FMA: bool, T: VecMath>(x: [&[T]; 4], w: &[T]) -> [T; 4] {
    let mut acc = [[T::zero(); 16]; 4];
    let full = w.len() / 16 * 16;
    let lanes = |s: &[T], c: usize| -> [T; 16] { s[c..c + 16].try_into().unwrap() };
    for c in (0..full).step_by(16) {
        let (wc, x0, x1, x2, x3) = (
            lanes(w, c),
            lanes(x[0], c),
            lanes(x[1], c),
            lanes(x[2], c),
            lanes(x[3], c),
        );
        for l in 0..16 {
            acc[0][l] = x0[l].mad::<FMA>(wc[l], acc[0][l]);
            acc[1][l] = x1[l].mad::<FMA>(wc[l], acc[1][l]);
            acc[2][l] = x2[l].mad::<FMA>(wc[l], acc[2][l]);
            acc[3][l] = x3[l].mad::<FMA>(wc[l], acc[3][l]);
        }
    }
    // the last `len % 16` products summed apart and added last: written into the lanes in
    // memory, they made each row's combine reload its lanes through a failed store forwarding
    let mut out = combine4(acc);
    for (o, x) in out.iter_mut().zip(x) {
        let tail = x[full..]
            .iter()
            .zip(&w[full..])
            .fold(T::zero(), |t, (&x, &y)| x.mad::<FMA>(y, t));
        *o = *o + tail;
    }
    out
}

/// The largest element (`-inf` for an empty slice); NaN elements are skipped here and show up
/// in the sums that follow.
#[inline(always)]
pub(crate) fn max<T: Element>(x: &[T]) -> T {
    let mut acc = [T::neg_infinity(); 16];
    let mut chunks = x.chunks_exact(16);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = if v > *a { v } else { *a };
        }
    }
    for (k, &v) in chunks.remainder().iter().enumerate() {
        acc[k] = if v > acc[k] { v } else { acc[k] };
    }
    acc.into_iter()
        .fold(T::neg_infinity(), |m, v| if v > m { v } else { m })
}

/// `y += a x`.
#[inline(always)]
pub(crate) fn axpy<T: Element>(y: &mut [T], a: T, x: &[T]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = *y + a * x;
    }
}

/// [`combine`] of four rows of lanes at once, the same additions in the same order (so the same
/// bits), with the rows packed side by side: each step adds two 16-lane vectors instead of
/// four half-empty ones. Step 1 leaves rows 0 and 1 in one vector (lanes `l` and `l + 8` of a
/// row added), step 2 all four rows (four lanes each), steps 3 and 4 sum within each four.
#[inline(always)]
fn combine4<T: Element>(acc: [[T; 16]; 4]) -> [T; 4] {
    let halves = |a: &[T; 16], b: &[T; 16]| -> [T; 16] {
        std::array::from_fn(|l| {
            if l < 8 {
                a[l] + a[l + 8]
            } else {
                b[l - 8] + b[l]
            }
        })
    };
    let (t01, t23) = (halves(&acc[0], &acc[1]), halves(&acc[2], &acc[3]));
    // quarter q of `u` holds row q: rows 0 and 1 from t01's halves, rows 2 and 3 from t23's
    let u: [T; 16] = std::array::from_fn(|l| {
        let (q, i) = (l / 4, l % 4);
        let t = if q < 2 { &t01 } else { &t23 };
        let base = (q % 2) * 8;
        t[base + i] + t[base + i + 4]
    });
    let v: [T; 16] = std::array::from_fn(|l| u[l] + u[l ^ 2]);
    let w: [T; 16] = std::array::from_fn(|l| v[l] + v[l ^ 1]);
    [w[0], w[4], w[8], w[12]]
}

#[inline(always)]
fn combine<T: Element>(mut acc: [T; 16]) -> T {
    let mut width = 8;
    while width > 0 {
        let (lo, hi) = acc.split_at_mut(width);
        for (a, &b) in lo.iter_mut().zip(hi.iter()) {
            *a = *a + b;
        }
        width /= 2;
    }
    acc[0]
}

#[cfg(test)]
mod tests {
    use super::VecMath;

    fn grid() -> impl Iterator<Item = f32> {
        (0..=40_000).map(|i| -20.0 + i as f32 * 1e-3)
    }

    /// `exp`, `Φ` and `φ` fused (`FMA`) and unfused.
    fn both<R>(f: impl Fn(bool) -> R) -> [R; 2] {
        [f(false), f(true)]
    }

    #[test]
    fn exp_f32_is_within_2_ulp_and_underflows_to_zero() {
        let exp = |x: f32, fma: bool| {
            if fma {
                x.exp_with::<true>()
            } else {
                x.exp_with::<false>()
            }
        };
        both(|fma| {
            for x in (0..=20_000).map(|i| -87.0 + i as f32 * 8.7e-3) {
                let (got, want) = (exp(x, fma) as f64, (x as f64).exp());
                assert!(
                    (got - want).abs() <= 2.5e-7 * want,
                    "exp({x}) = {got}, want {want} (fused: {fma})"
                );
            }
            assert_eq!(exp(f32::NEG_INFINITY, fma), 0.0);
            assert_eq!(exp(-100.0, fma), 0.0);
            assert!(exp(f32::NAN, fma).is_nan());
        });
    }

    /// Within 1e-6 relative, plus what rounding `x` and `x²` to f32 costs in `e^(-x²/2)` (about
    /// a relative `2 x² 2^-24`: 1.2e-5 at |x| = 10, where the value is below 1e-22), and 1e-37 absolute
    /// (values below f32's normal range); fused and unfused.
    #[test]
    fn normal_cdf_and_pdf_f32_match_f64() {
        let cdf_pdf = |x: f32, fma: bool| {
            if fma {
                (x.normal_cdf_with::<true>(), x.normal_pdf_with::<true>())
            } else {
                (x.normal_cdf_with::<false>(), x.normal_pdf_with::<false>())
            }
        };
        both(|fma| {
            for x in grid() {
                let tol = 1e-6 + (x as f64).powi(2) * 1.2e-7;
                let (cdf, pdf) = cdf_pdf(x, fma);
                let want = (x as f64).normal_cdf_with::<false>();
                assert!(
                    (cdf as f64 - want).abs() <= tol * want + 1e-37,
                    "Φ({x}) = {cdf}, want {want} (fused: {fma})"
                );
                let want = (x as f64).normal_pdf_with::<false>();
                assert!(
                    (pdf as f64 - want).abs() <= tol * want + 1e-37,
                    "φ({x}) = {pdf}, want {want} (fused: {fma})"
                );
            }
            assert!(cdf_pdf(f32::NAN, fma).0.is_nan());
        });
    }

    /// The fused path really fuses: fused and unfused `Φ` differ in the last bits somewhere on
    /// the grid (both within the tolerance of `normal_cdf_and_pdf_f32_match_f64`).
    #[test]
    fn fused_and_unfused_cdf_differ_in_the_last_bits() {
        let differ = grid()
            .filter(|x| x.normal_cdf_with::<true>() != x.normal_cdf_with::<false>())
            .count();
        assert!(differ > 0);
    }

    #[test]
    fn lane_sums_are_exact_on_integers() {
        let x: Vec<f64> = (1..=37).map(f64::from).collect();
        assert_eq!(super::sum(&x), 703.0);
        assert_eq!(super::dot(&x, &x), (1..=37).map(|i| (i * i) as f64).sum());
        assert_eq!(super::max(&x), 37.0);
        assert_eq!(super::max::<f64>(&[]), f64::NEG_INFINITY);
    }

    #[test]
    fn dot4_fused_and_unfused_are_four_dots() {
        for len in [0, 5, 16, 37, 100] {
            let rows: Vec<Vec<f32>> = (0..4)
                .map(|r| {
                    (0..len)
                        .map(|i| ((i * 31 + r * 7) as f32 * 0.37).sin())
                        .collect()
                })
                .collect();
            let w: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            let x = [&rows[0][..], &rows[1], &rows[2], &rows[3]];
            let (got, fused) = (
                super::dot4::<false, _>(x, &w),
                super::dot4::<true, _>(x, &w),
            );
            for (r, row) in rows.iter().enumerate() {
                let exact: f64 = row.iter().zip(&w).map(|(&a, &b)| a as f64 * b as f64).sum();
                let scale: f64 = row
                    .iter()
                    .zip(&w)
                    .map(|(&a, &b)| (a * b).abs() as f64)
                    .sum();
                let (got, dot) = (got[r] as f64, super::dot(row, &w) as f64);
                // both within f32 summation error of the exact sum; unfused, the bits of `dot`
                // when the length is a multiple of 16 (the same lane order, no tail)
                for v in [got, fused[r] as f64] {
                    let err = (v - exact).abs();
                    assert!(err <= 1e-6 * scale.max(1.0), "len {len} row {r}: {err}");
                }
                if len % 16 == 0 {
                    assert_eq!(got, dot, "len {len} row {r}");
                }
            }
        }
    }
}
