//! `gradus train CONFIG`: builds data, model and optimizer from the config and runs the trainer.

use crate::commands::SPEC_KEY;
use crate::config;
use crate::interrupt::Interrupt;
use crate::setup::{self, reshape_for_model};
use gradus_tensor::Rng;
use gradus_train::early_stop::EarlyStopping;
use gradus_train::{TrainOptions, Trainer};
use std::collections::BTreeMap;
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
    quiet: bool,
) -> Result<(), String> {
    // as every text reader: a byte-order mark dropped, invalid UTF-8 located
    let text = gradus_data::text::read_text(config_path).map_err(|e| e.to_string())?;
    let c = config::parse(&text, &config_path.display().to_string(), overrides)?;
    let out = out.unwrap_or_else(|| gradus_train::trainer::default_run_dir(config_path));
    let dtype = setup::dtype_of(&c.dtype)?;
    let (data, spec) = setup::load_data(&c)?;
    let shape = spec.model_input_shape();
    let train = reshape_for_model(data.train, &shape)?;
    let val = data.val.map(|v| reshape_for_model(v, &shape)).transpose()?;
    let test = data
        .test
        .map(|t| reshape_for_model(t, &shape))
        .transpose()?;
    let model = spec.build(&mut Rng::seed(c.seed))?;
    let batch = setup::batch_mode(&c)?;
    // the schedule follows the steps the run will take (the trainer's own count per epoch)
    let batch_norm = gradus_train::plan::has_batch_norm(model.as_ref());
    let steps_per_epoch = gradus_train::plan::steps_per_epoch(train.len(), batch, batch_norm);
    let run = setup::run_schedule(&c, steps_per_epoch)?;
    for warning in &run.warnings {
        eprintln!("warning: {warning}");
    }
    if resume {
        check_resume(&out, &c, steps_per_epoch, &run.lr)?;
    }
    let (schedule, plateau, momentum) = (run.lr, run.plateau, run.momentum);
    let optimizer = setup::optimizer(&c.optimizer, model.as_ref(), &schedule, momentum)?;
    let interrupt = Interrupt::install()?;
    let options = TrainOptions {
        epochs: c.epochs,
        max_steps: c.max_steps,
        batch,
        seed: c.seed,
        dtype,
        early_stopping: c
            .train
            .early_stopping_patience
            .map(|p| EarlyStopping::new(p, c.train.min_delta)),
        restore_best: c.train.restore_best.unwrap_or(true),
        checkpoint_every: c.train.checkpoint_every,
        checkpoint_every_steps: c.train.checkpoint_every_steps,
        divergence_factor: c.train.divergence_factor,
        curriculum_epochs: c.train.curriculum_epochs,
        quiet,
        interrupt: Some(interrupt.flag.clone()),
        ..TrainOptions::default()
    };
    let spec_json = serde_json::to_string(&spec).map_err(|e| e.to_string())?;
    let mut trainer = Trainer {
        model,
        optimizer,
        schedule,
        plateau,
        task: spec.task(),
        options,
        model_metadata: BTreeMap::from([(SPEC_KEY.to_string(), spec_json)]),
    };
    std::fs::create_dir_all(&out).map_err(|e| {
        format!(
            "--out {}: cannot make the run directory: {e}",
            out.display()
        )
    })?;
    let resolved = toml::to_string(&c).map_err(|e| e.to_string())?;
    gradus_train::checkpoint::write_atomic(&out.join("config.toml"), resolved.as_bytes())
        .map_err(|e| format!("{}: {e}", out.display()))?;
    let summary = trainer
        .fit(&train, val.as_ref(), &out, resume)
        .map_err(|e| e.to_string())?;
    let interrupted = summary.stopped == gradus_train::StopReason::Interrupted;
    let mut json = serde_json::to_value(&summary).map_err(|e| e.to_string())?;
    if let Some(test) = test.as_ref().filter(|_| !interrupted) {
        let (loss, metrics) = trainer.evaluate(test).map_err(|e| e.to_string())?;
        let mut t = serde_json::Map::new();
        t.insert("loss".into(), loss.into());
        for (k, v) in &metrics {
            t.insert(k.clone(), (*v).into());
        }
        if !quiet {
            eprintln!(
                "test: loss {loss:.5}{}",
                metrics
                    .iter()
                    .map(|(k, v)| format!("  {k} {v:.4}"))
                    .collect::<String>()
            );
        }
        json["test"] = serde_json::Value::Object(t);
    }
    let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    gradus_train::checkpoint::write_atomic(&out.join("summary.json"), text.as_bytes())
        .map_err(|e| format!("{}: {e}", out.display()))?;
    if interrupted {
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
        eprintln!(
            "wrote {} (metrics.csv, layers.csv, model.safetensors, config.toml, summary.json, report.html)",
            out.display()
        );
    }
    Ok(())
}

/// Before `--resume`: the config must be the one the run in `out` was started with, except for
/// its length and checkpoints ([`config::resume`]); when the length changed, a schedule sized to
/// the run is rebuilt for the new length, and the user hears that the result then differs from a
/// straight run of that length.
fn check_resume(
    out: &Path,
    c: &config::Config,
    steps_per_epoch: u64,
    lr: &gradus_optim::Schedule,
) -> Result<(), String> {
    let saved = out.join("config.toml");
    let Ok(text) = std::fs::read_to_string(&saved) else {
        return Ok(()); // no run there: the checkpoint's absence is reported when it is read
    };
    let previous = config::parse(&text, &saved.display().to_string(), &[])?;
    config::resume::check(&previous, c)?;
    for (key, before, now) in config::resume::changes(&previous, c) {
        if key.starts_with("optimizer.") {
            eprintln!("warning: resuming with {key} = {now} (the run used {before} so far)");
        }
    }
    let steps = |c: &config::Config| setup::run_steps(c.epochs, steps_per_epoch, c.max_steps).0;
    let (before, now) = (steps(&previous), steps(c));
    if before != now && lr.horizon().is_some() {
        eprintln!(
            "warning: the run being resumed was {before} steps long and is now {now}: its \
             learning-rate schedule is rebuilt for {now} steps, so from the step it resumes at the \
             rate follows the new schedule and the result differs from a straight {now}-step run"
        );
    }
    Ok(())
}
