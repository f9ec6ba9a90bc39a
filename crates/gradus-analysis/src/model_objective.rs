//! [`model_objective`]: the training loss of a model on batches of a data set, as an
//! [`Objective`]: the batches are moved to the model's device once, the model is put in
//! evaluation mode (no dropout masks, batch norm's running statistics), and the loss is the mean
//! over all the batches' samples (each batch weighted by its share).

use crate::{AnalysisError, Objective, Result};
use gradus_data::{BatchMode, Batcher, Dataset};
use gradus_nn::Module;
use gradus_tensor::DType;
use gradus_train::batch::{to_device, DeviceBatch};
use gradus_train::task::Task;

/// The first `count` batches of `data` cut as `mode` cuts them, in the data's order (all of them
/// when `count` exceeds their number).
///
/// # Errors
/// When the data is empty, `count` is 0, or `mode` is a mini-batch of size 0.
///
/// ```
/// use gradus_analysis::model_objective::first_batches;
/// use gradus_data::BatchMode;
/// let b = first_batches(10, BatchMode::MiniBatch { size: 4, drop_last: false }, 2).unwrap();
/// assert_eq!(b, vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7]]);
/// ```
pub fn first_batches(samples: usize, mode: BatchMode, count: usize) -> Result<Vec<Vec<usize>>> {
    if samples == 0 || count == 0 {
        return Err(AnalysisError::Data(format!(
            "{samples} samples, {count} batches: the analysis needs at least one sample and one batch"
        )));
    }
    let batcher = Batcher::new(samples, mode).map_err(|e| AnalysisError::Data(e.to_string()))?;
    Ok(batcher.epoch(0).into_iter().take(count).collect())
}

/// The mean training loss of `model` (named parameters that require gradients) under `task` on
/// the rows `batches` of `data`, in `dtype`. Puts the model in evaluation mode.
///
/// # Errors
/// When a batch cannot be moved to the model (shapes), or the model has no trainable parameter.
pub fn model_objective<'a>(
    model: &'a dyn Module,
    task: &'a Task,
    data: &Dataset,
    batches: &[Vec<usize>],
    dtype: DType,
) -> Result<Objective<'a>> {
    model.eval();
    let device: Vec<DeviceBatch> = batches
        .iter()
        .map(|idx| to_device(data, idx, task, dtype))
        .collect::<gradus_tensor::Result<_>>()?;
    let total: usize = device.iter().map(|b| b.samples).sum();
    let weights = device
        .iter()
        .map(|b| b.samples as f64 / total.max(1) as f64)
        .collect();
    Objective::new(model.named_parameters(), weights, move |b| {
        let batch = &device[b];
        let out = model.forward(&batch.x)?;
        Ok(task.loss(&out, &batch.y)?)
    })
}
