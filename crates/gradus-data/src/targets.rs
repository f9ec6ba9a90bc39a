//! What a model predicts: class labels or regression values, per sample.

use crate::gather::gather_rows;
use crate::DataError;

/// Largest number of classes a dataset may declare (guards against absurd labels).
pub const MAX_CLASSES: usize = 1 << 20;

/// How a reader should interpret target columns or labels.
///
/// ```
/// use gradus_data::TargetKind;
/// assert_ne!(TargetKind::Class, TargetKind::Value);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// Classification: non-negative integer labels; `num_classes = max + 1`.
    Class,
    /// Regression: real values.
    Value,
}

/// What the model should predict for each sample.
///
/// ```
/// use gradus_data::Targets;
/// let t = Targets::Classes { labels: vec![0, 2, 1], num_classes: 3 };
/// assert_eq!(t.len(), 3);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// Classification: one label in `0..num_classes` per sample.
    Classes {
        /// One label per sample.
        labels: Vec<u32>,
        /// Number of classes (at least `max(label) + 1`).
        num_classes: usize,
    },
    /// Regression: `dim` real values per sample, row-major.
    Values {
        /// `len * dim` values.
        values: Vec<f32>,
        /// Values per sample (number of target columns), at least 1.
        dim: usize,
    },
}

impl Targets {
    /// Number of samples.
    ///
    /// ```
    /// use gradus_data::Targets;
    /// assert_eq!(Targets::Values { values: vec![1.0, 2.0, 3.0, 4.0], dim: 2 }.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes { labels, .. } => labels.len(),
            Targets::Values { values, dim } => values.len() / (*dim).max(1),
        }
    }

    /// True when there are no samples.
    ///
    /// ```
    /// use gradus_data::Targets;
    /// assert!(Targets::Classes { labels: vec![], num_classes: 2 }.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of classes, or `None` for regression targets.
    ///
    /// ```
    /// use gradus_data::Targets;
    /// assert_eq!(Targets::Classes { labels: vec![1], num_classes: 2 }.num_classes(), Some(2));
    /// ```
    pub fn num_classes(&self) -> Option<usize> {
        match self {
            Targets::Classes { num_classes, .. } => Some(*num_classes),
            Targets::Values { .. } => None,
        }
    }

    /// The class labels, or `None` for regression targets.
    ///
    /// ```
    /// use gradus_data::Targets;
    /// let t = Targets::Classes { labels: vec![1, 0], num_classes: 2 };
    /// assert_eq!(t.labels(), Some(&[1, 0][..]));
    /// ```
    pub fn labels(&self) -> Option<&[u32]> {
        match self {
            Targets::Classes { labels, .. } => Some(labels),
            Targets::Values { .. } => None,
        }
    }

    /// The regression values (row-major, `len * dim`), or `None` for classes.
    ///
    /// ```
    /// use gradus_data::Targets;
    /// let t = Targets::Values { values: vec![0.5], dim: 1 };
    /// assert_eq!(t.values(), Some(&[0.5][..]));
    /// ```
    pub fn values(&self) -> Option<&[f32]> {
        match self {
            Targets::Values { values, .. } => Some(values),
            Targets::Classes { .. } => None,
        }
    }

    /// The targets of the given samples, in that order.
    ///
    /// # Panics
    /// If an index is out of range (like slice indexing).
    ///
    /// ```
    /// use gradus_data::Targets;
    /// let t = Targets::Values { values: vec![1.0, 2.0, 3.0], dim: 1 };
    /// assert_eq!(t.gather(&[2, 0]).values(), Some(&[3.0, 1.0][..]));
    /// ```
    pub fn gather(&self, indices: &[usize]) -> Targets {
        match self {
            Targets::Classes {
                labels,
                num_classes,
            } => Targets::Classes {
                labels: indices.iter().map(|&i| labels[i]).collect(),
                num_classes: *num_classes,
            },
            Targets::Values { values, dim } => Targets::Values {
                values: gather_rows(values, *dim, indices),
                dim: *dim,
            },
        }
    }

    /// One-hot encoding of class labels (`len * num_classes`), `None` for regression.
    ///
    /// # Panics
    /// If a label is `>= num_classes` (impossible inside a [`crate::Dataset`]).
    ///
    /// ```
    /// use gradus_data::Targets;
    /// let t = Targets::Classes { labels: vec![1, 0], num_classes: 2 };
    /// assert_eq!(t.one_hot().unwrap(), vec![0.0, 1.0, 1.0, 0.0]);
    /// ```
    pub fn one_hot(&self) -> Option<Vec<f32>> {
        let (labels, k) = match self {
            Targets::Classes {
                labels,
                num_classes,
            } => (labels, *num_classes),
            Targets::Values { .. } => return None,
        };
        let mut out = vec![0.0; labels.len() * k];
        for (row, &label) in labels.iter().enumerate() {
            out[row * k + label as usize] = 1.0;
        }
        Some(out)
    }

    /// Checks labels against `num_classes` and the value count against `dim`.
    pub(crate) fn validate(&self) -> Result<(), DataError> {
        match self {
            Targets::Classes {
                labels,
                num_classes,
            } => {
                if *num_classes > MAX_CLASSES {
                    return Err(DataError::invalid(format!(
                        "{num_classes} classes is more than the supported {MAX_CLASSES}"
                    )));
                }
                match labels.iter().position(|&l| l as usize >= *num_classes) {
                    Some(i) => Err(DataError::invalid(format!(
                        "label {} of sample {i} is not below num_classes = {num_classes}",
                        labels[i]
                    ))),
                    None => Ok(()),
                }
            }
            Targets::Values { values, dim } => {
                if *dim == 0 || values.len() % dim != 0 {
                    return Err(DataError::invalid(format!(
                        "{} target values do not split into rows of dim = {dim}",
                        values.len()
                    )));
                }
                Ok(())
            }
        }
    }
}
