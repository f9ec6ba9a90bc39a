//! `gradus train CONFIG`: builds the run from the config with the `gradus-run` library, trains
//! it, and reports on the console; a signal stops it cleanly (see [`Interrupt`]).

use crate::interrupt::Interrupt;
use gradus_run::{Config, RunBuilder};
use std::path::{Path, PathBuf};

/// Runs `gradus train`.
///
/// On SIGINT or SIGTERM the run stops after the current step, writes its checkpoint, model,
/// metrics and report, prints the command that resumes it, and the process exits with status
/// 128 + the signal number (130 for Ctrl-C), as shells expect of an interrupted program.
pub fn run(
    config_path: &Path,
    out: Option<PathBuf>,
    overrides: &[String],
    resume: bool,
    overwrite: bool,
    quiet: bool,
) -> Result<(), String> {
    // as every text reader: a byte-order mark dropped, invalid UTF-8 located
    let text = gradus_data::text::read_text(config_path).map_err(|e| e.to_string())?;
    // relative paths resolve against the config's folder (those of --set against the cwd)
    let c = Config::parse_file(&text, config_path, overrides).map_err(|e| e.to_string())?;
    let out = out.unwrap_or_else(|| gradus_train::trainer::default_run_dir(config_path));
    let comm = crate::distributed::communicator()?;
    let args = TrainArgs {
        config_path,
        out: &out,
        resume,
        overwrite,
        // under mpirun rank 0 alone speaks (and writes)
        quiet: quiet || comm.as_ref().is_some_and(|c| c.rank() > 0),
    };
    let Some(comm) = comm else {
        return train(c, &args, None);
    };
    // an error on any rank ends every rank
    train(c, &args, Some(comm.clone())).map_err(|e| {
        let e = format!("rank {} of {}: {e}", comm.rank(), comm.size());
        eprintln!("error: {e}");
        comm.abort(1);
        e
    })
}

/// What `gradus train` was asked, passed from [`run`] to [`train`].
struct TrainArgs<'a> {
    config_path: &'a Path,
    out: &'a Path,
    resume: bool,
    overwrite: bool,
    quiet: bool,
}

/// Builds and trains the run (data parallel over `comm` when given) and reports.
fn train(
    c: Config,
    args: &TrainArgs,
    comm: Option<std::sync::Arc<dyn gradus_dist::Communicator>>,
) -> Result<(), String> {
    let TrainArgs {
        config_path,
        out,
        resume,
        overwrite,
        quiet,
    } = *args;
    let rank0 = comm.as_ref().is_none_or(|c| c.rank() == 0);
    if !resume && rank0 {
        clear_run_dir(out, overwrite)?;
    }
    let federated = c.federated.is_some();
    let mut builder = RunBuilder::new(c).out_dir(out).resume(resume).quiet(quiet);
    if rank0 {
        builder = builder.on_warning(|w| eprintln!("warning: {w}"));
    }
    if federated {
        // the clients of each round are spread over the ranks; no data-parallel seam
        let mut run = builder.build().map_err(|e| e.to_string())?;
        let records = run
            .train_federated(comm.as_deref())
            .map_err(|e| e.to_string())?;
        if !quiet {
            if let Some(r) = records.last() {
                eprintln!(
                    "federated averaging: {} rounds, test accuracy {:.4}; wrote {} (federated.csv, model.safetensors, summary.json, report.html)",
                    r.round,
                    r.accuracy,
                    out.display()
                );
            }
        }
        return Ok(());
    }
    if let Some(comm) = comm {
        builder = builder.communicator(comm);
    }
    let mut run = builder.build().map_err(|e| e.to_string())?;
    let interrupt = Interrupt::install()?;
    run.trainer.options.interrupt = Some(interrupt.flag.clone());
    let outcome = run.train().map_err(|e| e.to_string())?;
    let summary = &outcome.summary;
    if summary.stopped == gradus_train::StopReason::EarlyStopped && !quiet {
        let (last, best) = (summary.last.as_ref(), summary.best.as_ref());
        eprintln!(
            "early stopping after epoch {}: the validation loss last improved at epoch {}{}",
            last.map_or(summary.epochs, |r| r.epoch),
            best.map_or(0, |r| r.epoch),
            if run.trainer.options.restore_best {
                " (model.safetensors holds that epoch's weights)"
            } else {
                ""
            }
        );
    }
    if outcome.interrupted() {
        let summary = &outcome.summary;
        eprintln!(
            "interrupted by {} after step {} ({} complete): wrote the checkpoint, model.safetensors, metrics.csv, summary.json and report.html to {}\nresume with:\n  {}",
            interrupt.name(),
            summary.steps,
            match summary.epochs {
                1 => "1 epoch".to_string(),
                n => format!("{n} epochs"),
            },
            out.display(),
            crate::interrupt::resume_command()
        );
        std::process::exit(interrupt.exit_code());
    }
    if !quiet {
        let lines = super::run_summary::lines(&outcome, out, run.train.len(), config_path);
        eprintln!("{}", lines.join("\n"));
    }
    Ok(())
}

/// The files a run writes into its folder (`tensorboard/` is a folder).
pub const RUN_FILES: [&str; 12] = [
    "metrics.csv",
    "federated.csv",
    "steps.csv",
    "layers.csv",
    "model.safetensors",
    "checkpoint.safetensors",
    "best.safetensors",
    "config.toml",
    "summary.json",
    "report.html",
    "analysis.json",
    "tensorboard",
];

/// A fresh run may not go into a folder holding another run unless `overwrite` (then that run's
/// files are removed first, so none of it is mistaken for the new run's: an old
/// `best.safetensors`, `tensorboard/` events).
fn clear_run_dir(out: &Path, overwrite: bool) -> Result<(), String> {
    let found: Vec<&str> = RUN_FILES
        .iter()
        .copied()
        .filter(|f| out.join(f).exists())
        .collect();
    if !found
        .iter()
        .any(|f| f.ends_with(".csv") || f.ends_with(".safetensors"))
    {
        return Ok(());
    }
    if !overwrite {
        return Err(format!(
            "{} already holds a run ({}); pass --overwrite to replace it, --resume to continue it, or --out DIR for a new folder",
            out.display(),
            found.join(", ")
        ));
    }
    for f in found {
        let p = out.join(f);
        let removed = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        removed.map_err(|e| format!("--overwrite: cannot remove {}: {e}", p.display()))?;
    }
    Ok(())
}
