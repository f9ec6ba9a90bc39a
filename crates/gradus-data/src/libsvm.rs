//! libsvm / svmlight sparse text files: `label index:value index:value ...`.
//!
//! - Indices are 1-based and strictly increasing within a line; they are
//!   stored 0-based.
//! - A `qid:N` token (ranking data) is accepted and ignored.
//! - `#` starts a comment that runs to the end of the line; blank lines are skipped.
//! - With [`TargetKind::Class`], a file that uses the label `-1` is a binary
//!   file: its labels must be `-1`/`+1`, mapped to classes `0`/`1`. Otherwise
//!   labels must be non-negative integers, used as they are
//!   (`num_classes = max + 1`). With [`TargetKind::Value`] labels are real
//!   regression targets.
//!
//! Errors name the file, the 1-based line, the 1-based byte column and the
//! offending token. A UTF-8 byte-order mark at the start of the file is ignored.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::sparse::CsrMatrix;
use crate::targets::MAX_CLASSES;
use crate::{DataError, Dataset, TargetKind, Targets};

/// A sparse dataset: the feature matrix and one target per row.
///
/// ```
/// use gradus_data::libsvm::read_libsvm;
/// use gradus_data::TargetKind;
/// let heart = read_libsvm("../../data/libsvm/heart_scale", TargetKind::Class, None)?;
/// assert_eq!((heart.len(), heart.x.n_cols()), (270, 13));
/// # Ok::<(), gradus_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SparseDataset {
    /// Features, one row per sample.
    pub x: CsrMatrix,
    /// Targets, one per row.
    pub targets: Targets,
}

impl SparseDataset {
    /// Number of samples.
    ///
    /// ```
    /// # let sp = gradus_data::libsvm::read_libsvm_from("1 1:2\n".as_bytes(), "x",
    /// #     gradus_data::TargetKind::Value, None).unwrap();
    /// assert_eq!(sp.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.x.n_rows()
    }

    /// True when there are no samples (never the case for a file that was read).
    ///
    /// ```
    /// # let sp = gradus_data::libsvm::read_libsvm_from("1 1:2\n".as_bytes(), "x",
    /// #     gradus_data::TargetKind::Value, None).unwrap();
    /// assert!(!sp.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A dense [`Dataset`] of shape `[n_features]` (`None`: `x.n_cols()`).
    ///
    /// ```
    /// # let sp = gradus_data::libsvm::read_libsvm_from("-1 2:5\n+1 1:1\n".as_bytes(), "x",
    /// #     gradus_data::TargetKind::Class, None).unwrap();
    /// let ds = sp.to_dense(None)?;
    /// assert_eq!((ds.features(), ds.targets().labels().unwrap()), (&[0.0, 5.0, 1.0, 0.0][..], &[0, 1][..]));
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn to_dense(&self, n_features: Option<usize>) -> Result<Dataset, DataError> {
        let width = n_features.unwrap_or(self.x.n_cols()).max(1);
        Dataset::new(self.x.to_dense(width)?, vec![width], self.targets.clone())
    }
}

/// Reads a libsvm/svmlight file. `n_features`: the feature count if known
/// (indices above it are errors), else the largest index seen.
///
/// ```
/// use gradus_data::libsvm::read_libsvm;
/// use gradus_data::TargetKind;
/// let heart = read_libsvm("../../data/libsvm/heart_scale", TargetKind::Class, Some(13))?;
/// assert_eq!(heart.targets.num_classes(), Some(2));
/// # Ok::<(), gradus_data::DataError>(())
/// ```
pub fn read_libsvm(
    path: impl AsRef<Path>,
    kind: TargetKind,
    n_features: Option<usize>,
) -> Result<SparseDataset, DataError> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    read_libsvm_from(std::io::BufReader::new(file), path, kind, n_features)
}

/// Like [`read_libsvm`], from any buffered reader; `source` names it in errors.
///
/// ```
/// use gradus_data::libsvm::read_libsvm_from;
/// use gradus_data::TargetKind;
/// let err = read_libsvm_from("1 1:2\n1 3:x\n".as_bytes(), "bad.svm", TargetKind::Value, None)
///     .unwrap_err();
/// assert!(err.to_string().starts_with("bad.svm:2:3: bad token `3:x`"));
/// ```
pub fn read_libsvm_from(
    mut reader: impl BufRead,
    source: impl AsRef<Path>,
    kind: TargetKind,
    n_features: Option<usize>,
) -> Result<SparseDataset, DataError> {
    let mut parser = Parser::new(source.as_ref().to_path_buf(), kind, n_features);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| DataError::io(&parser.path, e))?;
        if n == 0 {
            break;
        }
        parser.line += 1;
        let bytes = if parser.line == 1 {
            crate::utf8::strip_bom(&buf)
        } else {
            &buf
        };
        let text = std::str::from_utf8(bytes).map_err(|e| DataError::Parse {
            path: parser.path.clone(),
            line: parser.line,
            message: format!(
                "byte {} of the line is not valid UTF-8",
                e.valid_up_to() + 1
            ),
        })?;
        parser.parse_line(text)?;
    }
    parser.finish()
}

/// State while reading: the CSR arrays so far and the label bookkeeping.
struct Parser {
    path: PathBuf,
    kind: TargetKind,
    n_features: Option<usize>,
    line: u64,
    row_ptr: Vec<usize>,
    col_indices: Vec<u32>,
    values: Vec<f32>,
    labels: Vec<f32>,
    max_index: usize,
    saw_minus_one: bool,
    /// First class label that is neither -1 nor +1: (line, column, token).
    non_pm_one: Option<(u64, usize, String)>,
}

impl Parser {
    fn new(path: PathBuf, kind: TargetKind, n_features: Option<usize>) -> Self {
        Parser {
            path,
            kind,
            n_features,
            line: 0,
            row_ptr: vec![0],
            col_indices: Vec::new(),
            values: Vec::new(),
            labels: Vec::new(),
            max_index: 0,
            saw_minus_one: false,
            non_pm_one: None,
        }
    }

    fn bad(&self, column: usize, token: &str, reason: impl Into<String>) -> DataError {
        DataError::BadToken {
            path: self.path.clone(),
            line: self.line,
            column,
            token: token.to_string(),
            reason: reason.into(),
        }
    }

    fn parse_line(&mut self, line: &str) -> Result<(), DataError> {
        let content = line.split('#').next().unwrap_or("");
        let mut tokens = content
            .split_ascii_whitespace()
            .map(|t| (t.as_ptr() as usize - content.as_ptr() as usize + 1, t));
        let Some((col, label)) = tokens.next() else {
            return Ok(());
        };
        self.parse_label(col, label)?;
        let mut last = 0usize;
        for (col, token) in tokens {
            if let Some(index) = self.parse_entry(col, token, last)? {
                last = index;
            }
        }
        self.max_index = self.max_index.max(last);
        self.row_ptr.push(self.values.len());
        Ok(())
    }

    fn parse_label(&mut self, col: usize, token: &str) -> Result<(), DataError> {
        let value = match token.parse::<f32>() {
            Ok(v) if v.is_finite() => v,
            _ => return Err(self.bad(col, token, "the label is not a finite number")),
        };
        if self.kind == TargetKind::Class {
            let integral = value.fract() == 0.0 && value >= -1.0 && value < MAX_CLASSES as f32;
            if !integral {
                return Err(self.bad(col, token, "a class label must be -1 or an integer >= 0"));
            }
            self.saw_minus_one |= value == -1.0;
            if value != -1.0 && value != 1.0 && self.non_pm_one.is_none() {
                self.non_pm_one = Some((self.line, col, token.to_string()));
            }
        }
        self.labels.push(value);
        Ok(())
    }

    /// Parses `index:value` (or skips `qid:N`); returns the 1-based index.
    fn parse_entry(
        &mut self,
        col: usize,
        token: &str,
        last: usize,
    ) -> Result<Option<usize>, DataError> {
        let Some((key, val)) = token.split_once(':') else {
            return Err(self.bad(col, token, "expected `index:value`"));
        };
        if key == "qid" {
            return Ok(None);
        }
        let index = match key.parse::<u32>() {
            Ok(i) if i >= 1 => i as usize,
            _ => return Err(self.bad(col, token, "the index must be an integer >= 1")),
        };
        if index <= last {
            return Err(self.bad(col, token, "indices must be strictly increasing"));
        }
        if let Some(n) = self.n_features.filter(|&n| index > n) {
            return Err(self.bad(
                col,
                token,
                format!("index {index} exceeds n_features = {n}"),
            ));
        }
        match val.parse::<f32>() {
            Ok(v) if v.is_finite() => self.values.push(v),
            _ => return Err(self.bad(col, token, "the value is not a finite number")),
        }
        self.col_indices.push((index - 1) as u32);
        Ok(Some(index))
    }

    fn finish(self) -> Result<SparseDataset, DataError> {
        if self.labels.is_empty() {
            return Err(DataError::Empty {
                path: self.path,
                detail: "no data lines (file is empty or only comments)",
            });
        }
        let targets = match self.kind {
            TargetKind::Value => Targets::Values {
                values: self.labels,
                dim: 1,
            },
            TargetKind::Class => {
                class_targets(&self.path, self.labels, self.saw_minus_one, self.non_pm_one)?
            }
        };
        let n_cols = self.n_features.unwrap_or(self.max_index);
        let x = CsrMatrix::from_parts(self.row_ptr, self.col_indices, self.values, n_cols);
        Ok(SparseDataset { x, targets })
    }
}

/// Maps -1/+1 to 0/1 if the file uses -1; otherwise keeps the integer labels.
fn class_targets(
    path: &Path,
    labels: Vec<f32>,
    saw_minus_one: bool,
    non_pm_one: Option<(u64, usize, String)>,
) -> Result<Targets, DataError> {
    if let (true, Some((line, column, token))) = (saw_minus_one, non_pm_one) {
        return Err(DataError::BadToken {
            path: path.to_path_buf(),
            line,
            column,
            token,
            reason: "the file uses label -1, so it is binary and labels must be -1 or +1".into(),
        });
    }
    let labels: Vec<u32> = labels.iter().map(|&v| v.max(0.0) as u32).collect();
    let num_classes = labels
        .iter()
        .max()
        .map_or(0, |&m| m as usize + 1)
        .max(2 * saw_minus_one as usize);
    Ok(Targets::Classes {
        labels,
        num_classes,
    })
}
