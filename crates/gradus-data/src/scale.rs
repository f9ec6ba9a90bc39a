//! Per-feature standardization: `(x - mean) / std`.
//!
//! Fit it on the training part only, then apply the same transform to the
//! validation and test data (and store it with the model; it is serde-
//! serializable). Statistics are accumulated in `f64`; `std` is the population
//! standard deviation (divide by `n`, as scikit-learn's `StandardScaler`). A
//! (numerically) constant column gets `std = 1`, so it maps to 0, not NaN.

use serde::{Deserialize, Serialize};

use crate::{DataError, Dataset};

/// Per-feature mean and standard deviation.
///
/// ```
/// use gradus_data::Standardizer;
/// let s = Standardizer::fit_slice(&[1.0, 10.0, 3.0, 10.0], 2)?;
/// assert_eq!((s.mean(), s.std()), (&[2.0, 10.0][..], &[1.0, 1.0][..]));
/// # Ok::<(), gradus_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StandardizerRepr")]
pub struct Standardizer {
    mean: Vec<f32>,
    std: Vec<f32>,
}

/// The unchecked serialized form, validated on the way in.
#[derive(Deserialize)]
struct StandardizerRepr {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl TryFrom<StandardizerRepr> for Standardizer {
    type Error = DataError;
    fn try_from(r: StandardizerRepr) -> Result<Self, DataError> {
        let finite = r.mean.iter().all(|m| m.is_finite());
        let positive = r.std.iter().all(|s| s.is_finite() && *s > 0.0);
        if r.mean.len() != r.std.len() || r.mean.is_empty() || !finite || !positive {
            return Err(DataError::invalid(
                "a standardizer needs equally many finite means and positive stds",
            ));
        }
        Ok(Standardizer {
            mean: r.mean,
            std: r.std,
        })
    }
}

impl Standardizer {
    /// Fits on every sample of `data`.
    ///
    /// ```
    /// use gradus_data::{Dataset, Standardizer, Targets};
    /// let ds = Dataset::new(vec![0.0, 2.0], vec![1], Targets::Values { values: vec![0.0; 2], dim: 1 })?;
    /// assert_eq!(Standardizer::fit(&ds)?.mean(), &[1.0]);
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn fit(data: &Dataset) -> Result<Self, DataError> {
        Self::fit_slice(data.features(), data.feature_len())
    }

    /// Fits on the samples `rows` of `data` only (e.g. the training indices).
    ///
    /// ```
    /// use gradus_data::{Dataset, Standardizer, Targets};
    /// let ds = Dataset::new(vec![0.0, 2.0, 100.0], vec![1],
    ///     Targets::Values { values: vec![0.0; 3], dim: 1 })?;
    /// assert_eq!(Standardizer::fit_rows(&ds, &[0, 1])?.mean(), &[1.0]);
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn fit_rows(data: &Dataset, rows: &[usize]) -> Result<Self, DataError> {
        let width = data.feature_len();
        Self::fit_iter(width, rows.iter().map(|&i| data.sample(i)))
    }

    /// Fits on a row-major matrix with `width` columns (e.g. regression targets).
    ///
    /// ```
    /// use gradus_data::Standardizer;
    /// let s = Standardizer::fit_slice(&[5.0, 5.0, 5.0], 1)?;
    /// assert_eq!(s.std(), &[1.0]); // constant column
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn fit_slice(values: &[f32], width: usize) -> Result<Self, DataError> {
        if width == 0 || !values.len().is_multiple_of(width) {
            return Err(DataError::invalid(format!(
                "{} values do not split into rows of width {width}",
                values.len()
            )));
        }
        Self::fit_iter(width, values.chunks_exact(width))
    }

    /// Two passes in `f64`: the mean, then the mean squared deviation.
    fn fit_iter<'a, I>(width: usize, rows: I) -> Result<Self, DataError>
    where
        I: Iterator<Item = &'a [f32]> + Clone,
    {
        let mut sum = vec![0.0f64; width];
        let mut n = 0usize;
        for row in rows.clone() {
            sum.iter_mut()
                .zip(row)
                .for_each(|(s, &v)| *s += f64::from(v));
            n += 1;
        }
        if n == 0 {
            return Err(DataError::invalid(
                "cannot fit a standardizer on no samples",
            ));
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n as f64).collect();
        let mut sq = vec![0.0f64; width];
        for row in rows {
            for ((q, &v), m) in sq.iter_mut().zip(row).zip(&mean) {
                *q += (f64::from(v) - m).powi(2);
            }
        }
        let std = sq.iter().zip(&mean).map(|(q, m)| {
            let s = (q / n as f64).sqrt();
            // Constant up to rounding (or NaN): leave the column unscaled.
            if s > 1e-7 * m.abs() && s.is_finite() && s as f32 > 0.0 {
                s as f32
            } else {
                1.0
            }
        });
        Ok(Standardizer {
            std: std.collect(),
            mean: mean.iter().map(|&m| m as f32).collect(),
        })
    }

    /// Per-feature means.
    ///
    /// ```
    /// # let s = gradus_data::Standardizer::fit_slice(&[1.0, 3.0], 1).unwrap();
    /// assert_eq!(s.mean(), &[2.0]);
    /// ```
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// Per-feature standard deviations (1 for constant features).
    ///
    /// ```
    /// # let s = gradus_data::Standardizer::fit_slice(&[1.0, 3.0], 1).unwrap();
    /// assert_eq!(s.std(), &[1.0]);
    /// ```
    pub fn std(&self) -> &[f32] {
        &self.std
    }

    /// Number of features it was fitted on.
    ///
    /// ```
    /// # let s = gradus_data::Standardizer::fit_slice(&[1.0, 3.0], 2).unwrap();
    /// assert_eq!(s.width(), 2);
    /// ```
    pub fn width(&self) -> usize {
        self.mean.len()
    }

    /// Standardizes the features of `data` in place.
    ///
    /// ```
    /// use gradus_data::{Dataset, Standardizer, Targets};
    /// let mut ds = Dataset::new(vec![0.0, 2.0], vec![1], Targets::Values { values: vec![0.0; 2], dim: 1 })?;
    /// Standardizer::fit(&ds)?.transform(&mut ds)?;
    /// assert_eq!(ds.features(), &[-1.0, 1.0]);
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn transform(&self, data: &mut Dataset) -> Result<(), DataError> {
        if data.feature_len() != self.width() {
            return Err(DataError::invalid(format!(
                "dataset has {} features per sample, the standardizer {}",
                data.feature_len(),
                self.width()
            )));
        }
        self.transform_slice(data.features_mut())
    }

    /// Standardizes a row-major matrix of `width()` columns in place.
    ///
    /// ```
    /// # let s = gradus_data::Standardizer::fit_slice(&[1.0, 3.0], 1).unwrap();
    /// let mut x = [5.0];
    /// s.transform_slice(&mut x)?;
    /// assert_eq!(x, [3.0]);
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn transform_slice(&self, values: &mut [f32]) -> Result<(), DataError> {
        self.check_width(values.len())?;
        for row in values.chunks_exact_mut(self.width()) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
        Ok(())
    }

    /// Undoes [`Standardizer::transform_slice`] in place (e.g. on predicted targets).
    ///
    /// ```
    /// # let s = gradus_data::Standardizer::fit_slice(&[1.0, 3.0], 1).unwrap();
    /// let mut y = [3.0];
    /// s.inverse_transform_slice(&mut y)?;
    /// assert_eq!(y, [5.0]);
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn inverse_transform_slice(&self, values: &mut [f32]) -> Result<(), DataError> {
        self.check_width(values.len())?;
        for row in values.chunks_exact_mut(self.width()) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = *v * s + m;
            }
        }
        Ok(())
    }

    fn check_width(&self, len: usize) -> Result<(), DataError> {
        if !len.is_multiple_of(self.width()) {
            return Err(DataError::invalid(format!(
                "{len} values do not split into rows of the standardizer's width {}",
                self.width()
            )));
        }
        Ok(())
    }
}
