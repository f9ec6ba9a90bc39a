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
    /// A decrease smaller than this does not count as an improvement.
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

    /// Records an epoch's validation loss; true when it is a new best.
    pub fn improved(&mut self, loss: f64) -> bool {
        let better = match self.best {
            None => loss.is_finite(),
            Some(best) => loss < best - self.min_delta,
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
