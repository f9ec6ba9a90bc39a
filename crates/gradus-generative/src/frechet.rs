//! The Fréchet distance between Gaussians fitted to two feature sets (Dowson & Landau 1982; as
//! the FID of Heusel et al. 2017, with a trained LeNet's features in place of Inception's).
//!
//! `d² = ‖μ₁ - μ₂‖² + Tr(Σ₁ + Σ₂ - 2 (Σ₁ Σ₂)^{1/2})`, with `Tr (Σ₁ Σ₂)^{1/2}` computed in the
//! symmetric form `Tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}` (the same eigenvalues), both roots from
//! symmetric eigendecompositions in f64, so no complex round-off as `scipy.linalg.sqrtm` on the
//! non-symmetric product can give.

use crate::linalg::{matmul, sqrtm_psd, symmetric_eigen};
use crate::{GenError, Result};
use gradus_nn::layers::{Flatten, MaxPool2d};
use gradus_nn::models::LeNet;
use gradus_nn::Module;
use gradus_tensor::autodiff::no_grad;
use gradus_tensor::ops::pool::Pool2d;
use gradus_tensor::Tensor;

/// The mean `(dim)` and the unbiased covariance `(dim, dim)` row-major (divisor `n - 1`, as
/// `numpy.cov`) of `n x dim` row-major `samples`.
///
/// # Errors
/// When `samples.len()` is not a multiple of `dim` or there are fewer than 2 samples.
///
/// ```
/// let (mu, cov) = gradus_generative::mean_and_covariance(&[0.0, 1.0, 2.0, 3.0], 2).unwrap();
/// assert_eq!((mu, cov), (vec![1.0, 2.0], vec![2.0, 2.0, 2.0, 2.0]));
/// ```
pub fn mean_and_covariance(samples: &[f64], dim: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    if dim == 0 || !samples.len().is_multiple_of(dim) || samples.len() < 2 * dim {
        return Err(GenError::BadSamples {
            metric: "frechet_distance",
            detail: format!(
                "needs at least 2 samples of dimension {dim}, got {} values",
                samples.len()
            ),
        });
    }
    let n = samples.len() / dim;
    let mut mu = vec![0.0; dim];
    for row in samples.chunks(dim) {
        mu.iter_mut().zip(row).for_each(|(m, x)| *m += x);
    }
    mu.iter_mut().for_each(|m| *m /= n as f64);
    let mut cov = vec![0.0; dim * dim];
    for row in samples.chunks(dim) {
        let c: Vec<f64> = row.iter().zip(&mu).map(|(x, m)| x - m).collect();
        for i in 0..dim {
            for j in i..dim {
                cov[i * dim + j] += c[i] * c[j];
            }
        }
    }
    for i in 0..dim {
        for j in i..dim {
            cov[i * dim + j] /= (n - 1) as f64;
            cov[j * dim + i] = cov[i * dim + j];
        }
    }
    Ok((mu, cov))
}

/// The squared Fréchet distance between `N(mu1, cov1)` and `N(mu2, cov2)` (covariances
/// `dim x dim` row-major, symmetric positive semi-definite), clamped at 0 against round-off.
///
/// # Errors
/// When the lengths are not `dim` and `dim²`.
///
/// ```
/// use gradus_generative::frechet_distance_gaussians;
/// // diagonal covariances: ‖Δμ‖² + Σ (σ₁ - σ₂)² = 1 + (1 - 2)² = 2
/// let d = frechet_distance_gaussians(&[0.0, 0.0], &[1.0, 0.0, 0.0, 1.0],
///                                    &[1.0, 0.0], &[1.0, 0.0, 0.0, 4.0]).unwrap();
/// assert!((d - 2.0).abs() < 1e-12);
/// ```
pub fn frechet_distance_gaussians(
    mu1: &[f64],
    cov1: &[f64],
    mu2: &[f64],
    cov2: &[f64],
) -> Result<f64> {
    let dim = mu1.len();
    if mu2.len() != dim || cov1.len() != dim * dim || cov2.len() != dim * dim {
        return Err(GenError::BadSamples {
            metric: "frechet_distance",
            detail: format!(
                "means of {} and {} and covariances of {} and {} values do not match one dimension",
                dim,
                mu2.len(),
                cov1.len(),
                cov2.len()
            ),
        });
    }
    let mean_term: f64 = mu1.iter().zip(mu2).map(|(a, b)| (a - b).powi(2)).sum();
    let trace = |c: &[f64]| (0..dim).map(|i| c[i * dim + i]).sum::<f64>();
    let root1 = sqrtm_psd(cov1, dim);
    let middle = matmul(&matmul(&root1, cov2, dim), &root1, dim);
    let (values, _) = symmetric_eigen(&middle, dim);
    let trace_root: f64 = values.iter().map(|l| l.max(0.0).sqrt()).sum();
    Ok((mean_term + trace(cov1) + trace(cov2) - 2.0 * trace_root).max(0.0))
}

/// The squared Fréchet distance between Gaussians fitted to two sets of `dim`-vectors
/// (row-major; [`mean_and_covariance`] then [`frechet_distance_gaussians`]).
///
/// # Errors
/// When a set is not a whole number of at least 2 rows of `dim`.
///
/// ```
/// use gradus_generative::frechet_distance;
/// let a = [0.0, 1.0, 1.0, 0.0, 2.0, 2.0, 3.0, 1.0];
/// let shifted: Vec<f64> = a.iter().map(|v| v + 0.5).collect();
/// assert!(frechet_distance(&a, &a, 2).unwrap() < 1e-12);
/// assert!((frechet_distance(&a, &shifted, 2).unwrap() - 0.5).abs() < 1e-12);
/// ```
pub fn frechet_distance(a: &[f64], b: &[f64], dim: usize) -> Result<f64> {
    let (mu1, cov1) = mean_and_covariance(a, dim)?;
    let (mu2, cov2) = mean_and_covariance(b, dim)?;
    frechet_distance_gaussians(&mu1, &cov1, &mu2, &cov2)
}

/// The penultimate features of a [`LeNet`] (after `fc2` and its ReLU: 84 per image) of
/// `images [N, 1, 28, 28]`, computed without the tape in chunks of 500, as `N x 84` row-major.
///
/// # Errors
/// When `images` is not `[N, 1, 28, 28]`.
///
/// ```
/// use gradus_generative::lenet_features;
/// use gradus_nn::models::LeNet;
/// use gradus_tensor::{DType, Rng, Tensor};
/// let net = LeNet::new(10, &mut Rng::seed(0));
/// let f = lenet_features(&net, &Tensor::zeros(&[3, 1, 28, 28], DType::F32)).unwrap();
/// assert_eq!(f.len(), 3 * 84);
/// assert!(lenet_features(&net, &Tensor::zeros(&[3, 784], DType::F32)).is_err());
/// ```
pub fn lenet_features(net: &LeNet, images: &Tensor) -> Result<Vec<f64>> {
    let shape = images.shape().to_vec();
    if shape.len() != 4 || shape[1..] != [1, 28, 28] {
        return Err(GenError::BadSamples {
            metric: "lenet_features",
            detail: format!("needs images [N, 1, 28, 28], got {shape:?}"),
        });
    }
    let pool = MaxPool2d(Pool2d::new((2, 2)));
    let mut out = Vec::with_capacity(shape[0] * 84);
    for start in (0..shape[0]).step_by(500) {
        let x = images.narrow(0, start, 500.min(shape[0] - start))?;
        let f = no_grad(|| -> Result<Tensor> {
            let h = pool.forward(&net.conv1.forward(&x)?.relu()?)?;
            let h = pool.forward(&net.conv2.forward(&h)?.relu()?)?;
            let h = net.fc1.forward(&Flatten::default().forward(&h)?)?.relu()?;
            Ok(net.fc2.forward(&h)?.relu()?)
        })?;
        out.extend(f.to_vec_f64());
    }
    Ok(out)
}
