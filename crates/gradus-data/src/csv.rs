//! CSV files with a header row: one or more target columns, numeric features.
//!
//! Parsing uses the `csv` crate rather than splitting on commas by hand: it is
//! the well-maintained standard reader (BurntSushi), handles RFC 4180 quoting
//! (`"a,b"`, doubled quotes, quoted newlines), CRLF, and reports the line on
//! which each record starts, which our error messages need.
//!
//! Line numbers in errors are 1-based and count the header as line 1; columns
//! are given by 1-based index and header name.

use std::path::{Path, PathBuf};

use crate::csv_lines::{LineCounter, Lines};
pub use crate::targets::TargetKind;
use crate::{DataError, Dataset, Targets};

/// Which columns are features.
///
/// ```
/// use gradus_data::csv::FeatureColumns;
/// let f = FeatureColumns::Named(vec!["area".into()]);
/// assert_ne!(f, FeatureColumns::AllOthers);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureColumns {
    /// Every column that is not a target, in file order.
    AllOthers,
    /// These columns, in this order.
    Named(Vec<String>),
}

/// Options for [`read_csv`]: which columns, what kind of target, which delimiter.
///
/// ```
/// use gradus_data::csv::{CsvOptions, TargetKind};
/// let opts = CsvOptions::new("price", TargetKind::Value).features(&["area"]).delimiter(b';');
/// assert_eq!(opts.delimiter, b';');
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// Target column names (exactly one for [`TargetKind::Class`]).
    pub targets: Vec<String>,
    /// Feature columns.
    pub features: FeatureColumns,
    /// Classification or regression.
    pub kind: TargetKind,
    /// Field delimiter, `b','` by default.
    pub delimiter: u8,
}

impl CsvOptions {
    /// One target column; all other columns are features; comma-delimited.
    ///
    /// ```
    /// use gradus_data::csv::{CsvOptions, FeatureColumns, TargetKind};
    /// let opts = CsvOptions::new("target", TargetKind::Class);
    /// assert_eq!(opts.features, FeatureColumns::AllOthers);
    /// ```
    pub fn new(target: impl Into<String>, kind: TargetKind) -> Self {
        CsvOptions {
            targets: vec![target.into()],
            features: FeatureColumns::AllOthers,
            kind,
            delimiter: b',',
        }
    }

    /// Only these feature columns, in this order, and no target (for inputs to predict from):
    /// [`read_csv_table`] then returns no targets, and other columns of the file are ignored.
    ///
    /// ```
    /// use gradus_data::csv::{CsvOptions, FeatureColumns};
    /// let opts = CsvOptions::features_only(&["area"]);
    /// assert!(opts.targets.is_empty());
    /// ```
    pub fn features_only(names: &[&str]) -> Self {
        CsvOptions {
            targets: Vec::new(),
            features: FeatureColumns::Named(names.iter().map(|s| s.to_string()).collect()),
            kind: TargetKind::Value,
            delimiter: b',',
        }
    }

    /// Uses exactly these feature columns, in this order.
    ///
    /// ```
    /// use gradus_data::csv::{CsvOptions, FeatureColumns, TargetKind};
    /// let opts = CsvOptions::new("y", TargetKind::Value).features(&["a", "b"]);
    /// assert_eq!(opts.features, FeatureColumns::Named(vec!["a".into(), "b".into()]));
    /// ```
    pub fn features(mut self, names: &[&str]) -> Self {
        self.features = FeatureColumns::Named(names.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Uses several target columns (regression only).
    ///
    /// ```
    /// use gradus_data::csv::{CsvOptions, TargetKind};
    /// let opts = CsvOptions::new("y1", TargetKind::Value).targets(&["y1", "y2"]);
    /// assert_eq!(opts.targets.len(), 2);
    /// ```
    pub fn targets(mut self, names: &[&str]) -> Self {
        self.targets = names.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Sets the field delimiter, e.g. `b';'` or `b'\t'`.
    ///
    /// ```
    /// use gradus_data::csv::{CsvOptions, TargetKind};
    /// assert_eq!(CsvOptions::new("y", TargetKind::Value).delimiter(b'\t').delimiter, b'\t');
    /// ```
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }
}

/// Reads a CSV file with a header row into a [`Dataset`] of shape `[n_features]`.
///
/// ```
/// use gradus_data::csv::{read_csv, CsvOptions, TargetKind};
/// let iris = read_csv("../../data/sklearn/iris.csv", &CsvOptions::new("target", TargetKind::Class))?;
/// assert_eq!((iris.len(), iris.feature_len(), iris.num_classes()), (150, 4, Some(3)));
/// # Ok::<(), gradus_data::DataError>(())
/// ```
pub fn read_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Dataset, DataError> {
    read_csv_table(path, options)?.into_dataset()
}

/// Like [`read_csv`], from any reader; `source` is the name used in error messages.
///
/// ```
/// use gradus_data::csv::{read_csv_from, CsvOptions, TargetKind};
/// let text = "area,price\n100,62\n200,74\n";
/// let ds = read_csv_from(text.as_bytes(), "inline.csv", &CsvOptions::new("price", TargetKind::Value))?;
/// assert_eq!(ds.features(), &[100.0, 200.0]);
/// # Ok::<(), gradus_data::DataError>(())
/// ```
pub fn read_csv_from(
    reader: impl std::io::Read,
    source: impl AsRef<Path>,
    options: &CsvOptions,
) -> Result<Dataset, DataError> {
    read_csv_table_from(reader, source, options)?.into_dataset()
}

/// Reads a CSV file into a [`CsvTable`]: the features with their column names, and the targets
/// unless the options name none ([`CsvOptions::features_only`]). Every gradus command reads CSV
/// through this function, so training, `eval` and `predict` see the same columns: matched by
/// name, the UTF-8 byte-order mark of the first header name removed, CRLF and quoting handled.
///
/// ```
/// use gradus_data::csv::{read_csv_table, CsvOptions, TargetKind};
/// let opts = CsvOptions::new("target", TargetKind::Class);
/// let iris = read_csv_table("../../data/sklearn/iris.csv", &opts)?;
/// assert_eq!(iris.feature_names[0], "sepal length (cm)");
/// assert_eq!(iris.rows(), 150);
/// # Ok::<(), gradus_data::DataError>(())
/// ```
pub fn read_csv_table(path: impl AsRef<Path>, options: &CsvOptions) -> Result<CsvTable, DataError> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    read_csv_table_from(std::io::BufReader::new(file), path, options)
}

/// Like [`read_csv_table`], from any reader; `source` is the name used in error messages.
///
/// ```
/// use gradus_data::csv::{read_csv_table_from, CsvOptions};
/// let text = "\u{feff}price,area\r\n62,100\r\n74,200\r\n";
/// let t = read_csv_table_from(text.as_bytes(), "in.csv", &CsvOptions::features_only(&["area"]))?;
/// assert_eq!((t.features, t.feature_names, t.targets), (vec![100.0, 200.0], vec!["area".to_string()], None));
/// # Ok::<(), gradus_data::DataError>(())
/// ```
pub fn read_csv_table_from(
    reader: impl std::io::Read,
    source: impl AsRef<Path>,
    options: &CsvOptions,
) -> Result<CsvTable, DataError> {
    let path = source.as_ref().to_path_buf();
    let (reader, lines) = LineCounter::new(reader);
    // csv-core drops a UTF-8 byte-order mark at the start of the input (spreadsheets' "CSV UTF-8")
    let mut rdr = ::csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .has_headers(true)
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(reader);
    let header = read_header(&mut rdr, &path, &lines)?;
    let cols = Columns::select(&path, &header, options)?;
    let mut rows = Rows::new(options.kind, cols.targets.len());
    let mut record = ::csv::StringRecord::new();
    while rdr
        .read_record(&mut record)
        .map_err(|e| csv_error(&path, e, &lines))?
    {
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        if record.len() != header.len() {
            return Err(DataError::RaggedRow {
                path,
                line,
                expected: header.len(),
                found: record.len(),
            });
        }
        let cell = |col: usize| Cell {
            path: &path,
            line,
            column: col,
            name: &header[col],
            text: &record[col],
        };
        rows.push(&cols, cell)?;
    }
    let feature_names = cols.features.iter().map(|&c| header[c].clone()).collect();
    rows.finish(path, feature_names)
}

/// The columns read from a CSV file: features (with their names) and targets.
///
/// ```
/// use gradus_data::csv::{read_csv_table_from, CsvOptions, TargetKind};
/// let opts = CsvOptions::new("y", TargetKind::Value);
/// let t = read_csv_table_from("b,y,a\n1,2,3\n".as_bytes(), "t.csv", &opts)?;
/// assert_eq!((t.feature_names.join(","), t.features), ("b,a".to_string(), vec![1.0, 3.0]));
/// # Ok::<(), gradus_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CsvTable {
    /// The file (or source name), for error messages.
    pub path: PathBuf,
    /// Feature values, row-major: one row per data line, one value per feature name.
    pub features: Vec<f32>,
    /// The feature columns' header names, in the order of the values of a row.
    pub feature_names: Vec<String>,
    /// The targets, or `None` when the options named no target column.
    pub targets: Option<Targets>,
}

impl CsvTable {
    /// Number of data rows.
    ///
    /// ```
    /// use gradus_data::csv::{read_csv_table_from, CsvOptions};
    /// let t = read_csv_table_from("a\n1\n2\n".as_bytes(), "t.csv", &CsvOptions::features_only(&["a"]))?;
    /// assert_eq!(t.rows(), 2);
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn rows(&self) -> usize {
        self.features.len() / self.feature_names.len().max(1)
    }

    /// The table as a [`Dataset`] of shape `[n_features]`.
    ///
    /// # Errors
    /// When the table has no targets (read with [`CsvOptions::features_only`]).
    ///
    /// ```
    /// use gradus_data::csv::{read_csv_table_from, CsvOptions, TargetKind};
    /// let opts = CsvOptions::new("y", TargetKind::Value);
    /// let ds = read_csv_table_from("x,y\n1,2\n".as_bytes(), "t.csv", &opts)?.into_dataset()?;
    /// assert_eq!(ds.len(), 1);
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn into_dataset(self) -> Result<Dataset, DataError> {
        let width = self.feature_names.len();
        let targets = self.targets.ok_or_else(|| DataError::Header {
            path: self.path.clone(),
            message: "no target column was selected".into(),
        })?;
        Dataset::new(self.features, vec![width], targets)
    }
}

/// The header's column names; an empty file is an error.
fn read_header<R: std::io::Read>(
    rdr: &mut ::csv::Reader<R>,
    path: &Path,
    lines: &Lines,
) -> Result<Vec<String>, DataError> {
    let header = rdr.headers().map_err(|e| csv_error(path, e, lines))?;
    if header.is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
            detail: "file is empty (expected a header row)",
        });
    }
    Ok(header.iter().map(str::to_string).collect())
}

/// Turns a `csv` crate error into ours, keeping the line if it has one.
fn csv_error(path: &Path, err: ::csv::Error, lines: &Lines) -> DataError {
    let line = err.position().map_or(0, |p| lines.line_at(p.byte()));
    let message = match err.kind() {
        ::csv::ErrorKind::Utf8 { err, .. } => {
            format!("field {} is not valid UTF-8", err.field() + 1)
        }
        _ => err.to_string(),
    };
    match err.into_kind() {
        ::csv::ErrorKind::Io(e) => DataError::io(path, e),
        _ => DataError::Parse {
            path: path.to_path_buf(),
            line,
            message,
        },
    }
}

/// The 0-based header positions of the target and feature columns.
struct Columns {
    targets: Vec<usize>,
    features: Vec<usize>,
}

impl Columns {
    fn select(path: &Path, header: &[String], opts: &CsvOptions) -> Result<Self, DataError> {
        let header_error = |message: String| DataError::Header {
            path: path.to_path_buf(),
            message,
        };
        let features_only = opts.targets.is_empty() && opts.features != FeatureColumns::AllOthers;
        if !features_only
            && (opts.targets.is_empty()
                || (opts.kind == TargetKind::Class && opts.targets.len() != 1))
        {
            return Err(header_error(
                "classification needs exactly one target column, regression at least one".into(),
            ));
        }
        let find = |name: &String| find_column(path, header, name);
        let targets = opts
            .targets
            .iter()
            .map(find)
            .collect::<Result<Vec<_>, _>>()?;
        let features = match &opts.features {
            FeatureColumns::AllOthers => {
                (0..header.len()).filter(|c| !targets.contains(c)).collect()
            }
            FeatureColumns::Named(names) => {
                names.iter().map(find).collect::<Result<Vec<_>, _>>()?
            }
        };
        if features.is_empty() {
            return Err(header_error("no feature columns selected".into()));
        }
        let mut all: Vec<usize> = targets.iter().chain(&features).copied().collect();
        all.sort_unstable();
        if let Some(w) = all.windows(2).find(|w| w[0] == w[1]) {
            return Err(header_error(format!(
                "column `{}` is selected twice (as target or feature)",
                header[w[0]]
            )));
        }
        Ok(Columns { targets, features })
    }
}

/// Finds a column by name; the name must occur exactly once in the header.
fn find_column(path: &Path, header: &[String], name: &str) -> Result<usize, DataError> {
    let mut hits = header.iter().enumerate().filter(|(_, h)| *h == name);
    match (hits.next(), hits.next()) {
        (Some((i, _)), None) => Ok(i),
        (Some(_), Some(_)) => Err(DataError::Header {
            path: path.to_path_buf(),
            message: format!("column name `{name}` occurs more than once in the header"),
        }),
        (None, _) => Err(DataError::UnknownColumn {
            path: path.to_path_buf(),
            name: name.to_string(),
            columns: header.join(", "),
        }),
    }
}

/// One field, with everything an error message needs.
struct Cell<'a> {
    path: &'a Path,
    line: u64,
    column: usize,
    name: &'a str,
    text: &'a str,
}

impl Cell<'_> {
    fn error(&self, expected: &'static str) -> DataError {
        DataError::BadValue {
            path: self.path.to_path_buf(),
            line: self.line,
            column: self.column + 1,
            column_name: self.name.to_string(),
            value: self.text.to_string(),
            expected,
        }
    }

    fn number(&self) -> Result<f32, DataError> {
        match self.text.parse::<f32>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(self.error("a finite number")),
        }
    }

    fn label(&self) -> Result<u32, DataError> {
        match self.text.parse::<u32>() {
            Ok(v) if (v as usize) < crate::targets::MAX_CLASSES => Ok(v),
            _ => Err(self.error("a class label (an integer in 0..2^20)")),
        }
    }
}

/// Accumulates parsed rows.
struct Rows {
    features: Vec<f32>,
    labels: Vec<u32>,
    values: Vec<f32>,
    n_targets: usize,
    kind: TargetKind,
}

impl Rows {
    fn new(kind: TargetKind, n_targets: usize) -> Self {
        Rows {
            features: Vec::new(),
            labels: Vec::new(),
            values: Vec::new(),
            n_targets,
            kind,
        }
    }

    fn push<'a>(
        &mut self,
        cols: &Columns,
        cell: impl Fn(usize) -> Cell<'a>,
    ) -> Result<(), DataError> {
        for &c in &cols.features {
            self.features.push(cell(c).number()?);
        }
        for &c in &cols.targets {
            match self.kind {
                TargetKind::Class => self.labels.push(cell(c).label()?),
                TargetKind::Value => self.values.push(cell(c).number()?),
            }
        }
        Ok(())
    }

    fn finish(self, path: PathBuf, feature_names: Vec<String>) -> Result<CsvTable, DataError> {
        if self.features.is_empty() {
            return Err(DataError::Empty {
                path,
                detail: "no data rows after the header",
            });
        }
        let targets = match self.kind {
            _ if self.n_targets == 0 => None,
            TargetKind::Class => Some(Targets::Classes {
                num_classes: self.labels.iter().max().map_or(0, |&m| m as usize + 1),
                labels: self.labels,
            }),
            TargetKind::Value => Some(Targets::Values {
                values: self.values,
                dim: self.n_targets,
            }),
        };
        Ok(CsvTable {
            path,
            features: self.features,
            feature_names,
            targets,
        })
    }
}
