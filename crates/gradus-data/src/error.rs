//! The one error type of this crate.
//!
//! Every reader reports where the problem is: messages start with the file
//! path, then (where it makes sense) the 1-based line, then the column, in the
//! `path:line:column` style that editors and terminals understand.

use std::path::PathBuf;

/// Everything that can go wrong while reading or preparing data.
///
/// The enum is `#[non_exhaustive]`: match the variants you care about and
/// keep a `_` arm. Every variant's `Display` names the file involved.
///
/// ```
/// use gradus_data::csv::{read_csv, CsvOptions, TargetKind};
/// let err = read_csv("no/such/file.csv", &CsvOptions::new("y", TargetKind::Value)).unwrap_err();
/// assert!(err.to_string().starts_with("no/such/file.csv:"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The file starts like gzip but does not decompress (corrupt or truncated).
    #[error("{}: corrupt or truncated gzip data: {source}", .path.display())]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: std::io::Error,
    },

    /// A required file is missing from a dataset folder, with and without `.gz`.
    #[error("{}: found neither `{name}` nor `{name}.gz`", .dir.display())]
    NotFound {
        /// The folder searched.
        dir: PathBuf,
        /// The file name looked for (without `.gz`).
        name: String,
    },

    /// The file holds no data (empty, or a header without rows).
    #[error("{}: {detail}", .path.display())]
    Empty {
        /// The file.
        path: PathBuf,
        /// What was missing.
        detail: &'static str,
    },

    /// A column named in the options is not in the CSV header.
    #[error("{}:1: no column named `{name}` in the header (columns: {columns})", .path.display())]
    UnknownColumn {
        /// The file.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// The header's column names, comma-separated.
        columns: String,
    },

    /// The CSV header or the column selection is unusable (duplicates, no features...).
    #[error("{}:1: {message}", .path.display())]
    Header {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// A CSV row has a different number of fields than the header.
    #[error("{}:{line}: row has {found} fields but the header has {expected}", .path.display())]
    RaggedRow {
        /// The file.
        path: PathBuf,
        /// 1-based line (the header is line 1).
        line: u64,
        /// Number of header fields.
        expected: usize,
        /// Number of fields in this row.
        found: usize,
    },

    /// A CSV field does not parse as what its column must hold.
    #[error(
        "{}:{line}: column {column} (`{column_name}`): `{value}` is not {expected}",
        .path.display()
    )]
    BadValue {
        /// The file.
        path: PathBuf,
        /// 1-based line (the header is line 1).
        line: u64,
        /// 1-based column index.
        column: usize,
        /// The column's header name.
        column_name: String,
        /// The offending text.
        value: String,
        /// What was expected, e.g. "a finite number".
        expected: &'static str,
    },

    /// A line could not be parsed (CSV syntax, invalid UTF-8, ...).
    #[error("{}:{line}: {message}", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 if unknown).
        line: u64,
        /// What is wrong.
        message: String,
    },

    /// A token of a libsvm/svmlight line is malformed.
    #[error("{}:{line}:{column}: bad token `{token}`: {reason}", .path.display())]
    BadToken {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based byte column where the token starts.
        column: usize,
        /// The offending token.
        token: String,
        /// Why it was rejected.
        reason: String,
    },

    /// An IDX header is invalid (bad magic, unsupported type, bad dimensions...).
    #[error("{}: {message}", .path.display())]
    Idx {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// The file holds fewer data bytes than its header declares.
    #[error("{}: header declares {expected} bytes of data but the file has only {actual} (truncated)", .path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes of data the header promises.
        expected: u64,
        /// Bytes actually present after the header.
        actual: u64,
    },

    /// An image file and a label file disagree on the number of samples.
    #[error(
        "{} has {n_images} images but {} has {n_labels} labels",
        .images.display(),
        .labels.display()
    )]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// The label file.
        labels: PathBuf,
        /// Number of images.
        n_images: usize,
        /// Number of labels.
        n_labels: usize,
    },

    /// A character to encode is not in the vocabulary.
    #[error("character {ch:?} at char offset {offset} is not in the vocabulary")]
    UnknownChar {
        /// The character.
        ch: char,
        /// Its 0-based position in the text, in chars.
        offset: usize,
    },

    /// A token id to decode is outside the vocabulary.
    #[error("token id {id} is out of range for a vocabulary of {vocab_size}")]
    UnknownToken {
        /// The id.
        id: u32,
        /// Size of the vocabulary.
        vocab_size: usize,
    },

    /// An argument or an in-memory buffer is inconsistent (shape, fraction, size...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl DataError {
    /// Shorthand for an [`DataError::Io`] on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for an [`DataError::InvalidArgument`].
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        DataError::InvalidArgument(message.into())
    }
}
