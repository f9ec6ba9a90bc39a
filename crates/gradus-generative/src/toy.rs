//! Toy 2-D distributions of the GAN and diffusion literature, as row-major `(n, 2)` f64 samples.

use gradus_tensor::Rng;

/// One standard normal draw (Box–Muller on two uniforms).
fn gauss(rng: &mut Rng) -> f64 {
    let u1 = 1.0 - rng.uniform_f64(); // in (0, 1]
    let u2 = rng.uniform_f64();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// The centres of the 8-Gaussian ring: radius 2, at angles `k π / 4`.
///
/// ```
/// let c = gradus_generative::toy::eight_gaussian_centers();
/// assert_eq!(c.len(), 8);
/// assert!((c[0][0] - 2.0).abs() < 1e-12 && c[0][1].abs() < 1e-12);
/// ```
pub fn eight_gaussian_centers() -> Vec<[f64; 2]> {
    (0..8)
        .map(|k| {
            let a = k as f64 * std::f64::consts::FRAC_PI_4;
            [2.0 * a.cos(), 2.0 * a.sin()]
        })
        .collect()
}

/// The standard deviation of each component of [`eight_gaussians`].
pub const EIGHT_GAUSSIANS_STD: f64 = 0.02;

/// `n` samples of the mixture of 8 Gaussians on a ring of radius 2 with standard deviation
/// [`EIGHT_GAUSSIANS_STD`] (Metz et al. 2017, "Unrolled GANs"; Gulrajani et al. 2017), components
/// equally likely; `(n, 2)` row-major.
///
/// ```
/// let x = gradus_generative::toy::eight_gaussians(10, &mut gradus_tensor::Rng::seed(0));
/// assert_eq!(x.len(), 20);
/// ```
pub fn eight_gaussians(n: usize, rng: &mut Rng) -> Vec<f64> {
    let centers = eight_gaussian_centers();
    let mut out = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let c = centers[rng.below(8)];
        out.push(c[0] + EIGHT_GAUSSIANS_STD * gauss(rng));
        out.push(c[1] + EIGHT_GAUSSIANS_STD * gauss(rng));
    }
    out
}

/// `n` samples of the 2-D swiss roll as scikit-learn's `make_swiss_roll` draws it (`t` uniform
/// in `[1.5π, 4.5π]`, point `(t cos t, t sin t)`), scaled by 1/5 to about unit spread, plus
/// Gaussian noise of standard deviation `0.1 / 5`; `(n, 2)` row-major.
///
/// ```
/// let x = gradus_generative::toy::swiss_roll(100, &mut gradus_tensor::Rng::seed(0));
/// assert!(x.iter().all(|v| v.abs() < 3.0));
/// ```
pub fn swiss_roll(n: usize, rng: &mut Rng) -> Vec<f64> {
    let mut out = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let t = 1.5 * std::f64::consts::PI * (1.0 + 2.0 * rng.uniform_f64());
        out.push((t * t.cos() + 0.1 * gauss(rng)) / 5.0);
        out.push((t * t.sin() + 0.1 * gauss(rng)) / 5.0);
    }
    out
}
