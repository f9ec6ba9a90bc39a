//! # gradus-generative
//!
//! Generative models trained with gradus's autodiff, and the toy data and distances that score
//! them:
//!
//! - [`Vae`]: a variational autoencoder (Kingma & Welling 2014) with MLP encoder and decoder and a
//!   Bernoulli likelihood, for binarized images; [`Vae::elbo`] in nats.
//! - [`Ddpm`]: a denoising diffusion probabilistic model (Ho, Jain & Abbeel 2020) with an MLP
//!   noise predictor for low-dimensional data.
//! - [`WganGp`]: a Wasserstein GAN with gradient penalty (Gulrajani et al. 2017); the penalty
//!   differentiates the critic's input gradient (double backward).
//! - [`toy`]: the 8-Gaussian ring and the swiss roll; [`mode_coverage`] and
//!   [`sliced_wasserstein`] to score samples against them.
//! - [`frechet_distance`]: the Fréchet distance between Gaussians fitted to feature sets (FID's
//!   formula), with [`lenet_features`] for MNIST-like images.
//! - [`report`]: the run's self-contained `report.html`: training curves, image grids as PNG,
//!   2-D samples over their data.
//!
//! ```
//! use gradus_generative::{sliced_wasserstein, toy};
//! use gradus_tensor::Rng;
//! let mut rng = Rng::seed(0);
//! let a = toy::eight_gaussians(512, &mut rng);
//! let b = toy::eight_gaussians(512, &mut rng);
//! let far = toy::swiss_roll(512, &mut rng);
//! let near = sliced_wasserstein(&a, &b, 2, 64, &mut rng).unwrap();
//! assert!(near < sliced_wasserstein(&a, &far, 2, 64, &mut rng).unwrap());
//! ```
#![warn(missing_docs)]

mod ddpm;
mod error;
mod frechet;
mod linalg;
mod metrics;
pub mod report;
pub mod toy;
mod vae;
mod wgan_gp;

pub use ddpm::{Ddpm, DdpmConfig};
pub use error::{GenError, Result};
pub use frechet::{
    frechet_distance, frechet_distance_gaussians, lenet_features, mean_and_covariance,
};
pub use metrics::{mode_coverage, sliced_wasserstein, ModeCoverage};
pub use vae::Vae;
pub use wgan_gp::{WganGp, WganGpConfig};
