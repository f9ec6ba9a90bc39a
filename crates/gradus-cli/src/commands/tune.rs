//! `gradus tune CONFIG --trials N [--parallel P] [--out DIR] [--resume]`: a hyperparameter search
//! over the config's `[search]` section with the `gradus-tune` library. Trials run as `gradus
//! train` child processes of this same executable; the study folder holds the journal, each
//! trial's config, run folder and log, and at the end `best.toml`, `trials.csv` and the console
//! table, and `report.html`. A signal stops the search cleanly (running trials stopped and marked interrupted);
//! `--resume` continues it.

use crate::interrupt::Interrupt;
use gradus_tune::runner::{self, RunnerOptions};
use gradus_tune::{output, split_config, trial_config, Study, TrialState};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The options of `gradus tune`.
pub struct TuneArgs {
    /// The config with a `[search]` section.
    pub config: PathBuf,
    /// Trials the study holds in the end (interrupted ones not counted).
    pub trials: usize,
    /// Trials run at once.
    pub parallel: usize,
    /// The study folder [default: runs/<config name>-tune].
    pub out: Option<PathBuf>,
    /// Continue the study in the folder.
    pub resume: bool,
    /// No per-trial lines.
    pub quiet: bool,
}

/// The default study folder of `config`: `runs/<config name>-tune`.
fn default_out(config: &Path) -> PathBuf {
    let stem = config.file_stem().unwrap_or_default().to_string_lossy();
    PathBuf::from("runs").join(format!("{stem}-tune"))
}

/// Runs `gradus tune`.
pub fn run(a: TuneArgs) -> Result<(), String> {
    if a.trials == 0 {
        return Err("--trials: 0 trials is no search (give at least 1)".to_string());
    }
    if a.parallel == 0 {
        return Err("--parallel: 0 trials at once runs nothing (give at least 1)".to_string());
    }
    let source = a.config.display().to_string();
    let text = gradus_data::text::read_text(&a.config).map_err(|e| e.to_string())?;
    let mut split = split_config(&text, &source).map_err(|e| e.to_string())?;
    // the trials' config.toml and best.toml hold the data paths resolved against this config's
    // folder (absolute), so they train from their own folders
    gradus_run::config::paths::resolve_table(
        &mut split.base,
        gradus_run::config::paths::folder_of(&a.config),
    );
    trial_config::check(&split.base, &split.spec.space, &source).map_err(|e| e.to_string())?;
    trial_config::check_metric(&split.base, &split.spec.metric, &source)
        .map_err(|e| e.to_string())?;
    let out = a.out.unwrap_or_else(|| default_out(&a.config));
    if out.exists() && !out.is_dir() {
        return Err(format!(
            "--out {}: a file is there, not a study folder (choose another --out)",
            out.display()
        ));
    }
    let journal = out.join("journal.jsonl");
    if a.resume && !journal.exists() {
        return Err(format!(
            "--resume: no study in {} (no journal.jsonl): start one without --resume",
            out.display()
        ));
    }
    if !a.resume && out.join("metrics.csv").exists() {
        return Err(format!(
            "--out {}: a `gradus train` run folder is there (it has metrics.csv); a study needs a folder of its own",
            out.display()
        ));
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut study = if a.resume {
        let (s, notes) = Study::resume(split.spec.clone(), &journal).map_err(|e| e.to_string())?;
        for n in notes {
            eprintln!("note: {n}");
        }
        s
    } else {
        Study::create(split.spec.clone(), &journal).map_err(|e| e.to_string())?
    };
    let interrupt = Interrupt::install_with_children(&runner::RUNNING_PIDS)?;
    let opts = RunnerOptions {
        program: std::env::current_exe().map_err(|e| format!("the gradus executable: {e}"))?,
        trials: a.trials,
        parallel: a.parallel,
        dir: out.clone(),
        poll: Duration::from_millis(100),
        stop: Some(interrupt.flag.clone()),
    };
    let quiet = a.quiet;
    runner::run(&mut study, &split.base, &opts, &mut |line| {
        if !quiet {
            eprintln!("{line}");
        }
    })
    .map_err(|e| e.to_string())?;
    let best = output::write_best(&study, &split.base, &out.join("best.toml"))
        .map_err(|e| e.to_string())?;
    output::write_trials_csv(&study, &out.join("trials.csv")).map_err(|e| e.to_string())?;
    output::write_report(&study, &out.join("report.html")).map_err(|e| e.to_string())?;
    println!("{}", output::table(&study));
    match best {
        Some(n) => eprintln!(
            "best: trial {n}; wrote {} (train it with `gradus train {}`), trials.csv, report.html and journal.jsonl",
            out.join("best.toml").display(),
            out.join("best.toml").display()
        ),
        None => eprintln!("no trial completed: no best.toml; see trials.csv and the trials' logs in {}", out.join("trials").display()),
    }
    if interrupt.flag.load(std::sync::atomic::Ordering::SeqCst) {
        eprintln!(
            "interrupted by {}: continue with\n  {}",
            interrupt.name(),
            crate::interrupt::resume_command()
        );
        std::process::exit(interrupt.exit_code());
    }
    if best.is_none() {
        // a search none of whose trials completed failed: say why (the first failure's reason,
        // also under --quiet) and exit non-zero
        let first = study.trials().iter().find_map(|t| match &t.state {
            TrialState::Failed { reason, .. } => Some(format!("trial {}: {reason}", t.number)),
            _ => None,
        });
        return Err(match first {
            Some(why) => format!("no trial completed; the first failure was {why}"),
            None => "no trial completed (every trial was pruned)".to_string(),
        });
    }
    Ok(())
}
