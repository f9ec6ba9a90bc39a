//! [`RunError`]: why a config could not be read or a run could not be built or trained. Every
//! message names what is at fault: the config file with the line and column (TOML syntax and
//! types) or the key (refused values, values set through overrides), the data file, or the run
//! directory.

use crate::config::check::ConfigError;
use std::path::PathBuf;

/// Why a config, a run or a model file failed. The `Display` text is the whole message (the
/// `gradus` command prints it after `error: `).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The config file (or its text) cannot be read: missing, not UTF-8 (with the byte's line
    /// and column).
    #[error(transparent)]
    Read(#[from] gradus_data::DataError),
    /// The config is not valid TOML, has an unknown key or a value of the wrong type; toml's
    /// message gives the line and column and quotes the line.
    #[error("{file}: {message}")]
    Toml {
        /// The config's source (its path, or `config` for a string).
        file: String,
        /// toml's message: what is wrong, where, and the line.
        message: String,
    },
    /// A value of the wrong type or an unknown key once overrides (the CLI's `--set`) were
    /// merged in: the merged text's lines mean nothing to the user, so the key is named.
    #[error("{file} (with --set overrides): {}{message}", key.as_ref().map_or(String::new(), |k| format!("{k}: ")))]
    OverriddenToml {
        /// The config's source.
        file: String,
        /// The dotted key at fault (`model.hidden`), when it can be told.
        key: Option<String>,
        /// toml's message, without its position.
        message: String,
    },
    /// An override that is not `key=value`, or that sets a key inside a value that is not a
    /// table.
    #[error("--set {assignment}: {problem}")]
    Override {
        /// The override as given (`optimizer.lr=0.01`).
        assignment: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Values refused by [`Config::validate`](crate::Config::validate): every refused key with
    /// its allowed range and the value found.
    #[error("{file}: {error}")]
    Invalid {
        /// The config's source.
        file: String,
        /// The refused keys.
        error: ConfigError,
    },
    /// A resumed run whose config changed keys that must stay (see [`crate::config::resume`]).
    #[error("{0}")]
    Resume(String),
    /// The data, model, optimizer or schedule cannot be built from the config, or a model file
    /// cannot be read back; the message names the file or the key.
    #[error("{0}")]
    Setup(String),
    /// The run directory cannot be made.
    #[error("--out {}: cannot make the run directory: {source}", dir.display())]
    RunDir {
        /// The run directory.
        dir: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// Training failed, or its files could not be written.
    #[error(transparent)]
    Train(#[from] gradus_train::TrainError),
}

/// The result of this crate's functions.
pub type Result<T, E = RunError> = std::result::Result<T, E>;

impl From<String> for RunError {
    /// A setup message ([`RunError::Setup`]).
    fn from(message: String) -> Self {
        RunError::Setup(message)
    }
}

impl From<&str> for RunError {
    /// A setup message ([`RunError::Setup`]).
    fn from(message: &str) -> Self {
        RunError::Setup(message.to_string())
    }
}
