//! Calibration: the range of a layer's inputs over a few batches, for static quantization.

use crate::error::{QuantError, Result};
use crate::scheme::ActQuant;

/// How a calibrated layer's input range is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Observer {
    /// The full range seen ([`MinMaxObserver`]); the default, as in PyTorch.
    MinMax,
    /// The range between the `100 - p`th and the `p`th percentile of the values seen
    /// ([`PercentileObserver`]); values beyond are clipped.
    Percentile(f64),
}

impl Observer {
    /// [`QuantError::Unsupported`] for a percentile outside `(50, 100]`.
    ///
    /// # Errors
    /// As above.
    pub fn check(self) -> Result<()> {
        match self {
            Observer::Percentile(p) if !(p > 50.0 && p <= 100.0) => Err(QuantError::Unsupported(
                format!("percentile {p} (it must lie in (50, 100], e.g. 99.99)"),
            )),
            _ => Ok(()),
        }
    }

    /// The quantizer this observer gives for the values of `batches`.
    pub fn quantizer(self, batches: &[&[f32]]) -> ActQuant {
        match self {
            Observer::MinMax => {
                let mut o = MinMaxObserver::default();
                batches.iter().for_each(|x| o.observe(x));
                o.quantizer()
            }
            Observer::Percentile(p) => {
                let mut o = PercentileObserver::new(p);
                batches.iter().for_each(|x| o.observe(x));
                o.quantizer()
            }
        }
    }
}

/// The running minimum and maximum of everything observed (PyTorch's `MinMaxObserver`): simple
/// and exact on the calibration data; one outlier widens the range for all values (a percentile
/// observer would clip it), which on MNIST's bounded pixels and ReLU outputs costs nothing
/// measurable.
///
/// ```
/// use gradus_quant::observer::MinMaxObserver;
/// let mut o = MinMaxObserver::default();
/// o.observe(&[0.5, 2.0]);
/// o.observe(&[-1.0]);
/// assert_eq!((o.min, o.max), (-1.0, 2.0));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct MinMaxObserver {
    /// Smallest value seen (`+inf` before any).
    pub min: f32,
    /// Largest value seen (`-inf` before any).
    pub max: f32,
}

impl Default for MinMaxObserver {
    fn default() -> Self {
        MinMaxObserver {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
        }
    }
}

impl MinMaxObserver {
    /// Widens the range to hold `x` (non-finite values are ignored).
    pub fn observe(&mut self, x: &[f32]) {
        for &v in x.iter().filter(|v| v.is_finite()) {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
    }

    /// The quantizer for the range seen (scale 1, zero point 0 when nothing was seen).
    pub fn quantizer(&self) -> ActQuant {
        if self.min > self.max {
            return ActQuant::from_range(0.0, 0.0);
        }
        ActQuant::from_range(self.min, self.max)
    }
}

/// The range between two percentiles of everything observed (TensorRT's percentile calibration;
/// PyTorch's `HistogramObserver` also clips outliers, by minimizing the quantization error over a
/// 2048-bin histogram): `[q(100 - p), q(p)]`, each percentile interpolated linearly between the
/// sorted values as `numpy.percentile` does. Exact: it keeps the values it saw (calibration
/// sees a few batches: 4 × 64 LeNet inputs to `conv2` are 1.2M values, 5 MB).
///
/// ```
/// use gradus_quant::observer::PercentileObserver;
/// let mut o = PercentileObserver::new(99.0);
/// let x: Vec<f32> = (0..=100).map(|v| v as f32).collect();
/// o.observe(&x);
/// o.observe(&[1e6]); // an outlier: one value in 102
/// let (lo, hi) = o.range().unwrap();
/// assert!((lo - 1.01).abs() < 1e-5 && (hi - 99.99).abs() < 1e-4, "{lo} {hi}");
/// ```
#[derive(Clone, Debug)]
pub struct PercentileObserver {
    /// The upper percentile, in `(50, 100]` (the lower one is `100 - percentile`).
    pub percentile: f64,
    values: Vec<f32>,
}

impl PercentileObserver {
    /// An observer clipping at the `percentile`th percentile (e.g. 99.99) and its mirror.
    pub fn new(percentile: f64) -> PercentileObserver {
        PercentileObserver {
            percentile,
            values: Vec::new(),
        }
    }

    /// Keeps the finite values of `x`.
    pub fn observe(&mut self, x: &[f32]) {
        self.values.extend(x.iter().filter(|v| v.is_finite()));
    }

    /// `(q(100 - p), q(p))` of the values seen, or `None` before any.
    pub fn range(&mut self) -> Option<(f32, f32)> {
        let p = self.percentile.clamp(50.0, 100.0) / 100.0;
        let lo = quantile(&mut self.values, 1.0 - p)?;
        let hi = quantile(&mut self.values, p)?;
        Some((lo, hi))
    }

    /// The quantizer for [`Self::range`] (scale 1, zero point 0 when nothing was seen).
    pub fn quantizer(&mut self) -> ActQuant {
        let (lo, hi) = self.range().unwrap_or((0.0, 0.0));
        ActQuant::from_range(lo, hi)
    }
}

/// The `q`-quantile (`0..=1`) of `v`, interpolated linearly between the two nearest ranks
/// (`numpy.quantile`'s default); reorders `v`.
fn quantile(v: &mut [f32], q: f64) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    let pos = q * (v.len() - 1) as f64;
    let i = pos.floor() as usize;
    let frac = pos - i as f64;
    let (_, &mut a, rest) = v.select_nth_unstable_by(i, f32::total_cmp);
    let b = rest.iter().copied().min_by(f32::total_cmp).unwrap_or(a);
    Some((a as f64 + frac * (b as f64 - a as f64)) as f32)
}
