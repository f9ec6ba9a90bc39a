//! REINFORCE with a learned baseline (Williams 1992; Sutton & Barto 2018, §13.4).
//!
//! After each episode, with returns `G_t = r_t + γ G_{t+1}` and a state-value network `V`:
//! policy loss `-mean_t(log π(a_t|s_t) · A_t) - β · mean_t(H(π(·|s_t)))` with advantages
//! `A_t = G_t - V(s_t)` (optionally normalized to mean 0, std 1 over the episode), value loss
//! `mean_t((V(s_t) - G_t)²)`, each network with its own Adam. The value network predicts
//! `(1 - γ) G_t`, which lies in `[0, 1]` for rewards in `[0, 1]`, and is scaled back.
//! An episode cut by the time limit is bootstrapped with `V` of its last observation, since
//! its state is not terminal.

use crate::{Environment, Result, RlError};
use gradus_nn::layers::Activation;
use gradus_nn::models::Mlp;
use gradus_nn::Module;
use gradus_optim::{Adam, Optimizer};
use gradus_tensor::autodiff::no_grad;
use gradus_tensor::{Rng, Tensor};

/// The settings of [`Reinforce`] and [`train`]; the defaults solve CartPole-v1.
#[derive(Debug, Clone, PartialEq)]
pub struct ReinforceConfig {
    /// Hidden units of the one-hidden-layer (ReLU) policy and value networks.
    pub hidden: usize,
    /// Adam's learning rate for the policy.
    pub policy_lr: f64,
    /// Adam's learning rate for the value network.
    pub value_lr: f64,
    /// The discount γ in `[0, 1)`.
    pub gamma: f64,
    /// The weight β of the entropy bonus (0: none).
    pub entropy_coef: f64,
    /// Normalize the advantages of each episode to mean 0 and standard deviation 1.
    pub normalize_advantages: bool,
    /// [`train`] stops after this many episodes.
    pub max_episodes: usize,
    /// [`train`] stops when the mean return of the last `solved_window` episodes reaches this.
    pub solved_return: f64,
    /// The number of episodes averaged for `solved_return` (gymnasium's 100 for CartPole).
    pub solved_window: usize,
    /// Seeds the initialization, the actions and the environment's resets.
    pub seed: u64,
}

impl Default for ReinforceConfig {
    fn default() -> Self {
        ReinforceConfig {
            hidden: 128,
            policy_lr: 5e-3,
            value_lr: 1e-2,
            gamma: 0.99,
            entropy_coef: 0.0,
            normalize_advantages: true,
            max_episodes: 2000,
            solved_return: 475.0,
            solved_window: 100,
            seed: 0,
        }
    }
}

impl ReinforceConfig {
    fn validate(&self) -> Result<()> {
        let bad = |key, value: f64, detail| Err(RlError::InvalidConfig { key, value, detail });
        if !(0.0..1.0).contains(&self.gamma) {
            return bad("gamma", self.gamma, "must be in [0, 1)");
        }
        if self.hidden == 0 {
            return bad("hidden", 0.0, "must be at least 1");
        }
        if self.solved_window == 0 {
            return bad("solved_window", 0.0, "must be at least 1");
        }
        if self.entropy_coef.is_nan() || self.entropy_coef < 0.0 {
            return bad("entropy_coef", self.entropy_coef, "must be 0 or more");
        }
        Ok(())
    }
}

/// The discounted returns `G_t = r_t + γ G_{t+1}` of an episode, with `G_T = tail` after the
/// last reward (0 for a terminal state, a value estimate for a truncated episode).
///
/// ```
/// use gradus_rl::discounted_returns;
/// assert_eq!(discounted_returns(&[1.0, 1.0, 1.0], 0.5, 0.0), vec![1.75, 1.5, 1.0]);
/// assert_eq!(discounted_returns(&[1.0], 0.5, 4.0), vec![3.0]);
/// ```
pub fn discounted_returns(rewards: &[f64], gamma: f64, tail: f64) -> Vec<f64> {
    let mut g = tail;
    let mut out = vec![0.0; rewards.len()];
    for (t, r) in rewards.iter().enumerate().rev() {
        g = r + gamma * g;
        out[t] = g;
    }
    out
}

/// One episode as the agent saw it.
struct Trajectory {
    observations: Vec<f32>, // (T, obs) row-major
    actions: Vec<f32>,      // (T,)
    rewards: Vec<f64>,      // (T,)
    last: Vec<f32>,         // the observation after the last step
    truncated: bool,
}

/// A REINFORCE agent: a softmax policy network and a value baseline, both
/// `Linear(obs, hidden) → ReLU → Linear(hidden, out)` in f32.
pub struct Reinforce {
    policy: Mlp,
    value: Mlp,
    policy_opt: Optimizer,
    value_opt: Optimizer,
    rng: Rng,
    config: ReinforceConfig,
    observation_size: usize,
}

impl Reinforce {
    /// An agent for observations of `observation_size` floats and `num_actions` actions.
    ///
    /// # Errors
    /// On a configuration out of range (`gamma` outside `[0, 1)`, a negative learning rate...).
    pub fn new(
        observation_size: usize,
        num_actions: usize,
        config: &ReinforceConfig,
    ) -> Result<Self> {
        config.validate()?;
        let mut rng = Rng::seed(config.seed);
        let policy = Mlp::new(
            &[observation_size, config.hidden, num_actions],
            Activation::ReLU,
            &mut rng,
        );
        let value = Mlp::new(
            &[observation_size, config.hidden, 1],
            Activation::ReLU,
            &mut rng,
        );
        let policy_opt = Optimizer::with_params(Adam::new(config.policy_lr), &policy.parameters())?;
        let value_opt = Optimizer::with_params(Adam::new(config.value_lr), &value.parameters())?;
        Ok(Reinforce {
            policy,
            value,
            policy_opt,
            value_opt,
            rng,
            config: config.clone(),
            observation_size,
        })
    }

    /// The policy network (logits of the actions).
    pub fn policy(&self) -> &Mlp {
        &self.policy
    }

    /// An action sampled from the policy's softmax at `observation`.
    ///
    /// # Errors
    /// When `observation` does not have the agent's observation size.
    pub fn act(&mut self, observation: &[f32]) -> Result<usize> {
        let x = Tensor::from_vec(observation.to_vec(), &[1, observation.len()])?;
        let probs: Vec<f32> = no_grad(|| self.policy.forward(&x)?.softmax(1)?.to_vec())?;
        let u = self.rng.uniform_f64() as f32;
        let mut acc = 0.0;
        for (a, p) in probs.iter().enumerate() {
            acc += p;
            if u < acc {
                return Ok(a);
            }
        }
        Ok(probs.len() - 1) // rounding left u above the last cumulative sum
    }

    fn run_episode(&mut self, env: &mut dyn Environment) -> Result<Trajectory> {
        let mut obs = env.reset(&mut self.rng);
        let mut t = Trajectory {
            observations: vec![],
            actions: vec![],
            rewards: vec![],
            last: vec![],
            truncated: false,
        };
        loop {
            let action = self.act(&obs)?;
            let step = env.step(action)?;
            t.observations.extend_from_slice(&obs);
            t.actions.push(action as f32);
            t.rewards.push(step.reward);
            obs = step.observation;
            if step.terminated || step.truncated {
                t.truncated = !step.terminated;
                t.last = obs;
                return Ok(t);
            }
        }
    }

    /// The value network's estimate of the return from each row of `x [N, obs]`, as `[N, 1]`.
    fn values(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self
            .value
            .forward(x)?
            .mul_scalar(1.0 / (1.0 - self.config.gamma))?)
    }

    /// One policy-gradient and one value step on an episode; the two losses.
    fn update(&mut self, t: &Trajectory) -> Result<(f64, f64)> {
        let n = t.actions.len();
        let x = Tensor::from_vec(t.observations.clone(), &[n, self.observation_size])?;
        let tail = if t.truncated {
            let last = Tensor::from_vec(t.last.clone(), &[1, self.observation_size])?;
            no_grad(|| -> Result<f64> { Ok(self.values(&last)?.item()?) })?
        } else {
            0.0
        };
        let returns = discounted_returns(&t.rewards, self.config.gamma, tail);
        let v = self.values(&x)?; // (T, 1)
        let v_host = v.to_vec_f64();
        let mut adv: Vec<f64> = returns.iter().zip(&v_host).map(|(g, v)| g - v).collect();
        if self.config.normalize_advantages && n > 1 {
            let mean = adv.iter().sum::<f64>() / n as f64;
            let std = (adv.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
            adv.iter_mut().for_each(|a| *a = (*a - mean) / (std + 1e-8));
        }
        let adv = Tensor::from_vec(adv.iter().map(|&a| a as f32).collect(), &[n, 1])?;
        let logp = self.policy.forward(&x)?.log_softmax(1)?; // (T, A)
        let actions = Tensor::from_vec(t.actions.clone(), &[n, 1])?;
        let mut policy_loss = logp.gather(1, &actions)?.mul(&adv)?.mean_all()?.neg()?;
        if self.config.entropy_coef > 0.0 {
            let entropy = logp
                .exp()?
                .mul(&logp)?
                .sum(&[1], false)?
                .neg()?
                .mean_all()?;
            policy_loss = policy_loss.sub(&entropy.mul_scalar(self.config.entropy_coef)?)?;
        }
        policy_loss.backward()?;
        self.policy_opt.step()?;
        self.policy_opt.zero_grad();
        let target: Vec<f32> = returns
            .iter()
            .map(|g| (g * (1.0 - self.config.gamma)) as f32)
            .collect();
        let target = Tensor::from_vec(target, &[n, 1])?;
        let diff = self.value.forward(&x)?.sub(&target)?;
        let value_loss = diff.mul(&diff)?.mean_all()?;
        value_loss.backward()?;
        self.value_opt.step()?;
        self.value_opt.zero_grad();
        Ok((policy_loss.item()?, value_loss.item()?))
    }

    /// Plays one episode of `env` with the current policy, then updates both networks on it;
    /// the episode's undiscounted return and length.
    ///
    /// # Errors
    /// When the environment refuses a step or a tensor operation fails.
    pub fn train_episode(&mut self, env: &mut dyn Environment) -> Result<(f64, usize)> {
        let t = self.run_episode(env)?;
        self.update(&t)?;
        Ok((t.rewards.iter().sum(), t.rewards.len()))
    }
}

/// What [`train`] reports after each episode.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeLog {
    /// The episode's number, from 1.
    pub episode: usize,
    /// Its undiscounted return.
    pub episode_return: f64,
    /// Its number of steps.
    pub length: usize,
    /// The mean return of the last `solved_window` episodes (fewer at the start).
    pub mean_return: f64,
}

/// The outcome of [`train`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// The return of every episode, in order.
    pub returns: Vec<f64>,
    /// The episode at which the mean of the last `solved_window` returns first reached
    /// `solved_return` (training stops there); `None` if it never did.
    pub solved_at: Option<usize>,
}

/// Trains a [`Reinforce`] agent on `env`, one update per episode, until solved or
/// `max_episodes`; `on_episode` sees every episode.
///
/// # Errors
/// On an invalid configuration, or a failing step or tensor operation.
pub fn train(
    env: &mut dyn Environment,
    config: &ReinforceConfig,
    mut on_episode: impl FnMut(&EpisodeLog),
) -> Result<TrainReport> {
    let mut agent = Reinforce::new(env.observation_size(), env.num_actions(), config)?;
    let mut returns = Vec::new();
    for episode in 1..=config.max_episodes {
        let (episode_return, length) = agent.train_episode(env)?;
        returns.push(episode_return);
        let window = &returns[returns.len().saturating_sub(config.solved_window)..];
        let mean_return = window.iter().sum::<f64>() / window.len() as f64;
        on_episode(&EpisodeLog {
            episode,
            episode_return,
            length,
            mean_return,
        });
        if window.len() == config.solved_window && mean_return >= config.solved_return {
            return Ok(TrainReport {
                returns,
                solved_at: Some(episode),
            });
        }
    }
    Ok(TrainReport {
        returns,
        solved_at: None,
    })
}
