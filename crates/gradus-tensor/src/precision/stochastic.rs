//! Stochastic rounding of 16-bit parameter updates: inside [`stochastic_rounding`], a fused
//! optimizer update ([`crate::fused`]) that writes a bf16 tensor rounds each new value up or
//! down at random, with the probability of each neighbour proportional to its nearness, so the
//! rounding is unbiased: an update smaller than half a bf16 step still moves the parameter in
//! expectation, where rounding to nearest would drop it every step (Gupta et al., "Deep
//! Learning with Limited Numerical Precision", ICML 2015; Zamirai et al., "Revisiting BFloat16
//! Training", 2020). Every other op, and f16 tensors, round to nearest.
//!
//! The random bits come from a counter-based hash of the scope's seed, the write's number in
//! the scope and the element's index, so results do not depend on the thread count and a run
//! repeats bit for bit from its seed.

use std::cell::Cell;

thread_local! {
    /// The scope's seed and the writes done in it.
    static STATE: Cell<Option<(u64, u64)>> = const { Cell::new(None) };
}

/// Runs `f` with stochastic rounding of bf16 optimizer updates on this thread, drawing from
/// `seed` (give each step its own), and restores the previous setting afterwards, also when `f`
/// panics.
///
/// ```
/// use gradus_tensor::fused::{fused_update, ElementRule, FusedTarget};
/// use gradus_tensor::precision::stochastic::stochastic_rounding;
/// use gradus_tensor::{DType, Element, Tensor};
/// /// SGD: `p <- p - lr g`.
/// struct Sgd(f64);
/// impl ElementRule<0> for Sgd {
///     const NAME: &'static str = "sgd";
///     type Out<T: Element> = T;
///     fn lane<T: Element>(&self, _p: T, g: T, _: [&mut T; 0]) -> T {
///         -T::from_f64(self.0) * g
///     }
/// }
/// // each step lowers p = 1 by 2^-10, a quarter of bf16's step below 1 (2^-8)
/// let p = Tensor::ones(&[4096], DType::BF16);
/// let g = Tensor::ones(&[4096], DType::BF16);
/// let rule = Sgd(2f64.powi(-10));
/// fused_update(FusedTarget::Params, &p, &g, [], &rule).unwrap();
/// assert!(p.to_vec_f64().iter().all(|&v| v == 1.0)); // to nearest: lost
/// stochastic_rounding(7, || fused_update(FusedTarget::Params, &p, &g, [], &rule)).unwrap();
/// let mean = p.to_vec_f64().iter().sum::<f64>() / 4096.0;
/// assert!((mean - (1.0 - 2f64.powi(-10))).abs() < 2e-4); // kept, in expectation
/// ```
pub fn stochastic_rounding<R>(seed: u64, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<(u64, u64)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            STATE.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(STATE.with(|s| s.replace(Some((seed, 0)))));
    f()
}

/// The random stream of the next bf16 write in a [`stochastic_rounding`] scope (`None` outside
/// one); each call gives a new stream.
pub(crate) fn next_stream() -> Option<u64> {
    STATE.with(|s| {
        let (seed, writes) = s.get()?;
        s.set(Some((seed, writes + 1)));
        Some(splitmix64(seed ^ splitmix64(writes)))
    })
}

/// 16 random bits for element `index` of the write `stream`.
#[inline]
pub(crate) fn random16(stream: u64, index: u64) -> u16 {
    (splitmix64(stream ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15)) >> 48) as u16
}

/// SplitMix64's finalizer (Steele, Lea and Flood, OOPSLA 2014): a bijective mix of 64 bits.
#[inline]
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `x` rounded to bf16 bits stochastically with the 16 random bits `random`: the magnitude's
/// dropped low 16 bits plus `random` carry into the kept part with probability (dropped part) /
/// 2^16. Infinities and NaNs round as to nearest.
///
/// ```
/// use gradus_tensor::precision::stochastic::round_bf16_stochastic;
/// // 1 + 2^-9 is a quarter of the way from 1 (0x3f80) to 1 + 2^-7 (0x3f81)
/// let x = 1.0f32 + 2f32.powi(-9);
/// assert_eq!(round_bf16_stochastic(x, 0xbfff), 0x3f80);
/// assert_eq!(round_bf16_stochastic(x, 0xc000), 0x3f81);
/// ```
pub fn round_bf16_stochastic(x: f32, random: u16) -> u16 {
    if !x.is_finite() {
        return super::convert::f32_to_bf16_bits(x);
    }
    (x.to_bits().wrapping_add(random as u32) >> 16) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::precision::convert::bf16_bits_to_f32;

    #[test]
    fn rounding_is_unbiased_and_picks_a_neighbour() {
        for x in [1.0f32 + 2f32.powi(-9), -3.3, 1e-20, 0.1] {
            let (mut sum, n) = (0f64, 1 << 16);
            let down = f32::from_bits(x.to_bits() & 0xffff_0000);
            let up = f32::from_bits((x.to_bits() & 0xffff_0000) + 0x1_0000);
            // every 16-bit draw once: the mean is exact up to one 2^-16 step of the gap
            for r in 0..n {
                let v = bf16_bits_to_f32(round_bf16_stochastic(x, r as u16));
                assert!(v == down || v == up, "{x}: {v}");
                sum += v as f64;
            }
            let gap = (up as f64 - down as f64).abs();
            assert!((sum / n as f64 - x as f64).abs() <= gap / n as f64, "{x}");
        }
        // exact values never move; infinities and NaN stay
        assert_eq!(round_bf16_stochastic(1.5, 0xffff), 0x3fc0);
        assert_eq!(round_bf16_stochastic(f32::INFINITY, 0xffff), 0x7f80);
        assert!(bf16_bits_to_f32(round_bf16_stochastic(f32::NAN, 3)).is_nan());
    }

    #[test]
    fn streams_differ_per_write_and_scope_and_end_with_it() {
        assert_eq!(next_stream(), None);
        let (a, b) = stochastic_rounding(1, || (next_stream(), next_stream()));
        assert_ne!(a, b);
        assert_eq!(
            stochastic_rounding(1, next_stream),
            a,
            "a scope repeats from its seed"
        );
        assert_ne!(stochastic_rounding(2, next_stream), a);
        assert_eq!(next_stream(), None);
    }
}
