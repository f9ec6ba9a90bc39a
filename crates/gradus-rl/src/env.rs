//! The interface an agent sees: an episodic environment with discrete actions.

use crate::Result;
use gradus_tensor::Rng;

/// What one step returns, as gymnasium's `step`: the next observation, the reward, whether the
/// episode reached a terminal state, and whether it was cut by the time limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The observation after the step.
    pub observation: Vec<f32>,
    /// The reward of the step.
    pub reward: f64,
    /// A terminal state was reached (the return after it is 0).
    pub terminated: bool,
    /// The time limit cut the episode (the state is not terminal).
    pub truncated: bool,
}

/// An episodic environment with `num_actions` discrete actions and observations of
/// `observation_size` floats (gymnasium's `Env` with a `Discrete` action space).
pub trait Environment {
    /// The environment's name, as gymnasium registers it.
    fn name(&self) -> &'static str;
    /// The length of an observation.
    fn observation_size(&self) -> usize;
    /// The number of discrete actions.
    fn num_actions(&self) -> usize;
    /// Starts an episode from a random state drawn from `rng`; the first observation.
    fn reset(&mut self, rng: &mut Rng) -> Vec<f32>;
    /// Takes `action`.
    ///
    /// # Errors
    /// An action out of range, or a step outside an episode.
    fn step(&mut self, action: usize) -> Result<Step>;
}
