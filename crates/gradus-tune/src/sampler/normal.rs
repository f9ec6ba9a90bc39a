//! The standard normal distribution's CDF (through libm's `erfc`), and draws of a normal truncated to an
//! interval: what the Parzen estimators of [`super::parzen`] need.

use rand::Rng;
use rand_distr::StandardNormal;

/// `P(Z <= z)` for a standard normal `Z`.
pub fn cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// `P(a < Z <= b)`, computed on the side of 0 where it does not cancel.
pub fn mass(a: f64, b: f64) -> f64 {
    if a > 0.0 {
        cdf(-a) - cdf(-b)
    } else {
        cdf(b) - cdf(a)
    }
}

/// A draw of `N(mu, sigma²)` truncated to `[low, high]`: by rejection (the estimators' kernels
/// keep at least a fifth of their mass inside), falling back to the interval's nearest end.
pub fn truncated(mu: f64, sigma: f64, low: f64, high: f64, rng: &mut impl Rng) -> f64 {
    for _ in 0..1000 {
        let z: f64 = rng.sample(StandardNormal);
        let x = mu + sigma * z;
        if (low..=high).contains(&x) {
            return x;
        }
    }
    mu.clamp(low, high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_matches_tabulated_values() {
        // Abramowitz & Stegun table 26.1
        for (z, p) in [
            (0.0, 0.5),
            (1.0, 0.841_344_746),
            (1.96, 0.975_002_105),
            (-2.5, 0.006_209_665),
            (4.0, 0.999_968_329),
        ] {
            assert!((cdf(z) - p).abs() < 1e-9, "{z}: {}", cdf(z));
        }
        assert!((mass(5.0, 6.0) - (cdf(-5.0) - cdf(-6.0))).abs() < 1e-12);
        assert!(mass(5.0, 6.0) > 0.0);
    }

    #[test]
    fn truncated_draws_stay_inside() {
        use rand::SeedableRng;
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
        for _ in 0..1000 {
            let x = truncated(0.9, 0.5, 0.0, 1.0, &mut rng);
            assert!((0.0..=1.0).contains(&x));
        }
    }
}
