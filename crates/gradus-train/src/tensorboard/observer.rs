//! [`TensorBoardObserver`]: the trainer's records as TensorBoard summaries.

use super::writer::{HParam, SessionStatus, SummaryWriter};
use crate::error::{Result, TrainError};
use crate::metrics::EpochRecord;
use crate::observer::{StepRecord, TrainObserver};
use crate::trainer::Summary;
use gradus_nn::Param;
use std::path::Path;

/// Logs a run to a TensorBoard event file:
///
/// | tag | when | what |
/// |---|---|---|
/// | `train/loss`, `train/lr`, `train/grad_norm` | every step | the batch's mean loss, the learning rate it was taken with, the global gradient norm |
/// | `grad_norm/<layer>` | every step | each layer's gradient norm |
/// | `epoch/train_loss`, `epoch/val_loss`, `epoch/<metric>` | each epoch end | as in `metrics.csv` (metrics on the validation set, else the training set) |
/// | `epoch/lr`, `epoch/grad_norm`, `epoch/update_ratio` | each epoch end | as in `metrics.csv` |
/// | `epoch/grad_norm/<layer>` | each epoch end | the layer's mean gradient norm, as in `layers.csv` |
/// | `epoch/update_ratio/<layer>` | each epoch end | the layer's mean update-to-parameter ratio, as in `layers.csv` |
/// | `weights/<param>` (histogram) | each epoch end | the parameter's values |
/// | `gradients/<param>` (histogram) | each epoch's first step | the parameter's gradient |
/// | hparams plugin | start and end | the run's hyperparameters, the epoch scalars as its metrics, and how the run ended |
///
/// Every value is logged at the global optimizer step (epoch values at the step the epoch
/// ended on). The file is flushed at each epoch end and at the end of the run.
pub struct TensorBoardObserver {
    writer: SummaryWriter,
    hparams: Vec<(String, HParam)>,
    hparams_written: bool,
    gradients_epoch: usize,
}

fn io_err(w: &SummaryWriter) -> impl Fn(std::io::Error) -> TrainError + '_ {
    move |e| TrainError::Io {
        path: w.path().to_path_buf(),
        source: e,
    }
}

impl TensorBoardObserver {
    /// A new event file in `dir` (created if needed), logging these hyperparameters.
    ///
    /// # Errors
    /// [`TrainError::Io`] when the directory or file cannot be created.
    pub fn create(dir: &Path, hparams: Vec<(String, HParam)>) -> Result<TensorBoardObserver> {
        let writer = SummaryWriter::create(dir).map_err(|source| TrainError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(TensorBoardObserver {
            writer,
            hparams,
            hparams_written: false,
            gradients_epoch: 0,
        })
    }

    /// The event file's path.
    pub fn path(&self) -> &Path {
        self.writer.path()
    }
}

/// Each parameter's values (or gradient) on the host, in f64: the host boundary of logging.
fn host_values(t: &gradus_tensor::Tensor) -> Vec<f64> {
    t.detach().to_vec_f64()
}

impl TrainObserver for TensorBoardObserver {
    fn on_gradients(&mut self, epoch: usize, step: u64, params: &[(String, Param)]) -> Result<()> {
        if epoch == self.gradients_epoch {
            return Ok(());
        }
        self.gradients_epoch = epoch;
        for (name, p) in params {
            if let Some(g) = p.tensor().grad() {
                let values = host_values(&g);
                self.writer
                    .add_histogram(&format!("gradients/{name}"), &values, step)
                    .map_err(io_err(&self.writer))?;
            }
        }
        Ok(())
    }

    fn on_step(&mut self, s: &StepRecord) -> Result<()> {
        let mut values = vec![
            ("train/loss".to_string(), s.loss),
            ("train/lr".to_string(), s.lr),
            ("train/grad_norm".to_string(), s.grad_norms.global),
        ];
        for (layer, n) in &s.grad_norms.per_layer {
            values.push((format!("grad_norm/{layer}"), *n));
        }
        self.writer
            .add_scalars(&values, s.step)
            .map_err(io_err(&self.writer))
    }

    fn on_epoch_end(&mut self, r: &EpochRecord, params: &[(String, Param)]) -> Result<()> {
        let mut values = vec![("epoch/train_loss".to_string(), r.train_loss)];
        if let Some(v) = r.val_loss {
            values.push(("epoch/val_loss".into(), v));
        }
        for (k, v) in &r.metrics {
            values.push((format!("epoch/{k}"), *v));
        }
        values.push(("epoch/lr".into(), r.lr));
        values.push(("epoch/grad_norm".into(), r.grad_norm));
        values.push(("epoch/update_ratio".into(), r.update_ratio));
        for (layer, n) in &r.layer_grad_norms {
            values.push((format!("epoch/grad_norm/{layer}"), *n));
        }
        for (layer, u) in &r.layer_update_ratios {
            values.push((format!("epoch/update_ratio/{layer}"), *u));
        }
        if !self.hparams_written {
            // the metrics the HParams dashboard shows: the epoch's losses and task metrics
            self.hparams_written = true;
            let metrics: Vec<String> = values
                .iter()
                .map(|(t, _)| t.clone())
                .filter(|t| {
                    t.ends_with("_loss") || r.metrics.keys().any(|k| t == &format!("epoch/{k}"))
                })
                .collect();
            self.writer
                .add_hparams(&self.hparams, &metrics)
                .map_err(io_err(&self.writer))?;
        }
        self.writer
            .add_scalars(&values, r.step)
            .map_err(io_err(&self.writer))?;
        for (name, p) in params {
            let values = host_values(&p.tensor());
            self.writer
                .add_histogram(&format!("weights/{name}"), &values, r.step)
                .map_err(io_err(&self.writer))?;
        }
        self.writer.flush().map_err(io_err(&self.writer))
    }

    fn on_end(&mut self, summary: Option<&Summary>) -> Result<()> {
        if !self.hparams_written {
            self.hparams_written = true;
            self.writer
                .add_hparams(&self.hparams, &[])
                .map_err(io_err(&self.writer))?;
        }
        let status = if summary.is_some() {
            SessionStatus::Success
        } else {
            SessionStatus::Failure
        };
        self.writer
            .end_session(status)
            .map_err(io_err(&self.writer))?;
        self.writer.flush().map_err(io_err(&self.writer))
    }
}
