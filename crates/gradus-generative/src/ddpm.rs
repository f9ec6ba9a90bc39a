//! A denoising diffusion probabilistic model (Ho, Jain & Abbeel 2020) for low-dimensional data.
//!
//! Forward process `q(x_t | x_0) = N(√ᾱ_t x_0, (1 - ᾱ_t) I)` with linear betas; an MLP `ε_θ(x_t, t)`
//! trained on `‖ε - ε_θ(√ᾱ_t x_0 + √(1-ᾱ_t) ε, t)‖²` (the paper's `L_simple`); ancestral sampling
//! with `σ_t² = β_t` (the paper's Algorithm 2).

use crate::{GenError, Result};
use gradus_nn::layers::Activation;
use gradus_nn::models::Mlp;
use gradus_nn::Module;
use gradus_optim::{Adam, Optimizer};
use gradus_tensor::autodiff::no_grad;
use gradus_tensor::{DType, Rng, Tensor};

/// The settings of a [`Ddpm`].
#[derive(Debug, Clone, PartialEq)]
pub struct DdpmConfig {
    /// The data's dimension.
    pub dim: usize,
    /// The number of diffusion steps `T`.
    pub steps: usize,
    /// `β_1` and `β_T` of the linear schedule; the default is Ho et al.'s `1e-4..0.02` for
    /// `T = 1000` scaled by `1000 / T` (Nichol & Dhariwal 2021's rule for other `T`).
    pub betas: (f64, f64),
    /// Hidden units of each of the three hidden (SiLU) layers of `ε_θ`.
    pub hidden: usize,
    /// The number of sinusoidal features of `t` fed to `ε_θ` with `x_t` (even).
    pub time_features: usize,
    /// Adam's learning rate.
    pub lr: f64,
}

impl DdpmConfig {
    /// The defaults for `dim`-dimensional data: 100 steps, betas `1e-3..0.2`, 128 hidden units,
    /// 16 time features, Adam at `1e-3`.
    pub fn new(dim: usize) -> DdpmConfig {
        DdpmConfig {
            dim,
            steps: 100,
            betas: (1e-3, 0.2),
            hidden: 128,
            time_features: 16,
            lr: 1e-3,
        }
    }
}

/// A DDPM with its noise-prediction network and its Adam.
///
/// ```
/// use gradus_generative::{Ddpm, DdpmConfig};
/// use gradus_tensor::{DType, Rng, Tensor};
/// let mut rng = Rng::seed(0);
/// let mut ddpm = Ddpm::new(&DdpmConfig { steps: 10, hidden: 16, ..DdpmConfig::new(2) }, &mut rng).unwrap();
/// let x0 = Tensor::zeros(&[8, 2], DType::F32);
/// assert!(ddpm.train_step(&x0, &mut rng).unwrap() > 0.0);
/// assert_eq!(ddpm.sample(5, &mut rng).unwrap().len(), 10);
/// ```
pub struct Ddpm {
    net: Mlp,
    opt: Optimizer,
    config: DdpmConfig,
    betas: Vec<f64>,
    alphas_bar: Vec<f64>,
}

impl Ddpm {
    /// A DDPM with a freshly initialized `ε_θ`.
    ///
    /// # Errors
    /// When `steps`, `dim` or `hidden` is 0, `time_features` is odd, or the betas are not in
    /// `(0, 1)`.
    pub fn new(config: &DdpmConfig, rng: &mut Rng) -> Result<Ddpm> {
        let bad = |key, detail: &str| {
            Err(GenError::InvalidConfig {
                key,
                detail: detail.into(),
            })
        };
        if config.steps == 0 || config.dim == 0 || config.hidden == 0 {
            return bad("steps/dim/hidden", "must be at least 1");
        }
        if !config.time_features.is_multiple_of(2) {
            return bad("time_features", "must be even");
        }
        let (b1, bt) = config.betas;
        if !(b1 > 0.0 && bt < 1.0 && b1 <= bt) {
            return bad("betas", "must satisfy 0 < beta_1 <= beta_T < 1");
        }
        let t = config.steps;
        let betas: Vec<f64> = (0..t)
            .map(|i| b1 + (bt - b1) * i as f64 / (t.max(2) - 1) as f64)
            .collect();
        let mut alphas_bar = Vec::with_capacity(t);
        let mut acc = 1.0;
        for b in &betas {
            acc *= 1.0 - b;
            alphas_bar.push(acc);
        }
        let h = config.hidden;
        let net = Mlp::new(
            &[config.dim + config.time_features, h, h, h, config.dim],
            Activation::SiLU,
            rng,
        );
        let opt = Optimizer::with_params(Adam::new(config.lr), &net.parameters())?;
        Ok(Ddpm {
            net,
            opt,
            config: config.clone(),
            betas,
            alphas_bar,
        })
    }

    /// `ᾱ_t` for `t = 1..=T` (index `t - 1`).
    pub fn alphas_bar(&self) -> &[f64] {
        &self.alphas_bar
    }

    /// `ε_θ(x_t, t)` for `x [N, dim]` at steps `t` (0-based, one per row).
    fn predict_noise(&self, x: &Tensor, t: &[usize]) -> Result<Tensor> {
        let half = self.config.time_features / 2;
        let mut feats = Vec::with_capacity(t.len() * 2 * half);
        for &ti in t {
            for k in 0..half {
                let w = (-(1000f64.ln()) * k as f64 / half as f64).exp();
                let a = ti as f64 * w;
                feats.push(a.sin() as f32);
                feats.push(a.cos() as f32);
            }
        }
        let emb = Tensor::from_vec(feats, &[t.len(), 2 * half])?;
        Ok(self.net.forward(&Tensor::concat(&[x, &emb], 1)?)?)
    }

    /// The `L_simple` loss on a batch `x0 [N, dim]` (f32), each row at a random step with
    /// random noise.
    ///
    /// # Errors
    /// When `x0` is not `[N, dim]`.
    pub fn loss(&self, x0: &Tensor, rng: &mut Rng) -> Result<Tensor> {
        let n = x0.shape()[0];
        let t: Vec<usize> = (0..n).map(|_| rng.below(self.config.steps)).collect();
        let col = |f: &dyn Fn(f64) -> f64| {
            Tensor::from_vec(
                t.iter().map(|&i| f(self.alphas_bar[i]) as f32).collect(),
                &[n, 1],
            )
        };
        let signal = col(&|ab: f64| ab.sqrt())?;
        let noise_scale = col(&|ab: f64| (1.0 - ab).sqrt())?;
        let eps = rng.normal(x0.shape(), 0.0, 1.0, DType::F32);
        let xt = x0.mul(&signal)?.add(&eps.mul(&noise_scale)?)?;
        let diff = self.predict_noise(&xt, &t)?.sub(&eps)?;
        Ok(diff.mul(&diff)?.mean_all()?)
    }

    /// One Adam step on [`Ddpm::loss`]; the loss.
    ///
    /// # Errors
    /// As [`Ddpm::loss`].
    pub fn train_step(&mut self, x0: &Tensor, rng: &mut Rng) -> Result<f64> {
        let loss = self.loss(x0, rng)?;
        loss.backward()?;
        self.opt.step()?;
        self.opt.zero_grad();
        Ok(loss.item()?)
    }

    /// `n` samples by ancestral sampling from `x_T ~ N(0, I)`:
    /// `x_{t-1} = (x_t - β_t / √(1-ᾱ_t) ε_θ(x_t, t)) / √α_t + √β_t z`, without noise at the last
    /// step; `(n, dim)` row-major f64.
    ///
    /// # Errors
    /// Only on an internal shape error.
    pub fn sample(&self, n: usize, rng: &mut Rng) -> Result<Vec<f64>> {
        no_grad(|| -> Result<Vec<f64>> {
            let mut x = rng.normal(&[n, self.config.dim], 0.0, 1.0, DType::F32);
            for t in (0..self.config.steps).rev() {
                let beta = self.betas[t];
                let eps = self.predict_noise(&x, &vec![t; n])?;
                let coef = beta / (1.0 - self.alphas_bar[t]).sqrt();
                x = x
                    .sub(&eps.mul_scalar(coef)?)?
                    .mul_scalar(1.0 / (1.0 - beta).sqrt())?;
                if t > 0 {
                    let z = rng.normal(&[n, self.config.dim], 0.0, beta.sqrt(), DType::F32);
                    x = x.add(&z)?;
                }
            }
            Ok(x.to_vec_f64())
        })
    }
}
