//! The data boundary of the training loop: host rows of a [`Dataset`] become tensors here, in
//! [`to_device`], and nowhere else. On a GPU this is the one host-to-device copy of a step.

use crate::task::{Targets, Task};
use gradus_data::Dataset;
use gradus_tensor::{DType, Element, Result, Tensor};

/// A batch as the model and the loss take it: the input tensor, the targets in the task's form,
/// and how many samples it holds.
#[derive(Clone, Debug)]
pub struct DeviceBatch {
    /// Model input, `[samples, features...]`, in the run's dtype.
    pub x: Tensor,
    /// Targets: class indices stay on the host (the loss gathers with them), real values are a
    /// tensor `[samples, dim]`.
    pub y: Targets,
    /// Samples in the batch.
    pub samples: usize,
}

/// The rows `idx` of `data` as tensors of `dtype` (class targets as indices): the explicit
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
    let b = data.batch(idx);
    let x = host_to_device(b.x, &b.x_shape, dtype)?;
    let y = match (&b.y, task) {
        (gradus_data::Targets::Classes { labels, .. }, _) => {
            Targets::Classes(labels.iter().map(|&l| l as usize).collect())
        }
        (gradus_data::Targets::Values { values, .. }, Task::Classification { .. }) => {
            Targets::Classes(values.iter().map(|&v| v as usize).collect())
        }
        (gradus_data::Targets::Values { values, dim }, _) => {
            Targets::Values(host_to_device(values.clone(), &[idx.len(), *dim], dtype)?)
        }
    };
    Ok(DeviceBatch {
        x,
        y,
        samples: idx.len(),
    })
}

/// Host values of `shape` as a tensor of `dtype`: the one place the training loop turns host
/// data into a tensor (batches here, 0/1 targets of binary classification in [`Task::loss`]).
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
