//! One file per subcommand, each calling the `gradus-run` library.

pub mod analyze;
pub mod compare;
pub mod config;
pub mod doctor;
pub mod eval;
pub mod export;
pub mod inspect;
pub mod predict;
pub mod quantize;
pub mod run_summary;
pub mod sample;
pub mod train;
pub mod tune;
