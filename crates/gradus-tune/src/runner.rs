//! Runs a study's trials as parallel child processes: each trial is `gradus train` (the program
//! given, normally the running `gradus` itself) on its own config `trials/NNNN.toml`, writing its
//! run folder `trials/NNNN/` and its console output to `trials/NNNN.log`. The runner reads each
//! trial's `metrics.csv` as epochs end, reports the objective to the study, and sends SIGTERM to
//! a trial the pruner stops: `gradus train` then ends after the current step, writing its
//! checkpoint and files as for Ctrl-C. Children run in their own process group, so a Ctrl-C at
//! the terminal reaches only the runner, which stops them the same way (one signal each) and
//! marks them interrupted.

use crate::error::{io, Result, TuneError};
use crate::metrics_file;
use crate::study::Study;
use crate::trial::TrialState;
use crate::trial_config::{to_text, trial_config};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How the trials of a search run.
#[derive(Clone, Debug)]
pub struct RunnerOptions {
    /// The program run as `PROGRAM train CONFIG --out DIR --quiet` (the `gradus` executable).
    pub program: PathBuf,
    /// Trials the study should hold in the end (interrupted ones not counted).
    pub trials: usize,
    /// Trials run at once.
    pub parallel: usize,
    /// The study folder.
    pub dir: PathBuf,
    /// How often running trials' `metrics.csv` are read.
    pub poll: Duration,
    /// Set from outside (a signal) to stop the search: running trials are stopped and marked
    /// interrupted.
    pub stop: Option<Arc<AtomicBool>>,
}

/// A trial's files in the study folder.
pub fn trial_paths(dir: &Path, n: usize) -> (PathBuf, PathBuf, PathBuf) {
    let trials = dir.join("trials");
    (
        trials.join(format!("{n:04}.toml")),
        trials.join(format!("{n:04}")),
        trials.join(format!("{n:04}.log")),
    )
}

/// Process ids of the trials running now (0 marks a free slot), so that a signal handler can
/// stop them when the search must end at once (a second Ctrl-C): reading atomics and `kill(2)`
/// are async-signal-safe, and the children, in their own process groups, get no terminal
/// signal. Trials beyond the slots' number run unlisted.
pub static RUNNING_PIDS: [AtomicI32; 256] = [const { AtomicI32::new(0) }; 256];

/// Lists `pid` in a free slot of [`RUNNING_PIDS`].
fn list_pid(pid: i32) {
    for slot in &RUNNING_PIDS {
        if slot
            .compare_exchange(0, pid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
    }
}

/// A running child.
struct Running {
    n: usize,
    child: Child,
    run_dir: PathBuf,
    log: PathBuf,
    reported: usize,
    /// Pruned or failed while running: SIGTERM sent, waiting for it to end.
    stopping: bool,
}

impl Drop for Running {
    /// The child was reaped or is being given up: no longer listed as running.
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        for slot in &RUNNING_PIDS {
            if slot
                .compare_exchange(pid, 0, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return;
            }
        }
    }
}

/// Asks a child to stop as Ctrl-C would (SIGTERM: `gradus train` ends after the current step).
fn terminate(child: &mut Child) {
    #[cfg(unix)]
    {
        // SAFETY: kill(2) on the pid of a child this process started and has not reaped
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    }
    #[cfg(not(unix))]
    {
        let _ = child.kill();
    }
}

/// The last lines of a trial's log, for a failure's reason.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

/// The threads each trial computes on when `parallel` trials share `cores` cores: an equal
/// share, at least one (as `mpirun`'s ranks get, see `gradus_tensor::threads`), so that trials
/// do not oversubscribe the cores; `None` (the trial's own default) when the user set
/// `RAYON_NUM_THREADS` (`set`), which every trial then inherits.
fn trial_threads(cores: usize, parallel: usize, set: bool) -> Option<usize> {
    (!set).then(|| (cores / parallel.max(1)).max(1))
}

fn start(study: &Study, base: &toml::Table, opts: &RunnerOptions, n: usize) -> Result<Running> {
    let (cfg, run_dir, log) = trial_paths(&opts.dir, n);
    let t = trial_config(base, &study.spec().space, &study.trials()[n].params)?;
    std::fs::write(&cfg, to_text(&t)).map_err(io(&cfg))?;
    let out = std::fs::File::create(&log).map_err(io(&log))?;
    let err = out.try_clone().map_err(io(&log))?;
    let mut cmd = Command::new(&opts.program);
    cmd.arg("train")
        .arg(&cfg)
        .arg("--out")
        .arg(&run_dir)
        .arg("--quiet")
        // the trial's folder is its own: one left by a trial whose record was torn off the
        // journal (a kill mid-write) holds no recorded run and is replaced
        .arg("--overwrite")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let set = std::env::var_os("RAYON_NUM_THREADS").is_some();
    if let Some(threads) = trial_threads(cores, opts.parallel, set) {
        cmd.env("RAYON_NUM_THREADS", threads.to_string());
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let child = cmd.spawn().map_err(|e| TuneError::Trial {
        trial: n,
        problem: format!("cannot start {}: {e}", opts.program.display()),
    })?;
    list_pid(child.id() as i32);
    Ok(Running {
        n,
        child,
        run_dir,
        log,
        reported: 0,
        stopping: false,
    })
}

/// Follows one running trial: reports new epochs, stops it when pruned, records how it ended.
/// Returns `true` once the child has ended.
fn poll(r: &mut Running, study: &mut Study, say: &mut dyn FnMut(String)) -> Result<bool> {
    let exited = r.child.try_wait().map_err(|e| TuneError::Trial {
        trial: r.n,
        problem: e.to_string(),
    })?;
    let metric = study.spec().metric.clone();
    if !r.stopping {
        match metrics_file::read(&r.run_dir.join("metrics.csv"), &metric) {
            Err(problem) => {
                study.fail(r.n, &problem, false)?;
                say(format!("trial {} failed: {problem}", r.n));
                r.stopping = true;
                terminate(&mut r.child);
            }
            Ok(rows) => {
                for (epoch, value) in rows.into_iter().skip(r.reported) {
                    r.reported += 1;
                    let Some(v) = value else {
                        let problem = format!("`{metric}` is empty in metrics.csv: the config holds out no validation data (set data.validation)");
                        study.fail(r.n, &problem, false)?;
                        say(format!("trial {} failed: {problem}", r.n));
                        r.stopping = true;
                        terminate(&mut r.child);
                        break;
                    };
                    if study.report(r.n, epoch, v)? {
                        say(format!(
                            "trial {} pruned after epoch {epoch} ({metric} {v:.5})",
                            r.n
                        ));
                        r.stopping = true;
                        if exited.is_none() {
                            terminate(&mut r.child);
                        }
                        break;
                    }
                }
            }
        }
    }
    let Some(status) = exited else {
        return Ok(false);
    };
    if study.trials()[r.n].state != TrialState::Running {
        return Ok(true);
    }
    if status.success() {
        match study.trials()[r.n].last() {
            Some((_, v)) => {
                study.complete(r.n, v)?;
                say(format!("trial {} completed: {metric} {v:.5}", r.n));
            }
            None => study.fail(r.n, "the run wrote no epochs to metrics.csv", false)?,
        }
    } else {
        let reason = format!("gradus train ended with {status}: {}", log_tail(&r.log));
        say(format!("trial {} failed ({})", r.n, r.log.display()));
        study.fail(r.n, &reason, false)?;
    }
    Ok(true)
}

/// Runs trials until the study holds `opts.trials` counted trials (or the sampler has no more),
/// `opts.parallel` at a time. `say` receives one line per trial event, for the console.
///
/// # Errors
/// The study folder cannot be written, a trial cannot be started or its config built, the
/// journal cannot be written.
pub fn run(
    study: &mut Study,
    base: &toml::Table,
    opts: &RunnerOptions,
    say: &mut dyn FnMut(String),
) -> Result<()> {
    let trials_dir = opts.dir.join("trials");
    std::fs::create_dir_all(&trials_dir).map_err(io(&trials_dir))?;
    let mut running: Vec<Running> = Vec::new();
    let mut exhausted = false;
    let stopped = || opts.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst));
    loop {
        if stopped() {
            for r in &mut running {
                if !r.stopping {
                    terminate(&mut r.child);
                }
            }
            for r in &mut running {
                let _ = r.child.wait();
                if study.trials()[r.n].state == TrialState::Running {
                    study.fail(r.n, "interrupted: the search was stopped", true)?;
                }
            }
            say("search stopped: running trials were stopped and marked interrupted; --resume continues it".into());
            return Ok(());
        }
        while !exhausted && running.len() < opts.parallel.max(1) && study.counted() < opts.trials {
            match study.ask()? {
                Some(n) => {
                    running.push(start(study, base, opts, n)?);
                    say(format!("trial {n} started: {}", describe(study, n)));
                }
                None => {
                    exhausted = true;
                    say("the sampler has no more trials (grid covered)".into());
                }
            }
        }
        if running.is_empty() {
            return Ok(());
        }
        let mut i = 0;
        while i < running.len() {
            if poll(&mut running[i], study, say)? {
                running.swap_remove(i);
            } else {
                i += 1;
            }
        }
        std::thread::sleep(opts.poll);
    }
}

/// `key=value` pairs of trial `n`'s parameters.
pub fn describe(study: &Study, n: usize) -> String {
    let t = &study.trials()[n];
    study
        .spec()
        .space
        .params
        .iter()
        .filter_map(|p| {
            t.params
                .get(&p.name)
                .map(|v| format!("{}={}", p.name, p.distribution.to_toml(*v)))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod thread_share_tests {
    use super::trial_threads;

    #[test]
    fn parallel_trials_share_the_cores() {
        assert_eq!(trial_threads(16, 1, false), Some(16));
        assert_eq!(trial_threads(16, 4, false), Some(4));
        assert_eq!(trial_threads(2, 2, false), Some(1));
        assert_eq!(trial_threads(2, 8, false), Some(1));
        assert_eq!(trial_threads(16, 0, false), Some(16));
        // the user's RAYON_NUM_THREADS stands
        assert_eq!(trial_threads(16, 4, true), None);
    }
}
