//! Per-epoch records and the files they are written to: `metrics.csv` and `summary.json`.

use crate::checkpoint::Durability;
use crate::row_file::RowFile;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// What one epoch produced: losses, diagnostics and task metrics (accuracy, RMSE, R²...).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Optimizer steps taken so far.
    pub step: u64,
    /// Mean training loss per sample over the epoch (each batch's mean weighted by its
    /// samples, so a small last batch counts for what it holds, as in `gradus eval`).
    pub train_loss: f64,
    /// Validation loss, when there is a validation set.
    pub val_loss: Option<f64>,
    /// Mean global gradient norm over the epoch's steps (a norm describes a step, not a sample:
    /// each step counts once, whatever its batch size).
    pub grad_norm: f64,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Mean update-to-parameter norm ratio over the epoch's steps.
    pub update_ratio: f64,
    /// Task metrics over every sample of the validation set, by name; without one, over the
    /// epoch's training batches as each was trained on (as Keras reports training metrics:
    /// no extra pass over the data, and lagging the end-of-epoch model a little).
    pub metrics: std::collections::BTreeMap<String, f64>,
    /// Mean gradient norm of each layer over the epoch's steps, in parameter order.
    pub layer_grad_norms: Vec<(String, f64)>,
    /// Mean update-to-parameter ratio `||Δθ|| / ||θ||` of each layer over the epoch's measured
    /// steps (see [`crate::diagnostics::layer_update_ratios`]), in parameter order.
    #[serde(default)]
    pub layer_update_ratios: Vec<(String, f64)>,
    /// The gradient noise scale `B_simple` in samples (McCandlish et al. 2018), from the
    /// epoch's steps, when measured (see [`crate::noise_scale`]).
    #[serde(default)]
    pub noise_scale: Option<f64>,
    /// Optimizer steps of the epoch the f16 loss scaler skipped for inf/NaN gradients (runs
    /// with `precision = "f16-mixed"`; `None` for the others). See [`crate::precision`].
    #[serde(default)]
    pub skipped_steps: Option<u64>,
    /// Wall-clock seconds of the epoch.
    pub seconds: f64,
}

/// The columns `metrics.csv` always has between `epoch,step` and the task's metrics (see
/// [`crate::task::TASK_METRICS`]), in file order.
pub const EPOCH_COLUMNS: [&str; 5] = ["train_loss", "val_loss", "grad_norm", "lr", "update_ratio"];

/// Every numeric per-epoch column `metrics.csv` can have: [`EPOCH_COLUMNS`] and then the task
/// metrics (a run has those of its task only), without `epoch`, `step` and `seconds`.
///
/// ```
/// assert!(gradus_train::metrics::metric_columns().contains(&"accuracy"));
/// ```
pub fn metric_columns() -> Vec<&'static str> {
    EPOCH_COLUMNS
        .iter()
        .chain(crate::task::TASK_METRICS.iter())
        .copied()
        .collect()
}

fn fmt(v: f64) -> String {
    format!("{v}")
}

/// Writes `metrics.csv`: `epoch,step,train_loss,val_loss,grad_norm,lr,update_ratio,<metrics>,seconds`,
/// with a `noise_scale` column after `update_ratio` when any epoch measured it, then a
/// `skipped_steps` column (the epoch's optimizer steps the f16 loss scaler skipped) in runs with
/// loss scaling; flushed to disk or not as `durability` says (see [`crate::checkpoint`]). A run
/// keeps its logs up to date with [`EpochLogs`] instead, which appends.
///
/// # Errors
/// When the file cannot be written.
///
/// ```
/// use gradus_train::checkpoint::Durability;
/// use gradus_train::metrics::{write_metrics_csv, EpochRecord};
/// let path = std::env::temp_dir().join("gradus-doc-metrics.csv");
/// let r = EpochRecord { epoch: 1, metrics: [("accuracy".to_string(), 0.9)].into(), ..Default::default() };
/// write_metrics_csv(&path, &[r], Durability::Flushed).unwrap();
/// assert!(std::fs::read_to_string(&path).unwrap().starts_with("epoch,step,train_loss,val_loss,grad_norm,lr"));
/// ```
pub fn write_metrics_csv(
    path: &Path,
    records: &[EpochRecord],
    durability: Durability,
) -> std::io::Result<()> {
    let records: Vec<&EpochRecord> = records.iter().collect();
    write_metrics(&mut RowFile::new(path), &records, durability)
}

fn write_metrics(
    file: &mut RowFile,
    records: &[&EpochRecord],
    durability: Durability,
) -> std::io::Result<()> {
    let names: Vec<&str> = records
        .first()
        .map(|r| r.metrics.keys().map(|k| k.as_str()).collect())
        .unwrap_or_default();
    let noise = records.iter().any(|r| r.noise_scale.is_some());
    let mut header = format!("epoch,step,{}", EPOCH_COLUMNS.join(","));
    if noise {
        header.push_str(",noise_scale");
    }
    let skips = records.iter().any(|r| r.skipped_steps.is_some());
    if skips {
        header.push_str(",skipped_steps");
    }
    for n in &names {
        header.push(',');
        header.push_str(n);
    }
    header.push_str(",seconds\n");
    let row = |i: usize, out: &mut String| {
        let r = records[i];
        let val = r.val_loss.map(fmt).unwrap_or_default();
        let _ = write!(
            out,
            "{},{},{},{val},{},{},{}",
            r.epoch,
            r.step,
            fmt(r.train_loss),
            fmt(r.grad_norm),
            fmt(r.lr),
            fmt(r.update_ratio)
        );
        if noise {
            out.push(',');
            out.push_str(&r.noise_scale.map(fmt).unwrap_or_default());
        }
        if skips {
            out.push(',');
            out.push_str(&r.skipped_steps.map(|n| n.to_string()).unwrap_or_default());
        }
        for v in r.metrics.values() {
            out.push(',');
            out.push_str(&fmt(*v));
        }
        let _ = writeln!(out, ",{:.6}", r.seconds);
    };
    file.write(&header, records.len(), row, durability)
}

/// Writes `layers.csv`, the per-layer diagnostics in long form:
/// `epoch,layer,grad_norm,update_ratio`. `grad_norm` is the layer's gradient norm, mean over the
/// epoch's steps; `update_ratio` is the layer's "update:data ratio" `||Δθ|| / ||θ||` (Karpathy,
/// CS231n; about 1e-3 is healthy, much lower learns slowly, much higher is unstable), mean over
/// the epoch's measured steps (its first step and every `diagnostics_every`), empty when none
/// was measured. Flushed to disk or not as `durability` says.
///
/// # Errors
/// When the file cannot be written.
///
/// ```
/// use gradus_train::checkpoint::Durability;
/// use gradus_train::metrics::{write_layers_csv, EpochRecord};
/// let path = std::env::temp_dir().join("gradus-doc-layers.csv");
/// let r = EpochRecord {
///     epoch: 1,
///     layer_grad_norms: vec![("0".into(), 0.5)],
///     layer_update_ratios: vec![("0".into(), 0.001)],
///     ..Default::default()
/// };
/// write_layers_csv(&path, &[r], Durability::Flushed).unwrap();
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "epoch,layer,grad_norm,update_ratio\n1,0,0.5,0.001\n");
/// ```
pub fn write_layers_csv(
    path: &Path,
    records: &[EpochRecord],
    durability: Durability,
) -> std::io::Result<()> {
    let records: Vec<&EpochRecord> = records.iter().collect();
    write_layers(&mut RowFile::new(path), &records, durability)
}

fn write_layers(
    file: &mut RowFile,
    records: &[&EpochRecord],
    durability: Durability,
) -> std::io::Result<()> {
    let row = |i: usize, out: &mut String| {
        let r = records[i];
        for (layer, norm) in &r.layer_grad_norms {
            let ratio = r
                .layer_update_ratios
                .iter()
                .find(|(l, _)| l == layer)
                .map(|(_, v)| fmt(*v))
                .unwrap_or_default();
            let _ = writeln!(out, "{},{layer},{},{ratio}", r.epoch, fmt(*norm));
        }
    };
    file.write(
        "epoch,layer,grad_norm,update_ratio\n",
        records.len(),
        row,
        durability,
    )
}

/// A run's `metrics.csv` and `layers.csv`, kept up to date after every epoch: each write
/// appends the epochs recorded since the last one ([`RowFile`]), so a long run does not rewrite
/// its whole history every epoch.
///
/// ```
/// use gradus_train::checkpoint::Durability;
/// use gradus_train::metrics::{EpochLogs, EpochRecord};
/// let dir = tempfile::tempdir().unwrap();
/// let mut logs = EpochLogs::new(dir.path());
/// let history: Vec<EpochRecord> = (1..=3).map(|epoch| EpochRecord { epoch, ..Default::default() }).collect();
/// logs.write(&history[..2], None, Durability::Replace).unwrap();
/// logs.write(&history, None, Durability::Flushed).unwrap();
/// let text = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
/// assert_eq!(text.lines().count(), 4);
/// ```
#[derive(Debug)]
pub struct EpochLogs {
    metrics: RowFile,
    layers: RowFile,
}

impl EpochLogs {
    /// The logs of the run directory `dir`.
    pub fn new(dir: &Path) -> EpochLogs {
        EpochLogs {
            metrics: RowFile::new(dir.join("metrics.csv")),
            layers: RowFile::new(dir.join("layers.csv")),
        }
    }

    /// Brings both files to `history` followed by `unfinished` (an epoch stopped inside), as
    /// [`write_metrics_csv`] and [`write_layers_csv`] lay them out.
    ///
    /// # Errors
    /// [`crate::TrainError::Io`] naming the file that cannot be written.
    pub fn write(
        &mut self,
        history: &[EpochRecord],
        unfinished: Option<&EpochRecord>,
        durability: Durability,
    ) -> crate::Result<()> {
        let all: Vec<&EpochRecord> = history.iter().chain(unfinished).collect();
        write_metrics(&mut self.metrics, &all, durability)
            .map_err(crate::TrainError::io(self.metrics.path()))?;
        write_layers(&mut self.layers, &all, durability)
            .map_err(crate::TrainError::io(self.layers.path()))
    }
}
