//! What the user sees while training: a progress bar with loss and throughput on a terminal,
//! plain lines otherwise (logs, CI). The bar comes from `indicatif`, the standard terminal
//! progress crate. Lines go to standard error and a failed write is ignored: a reader that closed
//! the pipe (`gradus train CONFIG 2>&1 | head`) ends the printing, never the run.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};

/// Progress display for one run.
///
/// ```
/// let p = gradus_train::progress::Progress::new(false, true);
/// p.epoch_started(1, 10);
/// p.step(0.5, 128);
/// p.epoch_done("epoch 1: loss 0.5");
/// ```
pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
    /// Samples seen and start time of the current epoch, for the throughput figure.
    epoch: std::sync::Mutex<(usize, std::time::Instant)>,
    /// Steps of the current epoch the f16 loss scaler skipped, shown on the bar when any.
    skipped: std::sync::atomic::AtomicU64,
}

impl Progress {
    /// A bar when `interactive` and stderr is a terminal; nothing at all when `quiet`.
    pub fn new(interactive: bool, quiet: bool) -> Progress {
        let bar = (interactive && !quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0);
            let style =
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} (eta {eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        Progress {
            bar,
            quiet,
            epoch: std::sync::Mutex::new((0, std::time::Instant::now())),
            skipped: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Starts an epoch of `batches` steps.
    pub fn epoch_started(&self, epoch: usize, batches: usize) {
        *self.epoch.lock().expect("progress lock") = (0, std::time::Instant::now());
        self.skipped_steps(0);
        if let Some(bar) = &self.bar {
            bar.reset();
            bar.set_length(batches as u64);
            bar.set_prefix(format!("epoch {epoch}"));
        }
    }

    /// The steps of the current epoch the f16 loss scaler skipped so far (shown on the bar).
    pub fn skipped_steps(&self, n: u64) {
        self.skipped.store(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// Moves the bar past `batches` already done (a run resumed inside an epoch).
    pub fn skip(&self, batches: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(batches as u64);
        }
    }

    /// One step done; `loss` is the epoch's mean loss so far, the batch had `samples` samples.
    pub fn step(&self, loss: f64, samples: usize) {
        let mut epoch = self.epoch.lock().expect("progress lock");
        epoch.0 += samples;
        if let Some(bar) = &self.bar {
            let rate = epoch.0 as f64 / epoch.1.elapsed().as_secs_f64().max(1e-9);
            bar.inc(1);
            let skipped = match self.skipped.load(std::sync::atomic::Ordering::Relaxed) {
                0 => String::new(),
                n => format!(", {n} skipped (f16 overflow)"),
            };
            bar.set_message(format!("loss {loss:.4}, {rate:.0} samples/s{skipped}"));
        }
    }

    /// Prints a line (above the bar on a terminal). A line that cannot be written (closed pipe) is
    /// dropped: progress output never stops training.
    pub fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }

    /// Ends an epoch with a summary line.
    pub fn epoch_done(&self, summary: &str) {
        self.line(summary);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
