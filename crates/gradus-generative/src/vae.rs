//! A variational autoencoder for binary data (Kingma & Welling 2014, "Auto-Encoding Variational
//! Bayes"): Gaussian encoder `q(z|x)`, standard normal prior, Bernoulli decoder `p(x|z)`.

use crate::Result;
use gradus_nn::layers::{Activation, Linear};
use gradus_nn::loss::{bce_with_logits, Reduction};
use gradus_nn::models::Mlp;
use gradus_nn::Module;
use gradus_tensor::{DType, Rng, Tensor};

/// A VAE with one-hidden-layer MLPs: encoder `Linear(input, hidden) → ReLU` then two heads
/// `Linear(hidden, latent)` for the mean and the log-variance of `q(z|x)`, decoder
/// `Linear(latent, hidden) → ReLU → Linear(hidden, input)` giving Bernoulli logits. f32.
///
/// ```
/// use gradus_generative::Vae;
/// use gradus_tensor::{DType, Rng, Tensor};
/// let mut rng = Rng::seed(0);
/// let vae = Vae::new(6, 8, 2, &mut rng);
/// let x = Tensor::ones(&[3, 6], DType::F32);
/// assert!(vae.elbo(&x, &mut rng).unwrap().item().unwrap() < 0.0);
/// assert_eq!(vae.sample(4, &mut rng).unwrap().shape(), &[4, 6]);
/// ```
pub struct Vae {
    encoder: Linear, // (input -> hidden)
    mu: Linear,      // (hidden -> latent)
    logvar: Linear,  // (hidden -> latent)
    decoder: Mlp,    // (latent -> hidden -> input)
    latent: usize,
}

impl Vae {
    /// A VAE for `input`-long binary vectors with `hidden` units and a `latent`-dimensional code.
    pub fn new(input: usize, hidden: usize, latent: usize, rng: &mut Rng) -> Vae {
        Vae {
            encoder: Linear::new(input, hidden, true, rng),
            mu: Linear::new(hidden, latent, true, rng),
            logvar: Linear::new(hidden, latent, true, rng),
            decoder: Mlp::new(&[latent, hidden, input], Activation::ReLU, rng),
            latent,
        }
    }

    /// The mean and log-variance of `q(z|x)` for `x [N, input]`, each `[N, latent]`.
    ///
    /// # Errors
    /// When `x` is not `[N, input]`.
    pub fn encode(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let h = self.encoder.forward(x)?.relu()?;
        Ok((self.mu.forward(&h)?, self.logvar.forward(&h)?))
    }

    /// The Bernoulli logits of `p(x|z)` for codes `z [N, latent]`, as `[N, input]`.
    ///
    /// # Errors
    /// When `z` is not `[N, latent]`.
    pub fn decode(&self, z: &Tensor) -> Result<Tensor> {
        Ok(self.decoder.forward(z)?)
    }

    /// The evidence lower bound per example, averaged over the batch `x [N, input]` of values in
    /// `[0, 1]`, in nats, from one reparameterized sample `z = μ + σ ε`:
    /// `E_q[log p(x|z)] - KL(q(z|x) ‖ N(0, I))`, with the KL in closed form
    /// `-½ Σ (1 + log σ² - μ² - σ²)`. Differentiable; maximize it (minimize its negative).
    ///
    /// # Errors
    /// When `x` is not `[N, input]`.
    pub fn elbo(&self, x: &Tensor, rng: &mut Rng) -> Result<Tensor> {
        let n = x.shape()[0] as f64;
        let (mu, logvar) = self.encode(x)?;
        let eps = rng.normal(mu.shape(), 0.0, 1.0, mu.dtype());
        let z = mu.add(&logvar.mul_scalar(0.5)?.exp()?.mul(&eps)?)?;
        let recon = bce_with_logits(&self.decode(&z)?, x, Reduction::Sum)?;
        let kl = logvar
            .add_scalar(1.0)?
            .sub(&mu.mul(&mu)?)?
            .sub(&logvar.exp()?)?
            .sum_all()?
            .mul_scalar(-0.5)?;
        Ok(recon.add(&kl)?.mul_scalar(-1.0 / n)?)
    }

    /// `n` samples of `p(x|z)`'s mean (pixel probabilities) for `z ~ N(0, I)`, as `[n, input]`.
    ///
    /// # Errors
    /// Only on an internal shape error.
    pub fn sample(&self, n: usize, rng: &mut Rng) -> Result<Tensor> {
        let z = rng.normal(&[n, self.latent], 0.0, 1.0, DType::F32);
        Ok(self.decode(&z)?.sigmoid()?)
    }
}

impl Module for Vae {
    /// The reconstruction probabilities of `x` through the mean code `μ(x)`.
    fn forward(&self, x: &Tensor) -> gradus_tensor::Result<Tensor> {
        let h = self.encoder.forward(x)?.relu()?;
        self.decoder.forward(&self.mu.forward(&h)?)?.sigmoid()
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("encoder".into(), &self.encoder as &dyn Module),
            ("mu".into(), &self.mu as &dyn Module),
            ("logvar".into(), &self.logvar as &dyn Module),
            ("decoder".into(), &self.decoder as &dyn Module),
        ]
    }
}
