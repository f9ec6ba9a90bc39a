//! Train/validation splits: a random holdout, or a separate validation file.

use crate::batch::permutation;
use crate::{DataError, Dataset, Targets};

/// The `epoch` value under which the split's permutation is drawn, so that a
/// split and epoch 0's batch order never coincide for the same seed.
const SPLIT_STREAM: u64 = u64::MAX;

/// Splits `0..n` at random into `(train, validation)` index lists, with
/// `round(n * val_fraction)` validation samples.
///
/// The assignment depends only on `(n, val_fraction, seed)`; each list is
/// returned in ascending order. `val_fraction` must be in `[0, 1)` and leave
/// at least one training sample.
///
/// ```
/// use gradus_data::train_val_split;
/// let (train, val) = train_val_split(10, 0.2, 7)?;
/// assert_eq!((train.len(), val.len()), (8, 2));
/// assert_eq!(train_val_split(10, 0.2, 7)?, (train, val));
/// # Ok::<(), gradus_data::DataError>(())
/// ```
pub fn train_val_split(
    n: usize,
    val_fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>), DataError> {
    if !(0.0..1.0).contains(&val_fraction) {
        return Err(DataError::invalid(format!(
            "validation fraction {val_fraction} is not in [0, 1)"
        )));
    }
    let n_val = (n as f64 * val_fraction).round() as usize;
    if n > 0 && n_val >= n {
        return Err(DataError::invalid(format!(
            "validation fraction {val_fraction} of {n} samples leaves no training samples"
        )));
    }
    let order = permutation(n, seed, SPLIT_STREAM);
    let (val, train) = order.split_at(n_val);
    let (mut train, mut val) = (train.to_vec(), val.to_vec());
    train.sort_unstable();
    val.sort_unstable();
    Ok((train, val))
}

/// Where validation data comes from.
///
/// ```
/// use gradus_data::Validation;
/// let v = Validation::Holdout { fraction: 0.1, seed: 0 };
/// assert!(matches!(v, Validation::Holdout { .. }));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Validation {
    /// No validation set.
    Disabled,
    /// Hold out a random fraction of the training data ([`train_val_split`]).
    Holdout {
        /// Fraction of samples held out, in `[0, 1)`.
        fraction: f64,
        /// Seed of the split.
        seed: u64,
    },
    /// A separately read dataset (e.g. another CSV file or the MNIST test split).
    Separate(Dataset),
}

/// Applies a [`Validation`] choice: returns `(train, validation)`.
///
/// A separate set must have the same feature shape and kind of targets; for
/// classification both sides get the larger `num_classes`.
///
/// ```
/// use gradus_data::{split_dataset, Dataset, Targets, Validation};
/// let ds = Dataset::new((0..10).map(|i| i as f32).collect(), vec![1],
///     Targets::Values { values: vec![0.0; 10], dim: 1 })?;
/// let (train, val) = split_dataset(ds, Validation::Holdout { fraction: 0.3, seed: 1 })?;
/// assert_eq!((train.len(), val.map(|v| v.len())), (7, Some(3)));
/// # Ok::<(), gradus_data::DataError>(())
/// ```
pub fn split_dataset(
    data: Dataset,
    validation: Validation,
) -> Result<(Dataset, Option<Dataset>), DataError> {
    match validation {
        Validation::Disabled => Ok((data, None)),
        Validation::Holdout { fraction, seed } => {
            let (train, val) = train_val_split(data.len(), fraction, seed)?;
            Ok((data.subset(&train), Some(data.subset(&val))))
        }
        Validation::Separate(val) => {
            let (train, val) = harmonize(data, val)?;
            Ok((train, Some(val)))
        }
    }
}

/// Checks that two datasets fit together and gives them the same class count.
fn harmonize(train: Dataset, val: Dataset) -> Result<(Dataset, Dataset), DataError> {
    if train.feature_shape() != val.feature_shape() {
        return Err(DataError::invalid(format!(
            "validation samples have shape {:?}, training samples {:?}",
            val.feature_shape(),
            train.feature_shape()
        )));
    }
    match (train.targets(), val.targets()) {
        (Targets::Classes { num_classes: a, .. }, Targets::Classes { num_classes: b, .. }) => {
            let k = (*a).max(*b);
            Ok((with_num_classes(train, k)?, with_num_classes(val, k)?))
        }
        (Targets::Values { dim: a, .. }, Targets::Values { dim: b, .. }) if a == b => {
            Ok((train, val))
        }
        _ => Err(DataError::invalid(
            "training and validation targets are of different kinds or widths",
        )),
    }
}

/// The same dataset with `num_classes` raised to `k`.
fn with_num_classes(data: Dataset, k: usize) -> Result<Dataset, DataError> {
    match data.into_parts() {
        (x, shape, Targets::Classes { labels, .. }) => Dataset::new(
            x,
            shape,
            Targets::Classes {
                labels,
                num_classes: k,
            },
        ),
        (x, shape, targets) => Dataset::new(x, shape, targets),
    }
}
