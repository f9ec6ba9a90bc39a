//! The files of a run folder the report and `gradus compare` read: `metrics.csv`, `steps.csv`,
//! `layers.csv` (plain numeric CSV as gradus writes them), `summary.json` and `config.toml`.

use crate::error::{Result, RunError};
use std::path::{Path, PathBuf};

/// A CSV file read as text cells under a header.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows of cells (as many as the header; short rows are padded with empty cells).
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Parses CSV text without quoting (gradus's own files have none).
    ///
    /// ```
    /// use gradus_run::report::run_files::Table;
    /// let t = Table::parse("epoch,val_loss\n1,0.5\n2,\n");
    /// assert_eq!(t.column("val_loss"), Some(vec![Some(0.5), None]));
    /// ```
    pub fn parse(text: &str) -> Table {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<String> = lines
            .next()
            .map(|h| h.split(',').map(|c| c.trim().to_string()).collect())
            .unwrap_or_default();
        let rows = lines
            .map(|l| {
                let mut r: Vec<String> = l.split(',').map(|c| c.trim().to_string()).collect();
                r.resize(header.len(), String::new());
                r
            })
            .collect();
        Table { header, rows }
    }

    /// The numeric values of column `name` (`None` for empty or unparsable cells), or `None` when
    /// there is no such column.
    pub fn column(&self, name: &str) -> Option<Vec<Option<f64>>> {
        let i = self.header.iter().position(|h| h == name)?;
        Some(self.rows.iter().map(|r| r[i].parse().ok()).collect())
    }

    /// `(x, y)` points of two numeric columns, rows where either is missing left out.
    pub fn points(&self, x: &str, y: &str) -> Vec<(f64, f64)> {
        match (self.column(x), self.column(y)) {
            (Some(xs), Some(ys)) => xs
                .into_iter()
                .zip(ys)
                .filter_map(|(a, b)| Some((a?, b?)))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// What a run folder holds for the report.
#[derive(Clone, Debug)]
pub struct RunFiles {
    /// The folder.
    pub dir: PathBuf,
    /// `metrics.csv`: one row per epoch.
    pub metrics: Table,
    /// `steps.csv`: one row per optimizer step (empty for runs written before it existed).
    pub steps: Table,
    /// `layers.csv`: `epoch,layer,grad_norm,update_ratio` (`update_ratio` absent in runs
    /// written before it existed).
    pub layers: Table,
    /// `summary.json`, if written.
    pub summary: Option<serde_json::Value>,
    /// `config.toml`, the resolved config, if written.
    pub config: Option<String>,
}

impl RunFiles {
    /// Reads a run folder.
    ///
    /// # Errors
    /// When `dir/metrics.csv` cannot be read (the folder is not a run folder), or `summary.json`
    /// is not JSON; each names the file.
    pub fn read(dir: &Path) -> Result<RunFiles> {
        let metrics_path = dir.join("metrics.csv");
        let metrics = std::fs::read_to_string(&metrics_path).map_err(|e| {
            RunError::Setup(format!(
                "{}: {e} (is {} a run folder written by gradus train?)",
                metrics_path.display(),
                dir.display()
            ))
        })?;
        let optional = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
        let summary = match optional("summary.json") {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| {
                RunError::Setup(format!("{}: {e}", dir.join("summary.json").display()))
            })?),
            None => None,
        };
        Ok(RunFiles {
            dir: dir.to_path_buf(),
            metrics: Table::parse(&metrics),
            steps: Table::parse(&optional("steps.csv").unwrap_or_default()),
            layers: Table::parse(&optional("layers.csv").unwrap_or_default()),
            summary,
            config: optional("config.toml"),
        })
    }

    /// Per-layer `(epoch, value)` series of a `layers.csv` column (`grad_norm`,
    /// `update_ratio`), layers in file order; empty when the file has no such column.
    ///
    /// ```
    /// use gradus_run::report::run_files::{RunFiles, Table};
    /// let files = RunFiles {
    ///     dir: "runs/demo".into(),
    ///     metrics: Table::default(),
    ///     steps: Table::default(),
    ///     layers: Table::parse("epoch,layer,grad_norm,update_ratio\n1,fc,0.5,0.001\n2,fc,0.4,\n"),
    ///     summary: None,
    ///     config: None,
    /// };
    /// assert_eq!(files.layer_series("update_ratio"), vec![("fc".to_string(), vec![(1.0, 0.001)])]);
    /// ```
    pub fn layer_series(&self, column: &str) -> Vec<(String, Vec<(f64, f64)>)> {
        let mut out: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        let col = |n: &str| self.layers.header.iter().position(|h| h == n);
        let (Some(e), Some(l), Some(g)) = (col("epoch"), col("layer"), col(column)) else {
            return out;
        };
        for r in &self.layers.rows {
            let (Ok(epoch), Ok(norm)) = (r[e].parse::<f64>(), r[g].parse::<f64>()) else {
                continue;
            };
            match out.iter_mut().find(|(name, _)| *name == r[l]) {
                Some((_, pts)) => pts.push((epoch, norm)),
                None => out.push((r[l].clone(), vec![(epoch, norm)])),
            }
        }
        out
    }
}
