//! [`TuneError`]: why a search could not be set up, resumed or run. Every message names what is at
//! fault: the `[search]` key, the journal line, the trial or the file.

use std::path::PathBuf;

/// Why a search failed. The `Display` text is the whole message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TuneError {
    /// A refused `[search]` entry: the dotted key (`search.params.optimizer.lr`) and why.
    #[error("[search] {key}: {problem}")]
    Search {
        /// The key at fault, relative to `[search]`.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The config outside `[search]` is refused by gradus-run (as `gradus train` would refuse it).
    #[error(transparent)]
    Config(#[from] gradus_run::RunError),
    /// The config text is not TOML.
    #[error("{file}: {message}")]
    Toml {
        /// The config's source.
        file: String,
        /// toml's message with line and column.
        message: String,
    },
    /// A journal line that is not a trial event (other than a torn last line, which is dropped).
    #[error("{path}:{line}: {problem}")]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// A file or folder of the study cannot be read, written or made.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A trial that cannot be started or followed.
    #[error("trial {trial}: {problem}")]
    Trial {
        /// The trial's number.
        trial: usize,
        /// What went wrong.
        problem: String,
    },
}

/// `Result` with [`TuneError`].
pub type Result<T, E = TuneError> = std::result::Result<T, E>;

/// A closure mapping an I/O error on `path` to [`TuneError::Io`].
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TuneError {
    let path = path.into();
    move |source| TuneError::Io { path, source }
}

/// A [`TuneError::Search`].
pub(crate) fn search(key: impl Into<String>, problem: impl Into<String>) -> TuneError {
    TuneError::Search {
        key: key.into(),
        problem: problem.into(),
    }
}
