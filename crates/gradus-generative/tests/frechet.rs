//! The Fréchet distance against known answers: a set with itself, shifted sets, diagonal
//! covariances in closed form, and scipy's `sqrtm` path (constants from `data/frechet_scipy.py`).

use gradus_generative::{frechet_distance, frechet_distance_gaussians};
use gradus_tensor::{DType, Rng};

const MU1: [f64; 3] = [0.1, -0.2, 0.3];
const MU2: [f64; 3] = [0.5, 0.0, -0.4];
// Σ₁ = B₁B₁ᵀ, Σ₂ = B₂B₂ᵀ for the B of data/frechet_scipy.py
const S1: [f64; 9] = [5.25, -1.0, 0.1, -1.0, 2.38, 0.4, 0.1, 0.4, 1.16];
const S2: [f64; 9] = [1.49, -0.04, 0.27, -0.04, 1.09, 0.38, 0.27, 0.38, 2.01];
/// scipy 1.17.1, `linalg.sqrtm(S1 @ S2)`
const SCIPY_FD: f64 = 2.2759361290828153;
/// the same with Σ₂ = diag(1, 2, 0), singular
const SCIPY_FD_SINGULAR: f64 = 3.6257179453578523;

#[test]
fn matches_scipy_sqrtm_on_non_commuting_covariances() {
    let d = frechet_distance_gaussians(&MU1, &S1, &MU2, &S2).unwrap();
    assert!((d - SCIPY_FD).abs() < 1e-10, "{d} against scipy {SCIPY_FD}");
    let s3 = [1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0];
    let d = frechet_distance_gaussians(&MU1, &S1, &MU2, &s3).unwrap();
    // scipy warns that S1 S3 is singular; its answer still agrees to about 1e-8
    assert!(
        (d - SCIPY_FD_SINGULAR).abs() < 1e-7,
        "{d} against scipy {SCIPY_FD_SINGULAR}"
    );
    // symmetric in its arguments
    let back = frechet_distance_gaussians(&MU2, &S2, &MU1, &S1).unwrap();
    assert!((back - SCIPY_FD).abs() < 1e-10);
}

#[test]
fn diagonal_covariances_give_the_closed_form() {
    // between N(μ₁, diag σ₁²) and N(μ₂, diag σ₂²): ‖μ₁ - μ₂‖² + Σ (σ₁ᵢ - σ₂ᵢ)²
    let (sd1, sd2) = ([1.0, 0.5, 2.0, 3.0], [2.0, 0.5, 1.0, 0.1]);
    let diag = |sd: &[f64; 4]| {
        let mut c = vec![0.0; 16];
        (0..4).for_each(|i| c[i * 5] = sd[i] * sd[i]);
        c
    };
    let (m1, m2) = ([0.0, 1.0, 2.0, 3.0], [1.0, 1.0, 0.0, 3.5]);
    let want = 1.0 + 4.0 + 0.25 + (1.0 + 0.0 + 1.0 + 2.9f64 * 2.9);
    let d = frechet_distance_gaussians(&m1, &diag(&sd1), &m2, &diag(&sd2)).unwrap();
    assert!((d - want).abs() < 1e-12, "{d} against {want}");
}

/// `n` draws of `N(mean, diag sd²)`, row-major.
fn gaussian(n: usize, mean: &[f64], sd: &[f64], rng: &mut Rng) -> Vec<f64> {
    let z = rng
        .normal(&[n, mean.len()], 0.0, 1.0, DType::F64)
        .to_vec::<f64>()
        .unwrap();
    z.chunks(mean.len())
        .flat_map(|row| row.iter().zip(mean).zip(sd).map(|((z, m), s)| m + s * z))
        .collect()
}

#[test]
fn a_set_with_itself_is_at_zero_and_a_shift_costs_its_square() {
    let mut rng = Rng::seed(0);
    let a = gaussian(500, &[0.0; 6], &[1.0, 2.0, 0.5, 1.0, 1.0, 3.0], &mut rng);
    let same = frechet_distance(&a, &a, 6).unwrap();
    assert!(same.abs() < 1e-9, "{same}");
    let shift = [0.5, -1.0, 0.0, 2.0, 0.0, 0.0];
    let b: Vec<f64> = a
        .iter()
        .enumerate()
        .map(|(i, v)| v + shift[i % 6])
        .collect();
    let d = frechet_distance(&a, &b, 6).unwrap();
    assert!((d - 5.25).abs() < 1e-9, "{d}");
}

#[test]
fn two_sampled_gaussians_approach_the_closed_form() {
    // independent samples of N(0, I) and N(δ, diag(2², 1, 1)): d² = ‖δ‖² + (2 - 1)² = 2 + 1
    let mut rng = Rng::seed(1);
    let a = gaussian(20_000, &[0.0; 3], &[1.0; 3], &mut rng);
    let b = gaussian(20_000, &[1.0, 1.0, 0.0], &[2.0, 1.0, 1.0], &mut rng);
    let d = frechet_distance(&a, &b, 3).unwrap();
    assert!((d - 3.0).abs() < 0.1, "{d}");
    let far = gaussian(20_000, &[3.0, 1.0, 0.0], &[2.0, 1.0, 1.0], &mut rng);
    assert!(frechet_distance(&a, &far, 3).unwrap() > d + 5.0);
}

#[test]
fn bad_shapes_are_errors_naming_the_sizes() {
    let e = frechet_distance(&[1.0, 2.0, 3.0], &[1.0, 2.0], 2).unwrap_err();
    assert!(e.to_string().contains("3 values"), "{e}");
    let e = frechet_distance_gaussians(&[0.0], &[1.0], &[0.0, 1.0], &[1.0; 4]).unwrap_err();
    assert!(e.to_string().contains("1 and 2"), "{e}");
}
