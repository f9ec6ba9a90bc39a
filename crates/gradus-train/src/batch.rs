//! The data boundary of the training loop: host rows of a [`Dataset`] become tensors here, in
//! [`to_device`], and nowhere else. On a GPU this is the one host-to-device copy of a step.

use crate::task::{Targets, Task};
use gradus_data::{Augment, Dataset};
use gradus_tensor::{DType, Element, Result, Tensor};

/// A batch as the model and the loss take it: the input tensor, the targets in the task's form,
/// and how many samples it holds.
#[derive(Clone, Debug)]
pub struct DeviceBatch {
    /// Model input, `[samples, features...]`, in the run's dtype.
    pub x: Tensor,
    /// Targets: class indices as a tensor `[samples]` (the loss gathers with them on the
    /// device), real values as a tensor `[samples, dim]`.
    pub y: Targets,
    /// Samples in the batch.
    pub samples: usize,
    /// Per-sample loss weights `[samples]` in the run's dtype, when the data set has them
    /// ([`gradus_data::Dataset::with_sample_weights`]); the loss is then
    /// [`Task::weighted_loss`].
    pub weights: Option<Tensor>,
}

impl DeviceBatch {
    /// Samples `start..start + len` of the batch (class targets of a sequence model: their
    /// positions with them).
    ///
    /// # Errors
    /// The range is outside the batch.
    ///
    /// ```
    /// use gradus_data::{Dataset, Targets};
    /// use gradus_tensor::DType;
    /// use gradus_train::{batch::to_device, task::Task};
    /// let data = Dataset::new(vec![1.0, 2.0, 3.0], vec![1],
    ///     Targets::Values { values: vec![0.5, 1.5, 2.5], dim: 1 }).unwrap();
    /// let b = to_device(&data, &[0, 1, 2], &Task::Regression { outputs: 1 }, DType::F64).unwrap();
    /// let tail = b.narrow(1, 2).unwrap();
    /// assert_eq!((tail.x.to_vec::<f64>().unwrap(), tail.samples), (vec![2.0, 3.0], 2));
    /// ```
    pub fn narrow(&self, start: usize, len: usize) -> Result<DeviceBatch> {
        let y = match &self.y {
            Targets::Classes(t) => {
                let per = t.numel() / self.samples.max(1);
                Targets::Classes(t.narrow(0, start * per, len * per)?)
            }
            Targets::Values(t) => Targets::Values(t.narrow(0, start, len)?),
        };
        Ok(DeviceBatch {
            x: self.x.narrow(0, start, len)?,
            y,
            samples: len,
            weights: match &self.weights {
                Some(w) => Some(w.narrow(0, start, len)?),
                None => None,
            },
        })
    }
}

/// The rows `idx` of `data` as tensors of `dtype` (class targets as whole numbers): the explicit
/// host-to-device transfer of a batch.
///
/// # Errors
/// When the rows do not form a tensor of the data set's shape.
///
/// ```
/// use gradus_data::{Dataset, Targets};
/// use gradus_tensor::DType;
/// use gradus_train::{batch::to_device, task::Task};
/// let data = Dataset::new(vec![1.0, 2.0, 3.0, 4.0], vec![2],
///     Targets::Values { values: vec![0.5, 1.5], dim: 1 }).unwrap();
/// let b = to_device(&data, &[1], &Task::Regression { outputs: 1 }, DType::F64).unwrap();
/// assert_eq!(b.x.to_vec::<f64>().unwrap(), vec![3.0, 4.0]);
/// assert_eq!(b.samples, 1);
/// ```
pub fn to_device(data: &Dataset, idx: &[usize], task: &Task, dtype: DType) -> Result<DeviceBatch> {
    batch_to_device(data, data.batch(idx), idx, task, dtype)
}

/// [`to_device`] of the rows `idx` of a training set with their images augmented on the host by
/// `augment` for `(seed, epoch)` first: each sample's transform depends on its index in `data`,
/// never on the batch it falls in ([`Augment::apply`]).
///
/// # Errors
/// As [`to_device`], or when the samples are not images of the augmentation's shape.
///
/// ```
/// use gradus_data::{Augment, AugmentParams, Dataset, Targets};
/// use gradus_tensor::DType;
/// use gradus_train::{batch::to_device_augmented, task::Task};
/// let data = Dataset::new(vec![1.0, 2.0, 3.0, 4.0], vec![1, 2, 2],
///     Targets::Classes { labels: vec![0], num_classes: 2 }).unwrap();
/// let flip = Augment::new(AugmentParams { hflip: 1.0, ..Default::default() }, &[1, 2, 2]).unwrap();
/// let task = Task::Classification { classes: 2 };
/// let b = to_device_augmented(&data, &[0], &task, DType::F32, (&flip, 0, 1)).unwrap();
/// assert_eq!(b.x.to_vec::<f32>().unwrap(), vec![2.0, 1.0, 4.0, 3.0]);
/// ```
pub fn to_device_augmented(
    data: &Dataset,
    idx: &[usize],
    task: &Task,
    dtype: DType,
    (augment, seed, epoch): (&Augment, u64, u64),
) -> crate::error::Result<DeviceBatch> {
    let mut b = data.batch(idx);
    augment.apply(&mut b.x, idx, seed, epoch)?;
    Ok(batch_to_device(data, b, idx, task, dtype)?)
}

/// A gathered host batch of the rows `idx` of `data` as tensors.
fn batch_to_device(
    data: &Dataset,
    b: gradus_data::Batch,
    idx: &[usize],
    task: &Task,
    dtype: DType,
) -> Result<DeviceBatch> {
    let x = host_to_device(b.x, &b.x_shape, dtype)?;
    let weights = match data.batch_weights(idx) {
        Some(w) => Some(host_to_device(w, &[idx.len()], dtype)?),
        None => None,
    };
    Ok(DeviceBatch {
        x,
        y: targets_to_device(&b.y, task, dtype)?,
        samples: idx.len(),
        weights,
    })
}

/// Host targets as tensors of `dtype` in `task`'s form: labels, and the values of a
/// classification task (next-token ids), become class indices `[n]` (whole numbers, one per
/// label or value); the values of other tasks become `[samples, dim]`. The targets' half of
/// [`to_device`], and how `gradus eval` sends a whole test set.
///
/// # Errors
/// Never for targets a [`Dataset`] holds (their sizes fit their shapes).
///
/// ```
/// use gradus_data::Targets as HostTargets;
/// use gradus_tensor::DType;
/// use gradus_train::{batch::targets_to_device, task::{Targets, Task}};
/// let labels = HostTargets::Classes { labels: vec![2, 0], num_classes: 3 };
/// let y = targets_to_device(&labels, &Task::Classification { classes: 3 }, DType::F32).unwrap();
/// let Targets::Classes(y) = y else { unreachable!() };
/// assert_eq!(y.to_vec::<f32>().unwrap(), vec![2.0, 0.0]);
/// ```
pub fn targets_to_device(y: &gradus_data::Targets, task: &Task, dtype: DType) -> Result<Targets> {
    // class indices of a 16-bit run stay f32: bf16 holds whole numbers only up to 256
    let index_dtype = if dtype.half().is_some() {
        DType::F32
    } else {
        dtype
    };
    Ok(match (y, task) {
        (gradus_data::Targets::Classes { labels, .. }, _) => {
            let labels: Vec<f64> = labels.iter().map(|&l| l as f64).collect();
            let n = labels.len();
            Targets::Classes(host_to_device(labels, &[n], index_dtype)?)
        }
        (gradus_data::Targets::Values { values, .. }, Task::Classification { .. }) => {
            Targets::Classes(host_to_device(
                values.clone(),
                &[values.len()],
                index_dtype,
            )?)
        }
        (gradus_data::Targets::Values { values, dim }, _) => {
            let rows = values.len() / (*dim).max(1);
            Targets::Values(host_to_device(values.clone(), &[rows, *dim], dtype)?)
        }
    })
}

/// Host values of `shape` as a tensor of `dtype`: the one place the training loop turns host
/// data into a tensor (a batch's inputs and targets).
///
/// # Errors
/// When `values` does not hold `shape`'s number of elements.
pub(crate) fn host_to_device<T: Element>(
    values: Vec<T>,
    shape: &[usize],
    dtype: DType,
) -> Result<Tensor> {
    Tensor::from_vec(values, shape)?.to_dtype(dtype)
}
