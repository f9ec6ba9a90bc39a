//! One file per subcommand, each calling the `gradus-run` library.

pub mod analyze;
pub mod eval;
pub mod export;
pub mod inspect;
pub mod predict;
pub mod train;
pub mod tune;
