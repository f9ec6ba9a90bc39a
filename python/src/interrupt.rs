//! Ctrl-C from Python during a fit: training runs with the GIL released, so Python's signal
//! handlers cannot run until something asks. [`SignalWatch`], a training observer, takes the GIL
//! for a moment after a step's gradients (at most every [`CHECK_EVERY`]) and calls
//! `PyErr_CheckSignals` (`Python::check_signals`); when a handler raises (KeyboardInterrupt from
//! SIGINT or `_thread.interrupt_main()`), it keeps the exception and sets the run's interrupt
//! flag, so the trainer stops before its next step as `gradus train` does on Ctrl-C. The engine
//! then raises the kept exception.

use gradus_nn::Param;
use gradus_train::observer::TrainObserver;
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The least time between two signal checks: taking the GIL waits for any Python thread that
/// holds it (up to its switch interval, 5 ms), so not at every step of a small model.
pub const CHECK_EVERY: Duration = Duration::from_millis(20);

/// What the engine and its [`SignalWatch`] share: the trainer's interrupt flag and the
/// exception a signal handler raised.
#[derive(Clone, Default)]
pub struct Interrupt {
    /// The flag the trainer reads before each step (`TrainOptions::interrupt`).
    pub flag: Arc<AtomicBool>,
    raised: Arc<Mutex<Option<PyErr>>>,
}

impl Interrupt {
    /// Clears the flag and any kept exception, before a fit.
    pub fn reset(&self) {
        self.flag.store(false, Ordering::SeqCst);
        *self.raised.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The exception a signal handler raised during the last fit, if any (taken).
    pub fn take(&self) -> Option<PyErr> {
        self.raised.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// The observer that checks Python's signals while a run trains without the GIL.
pub struct SignalWatch {
    interrupt: Interrupt,
    last: Option<Instant>,
}

impl SignalWatch {
    /// A watch raising into `interrupt`.
    pub fn new(interrupt: Interrupt) -> SignalWatch {
        SignalWatch {
            interrupt,
            last: None,
        }
    }
}

impl TrainObserver for SignalWatch {
    fn on_gradients(
        &mut self,
        _epoch: usize,
        _step: u64,
        _params: &[(String, Param)],
    ) -> gradus_train::Result<()> {
        if self.last.is_some_and(|t| t.elapsed() < CHECK_EVERY) {
            return Ok(());
        }
        self.last = Some(Instant::now());
        if let Err(e) = Python::attach(|py| py.check_signals()) {
            *self
                .interrupt
                .raised
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(e);
            self.interrupt.flag.store(true, Ordering::SeqCst);
        }
        Ok(())
    }
}
