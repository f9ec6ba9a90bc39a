//! # gradus-rl
//!
//! Reinforcement learning by policy gradient on gradus tensors.
//!
//! - [`CartPole`]: the classic cart-pole (Barto, Sutton & Anderson 1983) with gymnasium's
//!   `CartPole-v1` dynamics, termination and 500-step limit, bit for bit (checked against a
//!   gymnasium fixture).
//! - [`Reinforce`]: REINFORCE (Williams 1992) with a learned state-value baseline and an optional
//!   entropy bonus, trained one episode per update; [`train`] runs it until solved.
//!
//! ```
//! use gradus_rl::{train, CartPole, ReinforceConfig};
//! let config = ReinforceConfig { max_episodes: 3, ..ReinforceConfig::default() };
//! let report = train(&mut CartPole::new(), &config, |_| {}).unwrap();
//! assert_eq!(report.returns.len(), 3);
//! ```
#![warn(missing_docs)]

mod cartpole;
mod env;
mod error;
mod reinforce;

pub use cartpole::{CartPole, CARTPOLE_MAX_STEPS};
pub use env::{Environment, Step};
pub use error::{Result, RlError};
pub use reinforce::{
    discounted_returns, train, EpisodeLog, Reinforce, ReinforceConfig, TrainReport,
};
