//! Ctrl-C (SIGINT), SIGTERM and SIGHUP (the terminal closed) during `gradus train`: the first
//! asks the trainer to stop after the current step, writing the checkpoint, the model and the
//! report; a second one ends the process at once, saying that the last checkpoint is intact and
//! how to resume (exit status 128 + the signal number, as a shell reports a process killed by it).
//! Under `gradus tune` the second signal also ends the running trials at once.

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::flag;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;

/// The stop request of a run, set by the signal handlers.
pub struct Interrupt {
    /// Set by the first SIGINT or SIGTERM; the trainer polls it before every step.
    pub flag: Arc<AtomicBool>,
    /// The number of the signal that set it.
    signal: Arc<AtomicUsize>,
}

impl Interrupt {
    /// Installs the handlers for SIGINT, SIGTERM and SIGHUP.
    ///
    /// # Errors
    /// When a handler cannot be installed.
    pub fn install() -> Result<Interrupt, String> {
        Interrupt::install_with_children(&[])
    }

    /// [`Interrupt::install`], and on the second signal, before exiting, SIGTERM to each
    /// non-zero process id in `children` (the trials of `gradus tune`, which run in their own
    /// process groups and already got one SIGTERM: a second one ends them at once too).
    ///
    /// # Errors
    /// When a handler cannot be installed.
    pub fn install_with_children(children: &'static [AtomicI32]) -> Result<Interrupt, String> {
        let flag = Arc::new(AtomicBool::new(false));
        let signal = Arc::new(AtomicUsize::new(0));
        // made now: a signal handler may not allocate
        let message: &'static [u8] = format!(
            "\ninterrupted again: stopped at once; the last checkpoint written is intact\n\
             resume with:\n  {}\n",
            resume_command()
        )
        .leak()
        .as_bytes();
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            let err = |e: std::io::Error| format!("cannot handle signal {sig}: {e}");
            // registered first, so it runs first: exits only when an earlier signal set the flag
            let earlier = Arc::clone(&flag);
            let second = move || {
                if earlier.load(Ordering::SeqCst) {
                    for pid in children.iter().map(|p| p.load(Ordering::SeqCst)) {
                        if pid > 0 {
                            // SAFETY: kill(2) is async-signal-safe
                            unsafe { libc::kill(pid, libc::SIGTERM) };
                        }
                    }
                    // SAFETY: write(2) and _exit(2) are async-signal-safe; `message` is static
                    unsafe { libc::write(2, message.as_ptr().cast(), message.len()) };
                    signal_hook::low_level::exit(128 + sig);
                }
            };
            // SAFETY: the action only reads an atomic, writes and exits (async-signal-safe)
            unsafe { signal_hook::low_level::register(sig, second) }.map_err(err)?;
            flag::register_usize(sig, Arc::clone(&signal), sig as usize).map_err(err)?;
            flag::register(sig, Arc::clone(&flag)).map_err(err)?;
        }
        Ok(Interrupt { flag, signal })
    }

    /// The signal's name, once one arrived.
    pub fn name(&self) -> &'static str {
        match self.signal.load(Ordering::SeqCst) as i32 {
            SIGINT => "SIGINT (Ctrl-C)",
            SIGTERM => "SIGTERM",
            SIGHUP => "SIGHUP (terminal closed)",
            _ => "a signal",
        }
    }

    /// The exit status a shell expects of a process stopped by the signal: 128 + its number
    /// (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP).
    pub fn exit_code(&self) -> i32 {
        match self.signal.load(Ordering::SeqCst) {
            0 => 1,
            s => 128 + s as i32,
        }
    }
}

/// The command line of this process with `--resume` added, quoted for a POSIX shell (arguments
/// that are not valid Unicode are shown lossily rather than panicking).
pub fn resume_command() -> String {
    let mut args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if !args.iter().any(|a| a == "--resume") {
        args.push("--resume".into());
    }
    args.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `word` as a POSIX shell reads it back: bare when it holds only safe characters, else in single
/// quotes (a quote inside becomes `'\''`).
fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn quotes_only_what_a_shell_would_split_or_expand() {
        assert_eq!(shell_quote("runs/x.toml"), "runs/x.toml");
        assert_eq!(shell_quote("optimizer.lr=0.01"), "optimizer.lr=0.01");
        assert_eq!(shell_quote("my run"), "'my run'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("hidden=[8, 4]"), "'hidden=[8, 4]'");
        assert_eq!(shell_quote(""), "''");
    }
}
