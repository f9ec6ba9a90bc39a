//! Meta-training a [`LearnedOptimizerNet`] by truncated backpropagation through unrolled
//! optimization (Andrychowicz et al. 2016, "Learning to learn by gradient descent by gradient
//! descent"; the truncations as in Metz et al. 2019/2020).
//!
//! One meta-step: take the current task's parameters θ (a task is drawn from the family and
//! kept for `truncations` meta-steps, then replaced), unroll `unroll` steps of the learned
//! optimizer on the autodiff tape, and minimise the mean log loss over the unroll,
//! ```text
//! L(W) = 1/T Σ_{t=1..T} ln f(θ_t),    θ_{t+1} = θ_t + Δ(x_t; W)
//! ```
//! with Adam (gradients clipped to a global norm) on the network's weights `W`. As in
//! Andrychowicz et al., the optimizee's gradient `∇f(θ_t)` is a constant input: its features
//! `x_t` carry no derivative, so the meta-gradient drops the second derivatives of `f` (it keeps
//! `∂f/∂θ_t` through the loss terms and `∂Δ/∂W` through the network). After each truncation the
//! parameters are detached and the unroll continues from them.

use super::features::{advance, features};
use super::net::LearnedOptimizerNet;
use super::tasks::Task;
use crate::{Adam, Chain, ClipByGlobalNorm, GradientTransformation, Optimizer, Result};
use gradus_tensor::autodiff::grad;
use gradus_tensor::{DType, Rng, Tensor};

/// Settings of [`meta_train`] (the defaults train in minutes on two cores in release builds).
#[derive(Clone, Debug)]
pub struct MetaTrainConfig {
    /// Units per hidden layer of the network (16).
    pub hidden: usize,
    /// The base learning rate `lr` of `Δθ = -lr · d · exp(s)` during meta-training (0.01); use
    /// the same rate with the trained network.
    pub lr: f64,
    /// Optimizer steps per truncation, `T` (20).
    pub unroll: usize,
    /// Truncations per task before a new task is drawn (5: 100 optimizer steps per task).
    pub truncations: usize,
    /// Meta-steps (truncations) in all (600).
    pub meta_steps: usize,
    /// Adam's learning rate on the network's weights (1e-3).
    pub meta_lr: f64,
    /// Global-norm clip of the meta-gradient (1.0).
    pub clip: f64,
    /// Seed of the network's initialization (the task family draws from its own generator).
    pub seed: u64,
}

impl Default for MetaTrainConfig {
    fn default() -> MetaTrainConfig {
        MetaTrainConfig {
            hidden: 16,
            lr: 0.01,
            unroll: 20,
            truncations: 5,
            meta_steps: 600,
            meta_lr: 1e-3,
            clip: 1.0,
            seed: 0,
        }
    }
}

/// An unroll in progress: the optimizee's parameters (on the tape within a truncation), the
/// optimizer's moving averages (constants) and its step count.
struct Unroll {
    params: Vec<Tensor>,
    ema: Vec<[Tensor; 4]>,
    t: u64,
}

impl Unroll {
    fn start(task: &dyn Task) -> Unroll {
        let params = task.init_params();
        let ema = params
            .iter()
            .map(|p| {
                let z = Tensor::zeros(&[p.numel()], DType::F64);
                [z.clone(), z.clone(), z.clone(), z]
            })
            .collect();
        Unroll { params, ema, t: 0 }
    }

    /// The gradient of `f` at the current parameters, as constants (no second derivatives).
    fn gradients(&self, task: &dyn Task) -> Result<Vec<Tensor>> {
        let leaves: Vec<Tensor> = self
            .params
            .iter()
            .map(|p| p.detach().requires_grad_(true))
            .collect();
        let loss = task.loss(&leaves)?;
        Ok(grad(
            &loss,
            &leaves.iter().collect::<Vec<_>>(),
            None,
            false,
        )?)
    }

    /// `unroll` steps of the network on the tape; the mean of `ln f(θ_t)` over them.
    fn truncation(
        &mut self,
        net: &LearnedOptimizerNet,
        task: &dyn Task,
        unroll: usize,
        lr: f64,
    ) -> Result<Tensor> {
        let mut total: Option<Tensor> = None;
        for _ in 0..unroll {
            let grads = self.gradients(task)?;
            self.t += 1;
            let mut next = Vec::with_capacity(self.params.len());
            for ((p, g), ema) in self.params.iter().zip(&grads).zip(&mut self.ema) {
                let g = g.reshape(&[p.numel()])?;
                *ema = advance(&g, [&ema[0], &ema[1], &ema[2], &ema[3]])?;
                let x = features(&g, ema, self.t)?;
                next.push(p.add(&net.step(&x, lr)?.reshape(p.shape())?)?);
            }
            self.params = next;
            let term = task.loss(&self.params)?.log()?;
            total = Some(match total {
                None => term,
                Some(s) => s.add(&term)?,
            });
        }
        Ok(total
            .expect("unroll >= 1")
            .mul_scalar(1.0 / unroll as f64)?)
    }

    fn detach(&mut self) {
        self.params = self.params.iter().map(Tensor::detach).collect();
    }
}

/// Meta-trains a fresh network on tasks drawn by `family`, calling `log(meta_step, loss)` after
/// each meta-step with its meta-loss `1/T Σ ln(f(θ_t) / f(θ_0))` (θ_0: where the task started).
/// A truncation whose loss is not finite ends its task without a step; one whose loss is above
/// `ln 10` (the task's loss grew tenfold: diverging) ends its task after its step. Returns the
/// network in f32.
///
/// # Errors
/// On invalid settings (`unroll` 0, a bad `meta_lr`) or when a task fails.
pub fn meta_train(
    family: &mut dyn FnMut(&mut Rng) -> Box<dyn Task>,
    config: &MetaTrainConfig,
    mut log: impl FnMut(usize, f64),
) -> Result<LearnedOptimizerNet> {
    if config.unroll == 0 || config.truncations == 0 {
        return Err(crate::OptimError::InvalidHyperparameter(
            "meta_train: unroll and truncations must be at least 1".into(),
        ));
    }
    let fresh = LearnedOptimizerNet::new(config.hidden, config.seed).to_dtype(DType::F64)?;
    let net = LearnedOptimizerNet {
        weights: fresh.weights.map(|w| w.requires_grad_(true)),
    };
    let meta = Chain::new()
        .then(ClipByGlobalNorm::new(config.clip))
        .then(Adam::new(config.meta_lr));
    let mut opt = Optimizer::new(meta, &net.weights)?;
    let mut rng = Rng::seed(config.seed.wrapping_add(0x5eed));
    let mut step = 0;
    while step < config.meta_steps {
        let task = family(&mut rng);
        let mut unroll = Unroll::start(task.as_ref());
        let ln_f0 = task.loss(&unroll.params)?.item()?.ln();
        for _ in 0..config.truncations {
            if step >= config.meta_steps {
                break;
            }
            opt.zero_grad();
            let loss = unroll.truncation(&net, task.as_ref(), config.unroll, config.lr)?;
            let value = loss.item()? - ln_f0;
            if !value.is_finite() {
                break;
            }
            loss.backward()?;
            opt.step()?;
            step += 1;
            log(step, value);
            if value > 10f64.ln() {
                break;
            }
            unroll.detach();
        }
    }
    net.to_dtype(DType::F32)
}

/// The losses `f(θ_0), ..., f(θ_steps)` of `steps` steps of `transform` on `task` (any
/// optimizer: the learned one and its baselines are evaluated alike).
///
/// # Errors
/// When the task or the transformation fails.
pub fn run_task(
    task: &dyn Task,
    transform: &dyn GradientTransformation,
    steps: usize,
) -> Result<Vec<f64>> {
    let params: Vec<Tensor> = task
        .init_params()
        .into_iter()
        .map(|p| p.requires_grad_(true))
        .collect();
    let mut state = transform.init(&params)?;
    let mut losses = Vec::with_capacity(steps + 1);
    for _ in 0..steps {
        let loss = task.loss(&params)?;
        losses.push(loss.item()?);
        let grads = grad(&loss, &params.iter().collect::<Vec<_>>(), None, false)?;
        transform.apply(&params, &grads, &mut state)?;
    }
    losses.push(task.loss(&params)?.item()?);
    Ok(losses)
}

/// The mean of `ln(f_t / f_0)` over `t = 1..` of `losses` from [`run_task`] (the meta-loss of a
/// whole run; lower is better). A loss that is not finite or above `1e3 f_0` (a diverged run)
/// counts as `1e3 f_0`, and one below `1e-12 f_0` (converged to round-off) as `1e-12 f_0`.
pub fn mean_log_loss(losses: &[f64]) -> f64 {
    let f0 = losses[0];
    let rest = &losses[1..];
    rest.iter()
        .map(|&f| {
            if f.is_finite() && f <= 1e3 * f0 {
                (f / f0).max(1e-12).ln()
            } else {
                1e3f64.ln()
            }
        })
        .sum::<f64>()
        / rest.len().max(1) as f64
}
