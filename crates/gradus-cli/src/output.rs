//! Standard output and standard error that never panic. std's `println!` panics when the reader
//! has gone (`gradus train CONFIG 2>&1 | head` closes the pipe after ten lines), which killed a
//! run before it wrote its model. Here a write that fails ends output on that stream quietly, as
//! `cat` and `grep` stop printing, and the command carries on: a training run still writes its
//! model, checkpoint and report.
//!
//! The binary's `println!`, `print!`, `eprintln!` and `eprint!` are the macros below (declared
//! before every other module in `main.rs`, they shadow std's), so no print in the CLI can panic.
//! A closed pipe (`EPIPE`) is the reader's choice and is not an error; any other failure to write
//! standard output (a full disk behind `> file`) makes the command fail at the end ([`finish`]),
//! so that results are never lost silently.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Set once a write to standard output failed: later prints to it are skipped.
static STDOUT_DONE: AtomicBool = AtomicBool::new(false);
/// Set once a write to standard error failed.
static STDERR_DONE: AtomicBool = AtomicBool::new(false);
/// The first failure to write standard output other than a closed pipe.
static STDOUT_ERROR: Mutex<Option<String>> = Mutex::new(None);

/// Writes to standard output unless an earlier write failed (see the module docs).
pub fn stdout(args: fmt::Arguments<'_>) {
    if STDOUT_DONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args) {
        STDOUT_DONE.store(true, Ordering::Relaxed);
        if e.kind() != ErrorKind::BrokenPipe {
            let mut first = STDOUT_ERROR.lock().unwrap_or_else(|p| p.into_inner());
            first.get_or_insert_with(|| e.to_string());
        }
    }
}

/// Writes to standard error unless an earlier write failed. Diagnostics only: a failure here is
/// never an error of the command.
pub fn stderr(args: fmt::Arguments<'_>) {
    if STDERR_DONE.load(Ordering::Relaxed) {
        return;
    }
    if std::io::stderr().lock().write_fmt(args).is_err() {
        STDERR_DONE.store(true, Ordering::Relaxed);
    }
}

/// Flushes standard output.
///
/// # Errors
/// The first failure to write standard output that was not a closed pipe.
pub fn finish() -> Result<(), String> {
    if !STDOUT_DONE.load(Ordering::Relaxed) {
        if let Err(e) = std::io::stdout().lock().flush() {
            if e.kind() != ErrorKind::BrokenPipe {
                return Err(format!("writing standard output: {e}"));
            }
        }
    }
    match STDOUT_ERROR
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    {
        Some(e) => Err(format!("writing standard output: {e}")),
        None => Ok(()),
    }
}

/// `println!` that ends quietly on a closed pipe ([`stdout`]).
#[allow(unused_macros)]
macro_rules! println {
    () => {
        $crate::output::stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that ends quietly on a closed pipe ([`stdout`]).
#[allow(unused_macros)]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::output::stdout(format_args!($($arg)*))
    };
}

/// `eprintln!` that ends quietly on a closed pipe ([`stderr`]).
#[allow(unused_macros)]
macro_rules! eprintln {
    () => {
        $crate::output::stderr(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprint!` that ends quietly on a closed pipe ([`stderr`]).
#[allow(unused_macros)]
macro_rules! eprint {
    ($($arg:tt)*) => {
        $crate::output::stderr(format_args!($($arg)*))
    };
}
