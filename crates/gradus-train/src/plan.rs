//! How a run cuts its epochs into batches, checked before the first step: an epoch without a
//! batch, or a one-sample batch reaching a batch-norm layer in training mode, is an error that
//! gives the numbers.

use crate::error::{Result, TrainError};
use gradus_data::{BatchMode, Batcher};
use gradus_nn::Module;

/// Whether a model has batch-norm layers (buffers named `running_var`).
///
/// ```
/// use gradus_nn::layers::{BatchNorm, Linear, Sequential};
/// use gradus_tensor::Rng;
/// let plain = Linear::new(3, 2, true, &mut Rng::seed(0));
/// assert!(!gradus_train::plan::has_batch_norm(&plain));
/// let net = Sequential::new().push(Linear::new(3, 2, true, &mut Rng::seed(0))).push(BatchNorm::new_1d(2));
/// assert!(gradus_train::plan::has_batch_norm(&net));
/// ```
pub fn has_batch_norm(model: &dyn Module) -> bool {
    model
        .named_buffers()
        .iter()
        .any(|(name, _)| name == "running_var" || name.ends_with(".running_var"))
}

fn describe(mode: BatchMode) -> String {
    match mode {
        BatchMode::Full => "batch.mode = \"full\"".into(),
        BatchMode::Stochastic => "batch.mode = \"stochastic\"".into(),
        BatchMode::MiniBatch { size, drop_last } => {
            format!("batch.size = {size} and drop_last = {drop_last}")
        }
    }
}

/// The batcher of a run over `n` training samples, shuffled by `seed`; a full batch keeps the
/// natural order (shuffling it would only reorder the sums), so the trainer can gather its rows
/// once for every epoch.
///
/// With `batch_norm` (the model has batch-norm layers, see [`has_batch_norm`]), a last batch of
/// one sample is merged into the batch before it (rather than dropped: every sample is still
/// seen every epoch, and the epoch's loss covers them all), as no batch-norm layer can normalize
/// one sample in training mode; settings that give only one-sample batches are refused.
///
/// # Errors
/// When an epoch would have no batch (no samples, or `drop_last` with fewer samples than the batch
/// size), or, with batch norm, every batch would have one sample. The message gives the numbers.
///
/// ```
/// use gradus_data::BatchMode;
/// use gradus_train::plan::epoch_batcher;
/// let mode = BatchMode::MiniBatch { size: 32, drop_last: true };
/// let err = epoch_batcher(10, mode, 0, false).unwrap_err().to_string();
/// assert!(err.contains("10 training samples") && err.contains("batch.size = 32"), "{err}");
/// let mode = BatchMode::MiniBatch { size: 4, drop_last: false };
/// assert_eq!(epoch_batcher(9, mode, 0, true).unwrap().batches_per_epoch(), 2); // 4 + 5
/// assert_eq!(epoch_batcher(3, BatchMode::Full, 0, false).unwrap().epoch(7), [[0, 1, 2]]);
/// ```
pub fn epoch_batcher(n: usize, mode: BatchMode, seed: u64, batch_norm: bool) -> Result<Batcher> {
    if n == 0 {
        return Err(TrainError::Setup(
            "no training steps: the training set has 0 samples (is the validation fraction too large, or data.limit 0?)".into(),
        ));
    }
    let mut batcher = match mode {
        BatchMode::Full => Batcher::new(n, mode)?,
        _ => Batcher::new(n, mode)?.shuffled(seed),
    };
    if batcher.batches_per_epoch() == 0 {
        let hint = match mode {
            BatchMode::MiniBatch { size, .. } => format!(
                "; lower batch.size to at most {n} or set drop_last = false (a full batch of {size} is never reached)"
            ),
            _ => String::new(),
        };
        return Err(TrainError::Setup(format!(
            "no training steps: {n} training samples with {} make 0 batches per epoch{hint}",
            describe(mode)
        )));
    }
    if batch_norm {
        let single = match mode {
            BatchMode::Stochastic => true,
            BatchMode::MiniBatch { size: 1, .. } => true,
            _ => n == 1,
        };
        if single {
            return Err(TrainError::Setup(format!(
                "the model has batch norm, which cannot train on one sample at a time, and {n} training sample{} with {} give batches of one sample; use mini-batches of at least 2 samples",
                if n == 1 { "" } else { "s" },
                describe(mode)
            )));
        }
        batcher = batcher.merge_single_last();
    }
    Ok(batcher)
}

/// Steps per epoch of a run over `n` samples (0 where [`epoch_batcher`] refuses the settings).
///
/// ```
/// use gradus_data::BatchMode;
/// let mode = BatchMode::MiniBatch { size: 64, drop_last: false };
/// assert_eq!(gradus_train::plan::steps_per_epoch(455, mode, false), 8);
/// assert_eq!(gradus_train::plan::steps_per_epoch(129, mode, true), 2); // 64 + 65
/// ```
pub fn steps_per_epoch(n: usize, mode: BatchMode, batch_norm: bool) -> u64 {
    epoch_batcher(n, mode, 0, batch_norm).map_or(0, |b| b.batches_per_epoch() as u64)
}
