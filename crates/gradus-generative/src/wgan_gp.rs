//! A Wasserstein GAN with gradient penalty (Gulrajani et al. 2017, "Improved Training of
//! Wasserstein GANs", Algorithm 1).
//!
//! Critic loss `E[D(G(z))] - E[D(x)] + λ E[(‖∇_x̂ D(x̂)‖₂ - 1)²]` at `x̂ = u x + (1 - u) G(z)`,
//! `u ~ U[0, 1]` per sample; generator loss `-E[D(G(z))]`; `n_critic` critic steps per generator
//! step, both with Adam. The penalty's gradient with respect to the critic's weights
//! differentiates `∇_x̂ D` again (double backward through the tape).

use crate::{GenError, Result};
use gradus_nn::layers::Activation;
use gradus_nn::models::Mlp;
use gradus_nn::Module;
use gradus_optim::{Adam, Optimizer};
use gradus_tensor::autodiff::{grad, no_grad};
use gradus_tensor::{DType, Rng, Tensor};

/// The settings of a [`WganGp`]; the defaults are the paper's toy-data settings except a
/// smaller network (128 hidden units instead of 512).
#[derive(Debug, Clone, PartialEq)]
pub struct WganGpConfig {
    /// The data's dimension.
    pub dim: usize,
    /// The dimension of the generator's Gaussian input `z`.
    pub latent: usize,
    /// Hidden units of each of the three hidden (ReLU) layers of both networks.
    pub hidden: usize,
    /// Adam's learning rate for both networks (paper: 1e-4).
    pub lr: f64,
    /// Adam's betas (paper: 0.5, 0.9).
    pub betas: (f64, f64),
    /// Critic steps per generator step (paper: 5).
    pub n_critic: usize,
    /// The penalty weight λ (paper: 10).
    pub lambda: f64,
    /// The batch size of every step.
    pub batch: usize,
    /// Squash the generator's output with `tanh` (for data scaled to `[-1, 1]`, as images;
    /// default `false`: a linear output, for the toy data).
    pub tanh_output: bool,
}

impl WganGpConfig {
    /// The defaults for `dim`-dimensional data.
    pub fn new(dim: usize) -> WganGpConfig {
        WganGpConfig {
            dim,
            latent: 2,
            hidden: 128,
            lr: 1e-4,
            betas: (0.5, 0.9),
            n_critic: 5,
            lambda: 10.0,
            batch: 256,
            tanh_output: false,
        }
    }
}

/// A generator, a critic and their optimizers.
///
/// ```
/// use gradus_generative::{toy, WganGp, WganGpConfig};
/// use gradus_tensor::Rng;
/// let mut rng = Rng::seed(0);
/// let config = WganGpConfig { hidden: 8, batch: 16, n_critic: 2, ..WganGpConfig::new(2) };
/// let mut gan = WganGp::new(&config, &mut rng).unwrap();
/// let (critic, gen) = gan.train_step(&mut |n, rng| toy::eight_gaussians(n, rng), &mut rng).unwrap();
/// assert!(critic.is_finite() && gen.is_finite());
/// assert_eq!(gan.sample(3, &mut rng).unwrap().len(), 6);
/// ```
pub struct WganGp {
    generator: Mlp, // (latent -> hidden x3 -> dim), then tanh if `tanh_output`
    critic: Mlp,    // (dim -> hidden x3 -> 1)
    g_opt: Optimizer,
    c_opt: Optimizer,
    config: WganGpConfig,
}

impl WganGp {
    /// A WGAN-GP with freshly initialized networks.
    ///
    /// # Errors
    /// When `dim`, `latent`, `hidden`, `batch` or `n_critic` is 0, or on invalid Adam settings.
    pub fn new(config: &WganGpConfig, rng: &mut Rng) -> Result<WganGp> {
        let c = config;
        if [c.dim, c.latent, c.hidden, c.batch, c.n_critic].contains(&0) {
            return Err(GenError::InvalidConfig {
                key: "dim/latent/hidden/batch/n_critic",
                detail: "must be at least 1".into(),
            });
        }
        let h = c.hidden;
        let generator = Mlp::new(&[c.latent, h, h, h, c.dim], Activation::ReLU, rng);
        let critic = Mlp::new(&[c.dim, h, h, h, 1], Activation::ReLU, rng);
        let adam = || Adam::new(c.lr).betas(c.betas.0, c.betas.1);
        let g_opt = Optimizer::with_params(adam(), &generator.parameters())?;
        let c_opt = Optimizer::with_params(adam(), &critic.parameters())?;
        Ok(WganGp {
            generator,
            critic,
            g_opt,
            c_opt,
            config: config.clone(),
        })
    }

    fn generate(&self, n: usize, rng: &mut Rng) -> Result<Tensor> {
        let z = rng.normal(&[n, self.config.latent], 0.0, 1.0, DType::F32);
        let out = self.generator.forward(&z)?;
        Ok(if self.config.tanh_output {
            out.tanh()?
        } else {
            out
        })
    }

    /// The critic's loss on `real [N, dim]` and `fake [N, dim]` (the gradient penalty included),
    /// differentiable with respect to the critic's weights.
    ///
    /// # Errors
    /// When the batches are not both `[N, dim]`.
    pub fn critic_loss(&self, real: &Tensor, fake: &Tensor, rng: &mut Rng) -> Result<Tensor> {
        let n = real.shape()[0];
        let u = rng.uniform(&[n, 1], 0.0, 1.0, DType::F32);
        let mixed = real
            .mul(&u)?
            .add(&fake.mul(&u.affine(-1.0, 1.0)?)?)?
            .detach()
            .requires_grad_(true);
        let d_mixed = self.critic.forward(&mixed)?.sum_all()?;
        let g = grad(&d_mixed, &[&mixed], None, true)?.remove(0); // (N, dim)
                                                                  // ‖g‖ with a tiny floor under the root, so its gradient stays finite at g = 0
        let norm = g.mul(&g)?.sum(&[1], false)?.add_scalar(1e-12)?.sqrt()?;
        let gap = norm.add_scalar(-1.0)?;
        let penalty = gap.mul(&gap)?.mean_all()?.mul_scalar(self.config.lambda)?;
        let wasserstein = self
            .critic
            .forward(fake)?
            .mean_all()?
            .sub(&self.critic.forward(real)?.mean_all()?)?;
        Ok(wasserstein.add(&penalty)?)
    }

    /// `n_critic` critic steps, each on a fresh batch of `real(batch, rng)` (row-major
    /// `(batch, dim)` f64), then one generator step; the last critic loss and the generator loss.
    ///
    /// # Errors
    /// When `real` returns another length than `batch * dim`.
    pub fn train_step(
        &mut self,
        real: &mut dyn FnMut(usize, &mut Rng) -> Vec<f64>,
        rng: &mut Rng,
    ) -> Result<(f64, f64)> {
        let (b, dim) = (self.config.batch, self.config.dim);
        let mut critic_loss = 0.0;
        for _ in 0..self.config.n_critic {
            let x: Vec<f32> = real(b, rng).iter().map(|&v| v as f32).collect();
            let x = Tensor::from_vec(x, &[b, dim])?;
            let fake = self.generate(b, rng)?.detach();
            self.c_opt.zero_grad();
            let loss = self.critic_loss(&x, &fake, rng)?;
            loss.backward()?;
            self.c_opt.step()?;
            critic_loss = loss.item()?;
        }
        self.g_opt.zero_grad();
        let gen_loss = self
            .critic
            .forward(&self.generate(b, rng)?)?
            .mean_all()?
            .neg()?;
        gen_loss.backward()?;
        self.g_opt.step()?;
        self.c_opt.zero_grad(); // the generator step left gradients on the critic
        self.g_opt.zero_grad();
        Ok((critic_loss, gen_loss.item()?))
    }

    /// `n` generated samples, `(n, dim)` row-major f64.
    ///
    /// # Errors
    /// Only on an internal shape error.
    pub fn sample(&self, n: usize, rng: &mut Rng) -> Result<Vec<f64>> {
        no_grad(|| Ok(self.generate(n, rng)?.to_vec_f64()))
    }
}
