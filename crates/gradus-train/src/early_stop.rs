//! Early stopping: stop when the validation loss has not improved for `patience` epochs.

use serde::{Deserialize, Serialize};

/// Early-stopping rule and its running state (serializable, so resumed runs stop identically).
///
/// ```
/// use gradus_train::early_stop::EarlyStopping;
/// let mut es = EarlyStopping::new(2, 0.0);
/// assert!(es.improved(1.0));
/// assert!(!es.improved(1.1));
/// assert!(!es.should_stop());
/// assert!(!es.improved(1.2));
/// assert!(es.should_stop());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// A decrease of at most this much does not count as an improvement: an absolute margin,
    /// taken as `|min_delta|` (as Keras; a negative value would count a worse loss as an
    /// improvement), so a negative loss (a log-likelihood, a negated score) is judged as a
    /// positive one. A NaN margin is 0.
    pub min_delta: f64,
    best: Option<f64>,
    bad_epochs: usize,
}

impl EarlyStopping {
    /// A rule with the given patience and minimum improvement.
    pub fn new(patience: usize, min_delta: f64) -> EarlyStopping {
        EarlyStopping {
            patience,
            min_delta,
            best: None,
            bad_epochs: 0,
        }
    }

    /// Records an epoch's validation loss; true when it is a new best (lower than the best by
    /// more than `|min_delta|`; a NaN never is).
    pub fn improved(&mut self, loss: f64) -> bool {
        let delta = if self.min_delta.is_nan() {
            0.0
        } else {
            self.min_delta.abs()
        };
        let better = match self.best {
            None => loss.is_finite(),
            Some(best) => loss < best - delta,
        };
        if better {
            self.best = Some(loss);
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        better
    }

    /// True once `patience` epochs in a row brought no improvement.
    pub fn should_stop(&self) -> bool {
        self.bad_epochs >= self.patience
    }

    /// The best loss seen.
    pub fn best(&self) -> Option<f64> {
        self.best
    }
}

#[cfg(test)]
mod tests {
    use super::EarlyStopping;

    fn improvements(es: &mut EarlyStopping, losses: &[f64]) -> Vec<bool> {
        losses.iter().map(|&l| es.improved(l)).collect()
    }

    #[test]
    fn a_constant_negative_loss_stops_as_a_positive_one() {
        for loss in [-1.0, 1.0] {
            let mut es = EarlyStopping::new(2, 1e-4);
            assert_eq!(improvements(&mut es, &[loss; 3]), [true, false, false]);
            assert!(es.should_stop(), "loss {loss}");
        }
    }

    #[test]
    fn min_delta_is_an_absolute_margin_on_either_side_of_zero() {
        for sign in [1.0, -1.0] {
            // a min_delta of -0.1 means 0.1: a worse loss never counts as an improvement
            let mut es = EarlyStopping::new(1, 0.1 * sign);
            assert_eq!(
                improvements(&mut es, &[-1.0, -1.05, -1.2, -1.15]),
                [true, false, true, false]
            );
            assert_eq!(es.best(), Some(-1.2));
            let mut es = EarlyStopping::new(1, 0.1 * sign);
            assert_eq!(
                improvements(&mut es, &[1.0, 0.95, 0.8, 0.85]),
                [true, false, true, false]
            );
        }
    }

    #[test]
    fn nan_is_never_an_improvement() {
        let mut es = EarlyStopping::new(3, f64::NAN);
        assert_eq!(
            improvements(&mut es, &[f64::NAN, 2.0, f64::NAN, 1.0]),
            [false, true, false, true]
        );
    }
}
