//! The error type of `gradus-rl`.

use gradus_optim::OptimError;
use gradus_tensor::TensorError;

/// What went wrong in an environment or an agent.
///
/// ```
/// use gradus_rl::RlError;
/// let e = RlError::InvalidAction { env: "CartPole-v1", action: 2, actions: 2 };
/// assert_eq!(e.to_string(), "CartPole-v1: action 2 is out of range (the environment has 2 actions)");
/// ```
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum RlError {
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// An optimizer failed (e.g. an invalid learning rate).
    #[error(transparent)]
    Optim(#[from] OptimError),
    /// An action outside `0..actions`.
    #[error("{env}: action {action} is out of range (the environment has {actions} actions)")]
    InvalidAction {
        /// The environment's name.
        env: &'static str,
        /// The action given.
        action: usize,
        /// The number of actions.
        actions: usize,
    },
    /// `step` before `reset`, or after the episode ended.
    #[error("{env}: step() called {detail}; call reset() first")]
    NeedsReset {
        /// The environment's name.
        env: &'static str,
        /// Before the first reset or after the end.
        detail: &'static str,
    },
    /// A configuration value out of its range.
    #[error("reinforce config: `{key}` = {value} {detail}")]
    InvalidConfig {
        /// The field's name.
        key: &'static str,
        /// Its value.
        value: f64,
        /// What it must be.
        detail: &'static str,
    },
}

/// `Result` with [`RlError`].
pub type Result<T> = std::result::Result<T, RlError>;
