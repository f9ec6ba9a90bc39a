//! Training observers: callbacks that see every recorded step, every epoch's record and the end
//! of a run, to log them elsewhere (TensorBoard: [`crate::tensorboard::TensorBoardObserver`]).
//! They watch; unlike the [gradient hook](crate::hook) they do not change the training.

use crate::diagnostics::GradNorms;
use crate::error::Result;
use crate::metrics::EpochRecord;
use crate::trainer::Summary;
use gradus_nn::Param;
use std::fmt;
use std::sync::{Arc, Mutex};

/// One optimizer step's recorded values, as the trainer reads them at a sync point.
#[derive(Clone, Debug, PartialEq)]
pub struct StepRecord {
    /// The 1-based epoch.
    pub epoch: usize,
    /// The 1-based optimizer step.
    pub step: u64,
    /// Samples in its batch.
    pub samples: usize,
    /// Its batch's mean loss.
    pub loss: f64,
    /// The learning rate the step was taken with.
    pub lr: f64,
    /// Its gradient norms, global and per layer (after the gradient hook).
    pub grad_norms: GradNorms,
}

/// Sees a run as it trains. Every method defaults to doing nothing; an error stops the run and
/// [`Trainer::fit`](crate::Trainer::fit) returns it.
///
/// Steps are reported at sync points ([`TrainOptions::sync_every`](crate::TrainOptions::sync_every)),
/// in step order, with the same values at any sync interval.
///
/// ```
/// use gradus_train::observer::{StepRecord, TrainObserver};
/// #[derive(Default)]
/// struct Losses(Vec<f64>);
/// impl TrainObserver for Losses {
///     fn on_step(&mut self, s: &StepRecord) -> gradus_train::Result<()> {
///         self.0.push(s.loss);
///         Ok(())
///     }
/// }
/// let mut l = Losses::default();
/// let s = StepRecord { epoch: 1, step: 1, samples: 4, loss: 0.5, lr: 0.1, grad_norms: Default::default() };
/// l.on_step(&s).unwrap();
/// assert_eq!(l.0, vec![0.5]);
/// ```
pub trait TrainObserver: Send {
    /// Each step's gradients, in place, after the gradient hook and before the optimizer step
    /// (`params` as the [gradient hook](crate::hook::GradientHook) gets them). Reading them on the
    /// host here is a host synchronization: do it rarely (once an epoch).
    ///
    /// # Errors
    /// Whatever the observer reports.
    fn on_gradients(&mut self, epoch: usize, step: u64, params: &[(String, Param)]) -> Result<()> {
        let _ = (epoch, step, params);
        Ok(())
    }

    /// A step's values, once read on the host.
    ///
    /// # Errors
    /// Whatever the observer reports.
    fn on_step(&mut self, step: &StepRecord) -> Result<()> {
        let _ = step;
        Ok(())
    }

    /// An epoch's record (as `metrics.csv` has it; also for the unfinished epoch of a stopped
    /// run), with the trainable parameters as they are at its end.
    ///
    /// # Errors
    /// Whatever the observer reports.
    fn on_epoch_end(&mut self, record: &EpochRecord, params: &[(String, Param)]) -> Result<()> {
        let _ = (record, params);
        Ok(())
    }

    /// The run ended: its summary, or `None` when it failed (diverged, could not write).
    ///
    /// # Errors
    /// Whatever the observer reports.
    fn on_end(&mut self, summary: Option<&Summary>) -> Result<()> {
        let _ = summary;
        Ok(())
    }
}

/// An observer as [`TrainOptions::observers`](crate::TrainOptions::observers) holds it: a shared
/// handle, so the caller may keep a clone and read what it gathered.
#[derive(Clone)]
pub struct SharedObserver(Arc<Mutex<dyn TrainObserver>>);

impl SharedObserver {
    /// Wraps `observer`.
    pub fn new(observer: impl TrainObserver + 'static) -> SharedObserver {
        SharedObserver(Arc::new(Mutex::new(observer)))
    }

    /// Runs `f` on the observer.
    ///
    /// # Errors
    /// `f`'s error.
    pub fn with<T>(&self, f: impl FnOnce(&mut dyn TrainObserver) -> Result<T>) -> Result<T> {
        // an observer that panicked before left no state the trainer relies on
        let mut o = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut *o)
    }
}

impl fmt::Debug for SharedObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedObserver(..)")
    }
}
