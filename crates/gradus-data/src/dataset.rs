//! The in-memory dataset: `n` samples of one feature shape, with targets.
//!
//! Features are one row-major `Vec<f32>` (sample after sample); a batch is
//! gathered into fresh contiguous buffers that the trainer turns into tensors.

use crate::gather::gather_rows;
use crate::{DataError, Targets};

/// A gathered mini-batch: contiguous features and their targets.
///
/// ```
/// use gradus_data::{Dataset, Targets};
/// let ds = Dataset::new(vec![1.0, 2.0, 3.0], vec![1],
///     Targets::Classes { labels: vec![0, 1, 0], num_classes: 2 }).unwrap();
/// let b = ds.batch(&[2, 1]);
/// assert_eq!((b.x, b.x_shape), (vec![3.0, 2.0], vec![2, 1]));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Features, row-major, `x_shape.iter().product()` values.
    pub x: Vec<f32>,
    /// `[batch_size, ...feature_shape]`.
    pub x_shape: Vec<usize>,
    /// The batch's targets, in the same order.
    pub y: Targets,
}

impl Batch {
    /// Number of samples in the batch.
    ///
    /// ```
    /// use gradus_data::{Dataset, Targets};
    /// let ds = Dataset::new(vec![1.0, 2.0], vec![1],
    ///     Targets::Values { values: vec![0.0, 1.0], dim: 1 }).unwrap();
    /// assert_eq!(ds.batch(&[0, 1, 1]).len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// True for a batch of no samples.
    ///
    /// ```
    /// use gradus_data::{Dataset, Targets};
    /// let ds = Dataset::new(vec![1.0], vec![1],
    ///     Targets::Values { values: vec![0.0], dim: 1 }).unwrap();
    /// assert!(ds.batch(&[]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `n` samples with a common feature shape, plus their targets.
///
/// ```
/// use gradus_data::{Dataset, Targets};
/// let ds = Dataset::new(vec![0.0; 6], vec![3],
///     Targets::Classes { labels: vec![0, 1], num_classes: 2 }).unwrap();
/// assert_eq!((ds.len(), ds.feature_len()), (2, 3));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    features: Vec<f32>,
    feature_shape: Vec<usize>,
    targets: Targets,
    /// Per-sample loss weights `[len]`, if any (see [`Dataset::with_sample_weights`]).
    weights: Option<Vec<f32>>,
}

impl Dataset {
    /// Builds a dataset, checking that `features` holds `targets.len()` samples of
    /// `feature_shape` (non-empty, no zero dimension) and that labels are in range.
    ///
    /// ```
    /// use gradus_data::{Dataset, Targets};
    /// let t = Targets::Values { values: vec![1.0], dim: 1 };
    /// assert!(Dataset::new(vec![0.0; 4], vec![2, 2], t.clone()).is_ok());
    /// assert!(Dataset::new(vec![0.0; 3], vec![2, 2], t).is_err());
    /// ```
    pub fn new(
        features: Vec<f32>,
        feature_shape: Vec<usize>,
        targets: Targets,
    ) -> Result<Self, DataError> {
        if feature_shape.is_empty() || feature_shape.contains(&0) {
            return Err(DataError::invalid(format!(
                "feature shape {feature_shape:?} must be non-empty with no zero dimension"
            )));
        }
        targets.validate()?;
        let per_sample: usize = feature_shape.iter().product();
        if Some(features.len()) != targets.len().checked_mul(per_sample) {
            return Err(DataError::invalid(format!(
                "{} feature values are not {} samples of shape {feature_shape:?}",
                features.len(),
                targets.len()
            )));
        }
        Ok(Dataset {
            features,
            feature_shape,
            targets,
            weights: None,
        })
    }

    /// The dataset with per-sample loss weights `weights [len]` (scikit-learn's
    /// `sample_weight`): the training loss of a batch becomes `Σ wᵢ lossᵢ / Σ wᵢ`, so an
    /// integer weight counts as that many copies of the sample and a zero weight drops it.
    ///
    /// # Errors
    /// `weights` is not one value per sample, or holds a negative or non-finite value.
    ///
    /// ```
    /// use gradus_data::{Dataset, Targets};
    /// let ds = Dataset::new(vec![1.0, 2.0, 3.0], vec![1],
    ///     Targets::Values { values: vec![0.0; 3], dim: 1 }).unwrap();
    /// let ds = ds.with_sample_weights(vec![1.0, 0.0, 2.0]).unwrap();
    /// assert_eq!(ds.batch_weights(&[2, 0]), Some(vec![2.0, 1.0]));
    /// assert_eq!(ds.subset(&[1]).sample_weights(), Some(&[0.0][..]));
    /// assert!(ds.clone().with_sample_weights(vec![1.0]).is_err());
    /// assert!(ds.with_sample_weights(vec![1.0, -1.0, 0.0]).is_err());
    /// ```
    pub fn with_sample_weights(mut self, weights: Vec<f32>) -> Result<Self, DataError> {
        if weights.len() != self.len() {
            return Err(DataError::invalid(format!(
                "sample weights: {} values for {} samples",
                weights.len(),
                self.len()
            )));
        }
        if let Some((i, w)) = weights
            .iter()
            .enumerate()
            .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
        {
            return Err(DataError::invalid(format!(
                "sample weights must be finite and non-negative; sample {i} has {w}"
            )));
        }
        self.weights = Some(weights);
        Ok(self)
    }

    /// The per-sample loss weights, if the dataset has them.
    pub fn sample_weights(&self) -> Option<&[f32]> {
        self.weights.as_deref()
    }

    /// The weights of samples `indices`, in that order (`None` without weights).
    ///
    /// # Panics
    /// If an index is `>= len()`.
    pub fn batch_weights(&self, indices: &[usize]) -> Option<Vec<f32>> {
        self.weights
            .as_ref()
            .map(|w| indices.iter().map(|&i| w[i]).collect())
    }

    /// Number of samples.
    ///
    /// ```
    /// # let ds = gradus_data::Dataset::new(vec![0.0; 2], vec![1],
    /// #     gradus_data::Targets::Values { values: vec![0.0; 2], dim: 1 }).unwrap();
    /// assert_eq!(ds.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// True when the dataset has no samples.
    ///
    /// ```
    /// # let ds = gradus_data::Dataset::new(vec![], vec![1],
    /// #     gradus_data::Targets::Values { values: vec![], dim: 1 }).unwrap();
    /// assert!(ds.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values per sample: the product of [`Dataset::feature_shape`].
    ///
    /// ```
    /// # let ds = gradus_data::Dataset::new(vec![0.0; 6], vec![1, 2, 3],
    /// #     gradus_data::Targets::Values { values: vec![0.0], dim: 1 }).unwrap();
    /// assert_eq!(ds.feature_len(), 6);
    /// ```
    pub fn feature_len(&self) -> usize {
        self.feature_shape.iter().product()
    }

    /// Shape of one sample, e.g. `[4]` for tabular data or `[1, 28, 28]` for images.
    ///
    /// ```
    /// # let ds = gradus_data::Dataset::new(vec![0.0; 6], vec![2, 3],
    /// #     gradus_data::Targets::Values { values: vec![0.0], dim: 1 }).unwrap();
    /// assert_eq!(ds.feature_shape(), &[2, 3]);
    /// ```
    pub fn feature_shape(&self) -> &[usize] {
        &self.feature_shape
    }

    /// All features, row-major (`len() * feature_len()` values).
    ///
    /// ```
    /// # let ds = gradus_data::Dataset::new(vec![1.0, 2.0], vec![1],
    /// #     gradus_data::Targets::Values { values: vec![0.0; 2], dim: 1 }).unwrap();
    /// assert_eq!(ds.features(), &[1.0, 2.0]);
    /// ```
    pub fn features(&self) -> &[f32] {
        &self.features
    }

    /// Mutable features, for in-place preprocessing (the length cannot change).
    ///
    /// ```
    /// # let mut ds = gradus_data::Dataset::new(vec![1.0, 2.0], vec![1],
    /// #     gradus_data::Targets::Values { values: vec![0.0; 2], dim: 1 }).unwrap();
    /// ds.features_mut().iter_mut().for_each(|v| *v *= 2.0);
    /// assert_eq!(ds.features(), &[2.0, 4.0]);
    /// ```
    pub fn features_mut(&mut self) -> &mut [f32] {
        &mut self.features
    }

    /// The features of sample `i`.
    ///
    /// # Panics
    /// If `i >= len()`.
    ///
    /// ```
    /// # let ds = gradus_data::Dataset::new(vec![1.0, 2.0, 3.0, 4.0], vec![2],
    /// #     gradus_data::Targets::Values { values: vec![0.0; 2], dim: 1 }).unwrap();
    /// assert_eq!(ds.sample(1), &[3.0, 4.0]);
    /// ```
    pub fn sample(&self, i: usize) -> &[f32] {
        let w = self.feature_len();
        &self.features[i * w..(i + 1) * w]
    }

    /// The targets.
    ///
    /// ```
    /// # let ds = gradus_data::Dataset::new(vec![1.0], vec![1],
    /// #     gradus_data::Targets::Classes { labels: vec![1], num_classes: 2 }).unwrap();
    /// assert_eq!(ds.targets().num_classes(), Some(2));
    /// ```
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// Number of classes, `None` for regression.
    ///
    /// ```
    /// # let ds = gradus_data::Dataset::new(vec![1.0], vec![1],
    /// #     gradus_data::Targets::Classes { labels: vec![1], num_classes: 2 }).unwrap();
    /// assert_eq!(ds.num_classes(), Some(2));
    /// ```
    pub fn num_classes(&self) -> Option<usize> {
        self.targets.num_classes()
    }

    /// How many samples each class has, `None` for regression.
    ///
    /// ```
    /// # let ds = gradus_data::Dataset::new(vec![0.0; 3], vec![1],
    /// #     gradus_data::Targets::Classes { labels: vec![2, 0, 2], num_classes: 3 }).unwrap();
    /// assert_eq!(ds.class_counts(), Some(vec![1, 0, 2]));
    /// ```
    pub fn class_counts(&self) -> Option<Vec<usize>> {
        let (labels, k) = (self.targets.labels()?, self.num_classes()?);
        let mut counts = vec![0; k];
        labels.iter().for_each(|&l| counts[l as usize] += 1);
        Some(counts)
    }

    /// Gathers the given samples into contiguous buffers (the order is kept,
    /// repeats are allowed).
    ///
    /// # Panics
    /// If an index is `>= len()`.
    ///
    /// ```
    /// # let ds = gradus_data::Dataset::new(vec![1.0, 2.0, 3.0, 4.0], vec![2],
    /// #     gradus_data::Targets::Values { values: vec![10.0, 20.0], dim: 1 }).unwrap();
    /// let b = ds.batch(&[1]);
    /// assert_eq!((b.x, b.x_shape, b.y.values().unwrap().to_vec()),
    ///            (vec![3.0, 4.0], vec![1, 2], vec![20.0]));
    /// ```
    pub fn batch(&self, indices: &[usize]) -> Batch {
        let mut x_shape = Vec::with_capacity(self.feature_shape.len() + 1);
        x_shape.push(indices.len());
        x_shape.extend_from_slice(&self.feature_shape);
        Batch {
            x: gather_rows(&self.features, self.feature_len(), indices),
            x_shape,
            y: self.targets.gather(indices),
        }
    }

    /// A new dataset made of the given samples, in that order.
    ///
    /// # Panics
    /// If an index is `>= len()`.
    ///
    /// ```
    /// # let ds = gradus_data::Dataset::new(vec![1.0, 2.0, 3.0], vec![1],
    /// #     gradus_data::Targets::Classes { labels: vec![0, 1, 0], num_classes: 2 }).unwrap();
    /// let sub = ds.subset(&[2, 0]);
    /// assert_eq!((sub.len(), sub.features()), (2, &[3.0, 1.0][..]));
    /// ```
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let Batch { x, y, .. } = self.batch(indices);
        Dataset {
            features: x,
            feature_shape: self.feature_shape.clone(),
            targets: y,
            weights: self.batch_weights(indices),
        }
    }

    /// Takes the dataset apart: `(features, feature_shape, targets)` (sample weights are
    /// dropped: read them first with [`Dataset::sample_weights`]).
    ///
    /// ```
    /// # let ds = gradus_data::Dataset::new(vec![1.0], vec![1],
    /// #     gradus_data::Targets::Values { values: vec![2.0], dim: 1 }).unwrap();
    /// let (x, shape, _y) = ds.into_parts();
    /// assert_eq!((x, shape), (vec![1.0], vec![1]));
    /// ```
    pub fn into_parts(self) -> (Vec<f32>, Vec<usize>, Targets) {
        (self.features, self.feature_shape, self.targets)
    }
}
