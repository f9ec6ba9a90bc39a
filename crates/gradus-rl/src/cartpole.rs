//! CartPole: a pole hinged on a cart that moves along a track, as gymnasium's `CartPole-v1`.
//!
//! The dynamics are the Euler integration of Florian's (2007) corrected equations that gymnasium
//! uses, written with the same operations in the same order in f64, so every state equals
//! gymnasium's bit for bit (`tests/cartpole_gymnasium.rs` replays a gymnasium fixture; the
//! Python test `tests/python/test_cartpole.py` checks the fixture against gymnasium itself).

use crate::{Environment, Result, RlError, Step};
use gradus_tensor::Rng;

/// The time limit of `CartPole-v1` (gymnasium's `max_episode_steps`).
pub const CARTPOLE_MAX_STEPS: usize = 500;

const GRAVITY: f64 = 9.8;
const MASS_CART: f64 = 1.0;
const MASS_POLE: f64 = 0.1;
const TOTAL_MASS: f64 = MASS_POLE + MASS_CART;
const LENGTH: f64 = 0.5; // half the pole's length
const POLEMASS_LENGTH: f64 = MASS_POLE * LENGTH;
const FORCE_MAG: f64 = 10.0;
const TAU: f64 = 0.02; // seconds between state updates
const X_THRESHOLD: f64 = 2.4;

/// The pole angle beyond which an episode terminates: 12 degrees, computed as gymnasium does.
fn theta_threshold() -> f64 {
    12.0 * 2.0 * std::f64::consts::PI / 360.0
}

/// The cart-pole environment: state `[x, x_dot, theta, theta_dot]` (f64 inside, f32
/// observations), actions 0 (push left) and 1 (push right), reward 1 per step including the
/// terminating one, termination when `|x| > 2.4` or `|theta| > 12°`, truncation after 500 steps.
///
/// ```
/// use gradus_rl::{CartPole, Environment};
/// use gradus_tensor::Rng;
/// let mut env = CartPole::new();
/// let obs = env.reset(&mut Rng::seed(0));
/// assert!(obs.iter().all(|v| v.abs() <= 0.05));
/// let step = env.step(1).unwrap();
/// assert_eq!((step.reward, step.terminated), (1.0, false));
/// assert!(env.step(2).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct CartPole {
    state: [f64; 4],
    steps: usize,
    running: bool,
    max_steps: usize,
}

impl Default for CartPole {
    fn default() -> Self {
        CartPole::new()
    }
}

impl CartPole {
    /// A cart-pole with the 500-step limit of `CartPole-v1`, to be reset before stepping.
    pub fn new() -> CartPole {
        CartPole {
            state: [0.0; 4],
            steps: 0,
            running: false,
            max_steps: CARTPOLE_MAX_STEPS,
        }
    }

    /// The same with another time limit (gymnasium's `max_episode_steps`).
    pub fn with_max_steps(mut self, max_steps: usize) -> CartPole {
        self.max_steps = max_steps;
        self
    }

    /// Starts an episode from the given state; the first observation.
    ///
    /// ```
    /// use gradus_rl::CartPole;
    /// let mut env = CartPole::new();
    /// assert_eq!(env.reset_to([0.01, 0.0, -0.02, 0.0]), vec![0.01f32, 0.0, -0.02, 0.0]);
    /// ```
    pub fn reset_to(&mut self, state: [f64; 4]) -> Vec<f32> {
        self.state = state;
        self.steps = 0;
        self.running = true;
        self.observation()
    }

    /// The state in f64, as gymnasium's `env.unwrapped.state`.
    pub fn state(&self) -> [f64; 4] {
        self.state
    }

    fn observation(&self) -> Vec<f32> {
        self.state.iter().map(|&v| v as f32).collect()
    }

    /// One Euler step of the dynamics under the push `force` (gymnasium's order of operations).
    fn integrate(&mut self, force: f64) {
        let [x, x_dot, theta, theta_dot] = self.state;
        let costheta = theta.cos();
        let sintheta = theta.sin();
        let temp = (force + POLEMASS_LENGTH * (theta_dot * theta_dot) * sintheta) / TOTAL_MASS;
        let thetaacc = (GRAVITY * sintheta - costheta * temp)
            / (LENGTH * (4.0 / 3.0 - MASS_POLE * (costheta * costheta) / TOTAL_MASS));
        let xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS;
        self.state = [
            x + TAU * x_dot,
            x_dot + TAU * xacc,
            theta + TAU * theta_dot,
            theta_dot + TAU * thetaacc,
        ];
    }
}

impl Environment for CartPole {
    fn name(&self) -> &'static str {
        "CartPole-v1"
    }

    fn observation_size(&self) -> usize {
        4
    }

    fn num_actions(&self) -> usize {
        2
    }

    /// Each state variable uniform in `[-0.05, 0.05)`, as gymnasium's reset (with another
    /// generator, so not the same numbers for the same seed).
    fn reset(&mut self, rng: &mut Rng) -> Vec<f32> {
        let state = std::array::from_fn(|_| -0.05 + 0.1 * rng.uniform_f64());
        self.reset_to(state)
    }

    fn step(&mut self, action: usize) -> Result<Step> {
        if action >= 2 {
            return Err(RlError::InvalidAction {
                env: self.name(),
                action,
                actions: 2,
            });
        }
        if !self.running {
            return Err(RlError::NeedsReset {
                env: self.name(),
                detail: "outside an episode (before reset or after it ended)",
            });
        }
        self.integrate(if action == 1 { FORCE_MAG } else { -FORCE_MAG });
        self.steps += 1;
        let [x, _, theta, _] = self.state;
        let limit = theta_threshold();
        // gymnasium's four comparisons as written (a NaN state does not terminate, as there)
        #[allow(clippy::manual_range_contains)]
        let terminated = x < -X_THRESHOLD || x > X_THRESHOLD || theta < -limit || theta > limit;
        let truncated = self.steps >= self.max_steps;
        self.running = !(terminated || truncated);
        Ok(Step {
            observation: self.observation(),
            reward: 1.0,
            terminated,
            truncated,
        })
    }
}
