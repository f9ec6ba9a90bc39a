//! Calibration: the range of a layer's inputs over a few batches, for static quantization.

use crate::scheme::ActQuant;

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
