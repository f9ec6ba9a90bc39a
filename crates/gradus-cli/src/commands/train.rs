//! `gradus train CONFIG`: builds data, model and optimizer from the config and runs the trainer.

use crate::commands::SPEC_KEY;
use crate::config;
use crate::setup::{self, reshape_for_model};
use gradus_data::BatchMode;
use gradus_tensor::Rng;
use gradus_train::early_stop::EarlyStopping;
use gradus_train::{TrainOptions, Trainer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Runs `gradus train`.
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
    let steps_per_epoch = match &batch {
        BatchMode::Full => 1,
        BatchMode::Stochastic => train.len() as u64,
        BatchMode::MiniBatch {
            size,
            drop_last: true,
        } => (train.len() / size) as u64,
        BatchMode::MiniBatch { size, .. } => train.len().div_ceil(*size) as u64,
    };
    let total = c.max_steps.unwrap_or(steps_per_epoch * c.epochs as u64);
    let (schedule, plateau, momentum) = setup::schedule(&c.optimizer, c.schedule.as_ref(), total)?;
    let optimizer = setup::optimizer(&c.optimizer, model.as_ref(), &schedule, momentum)?;
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
        restore_best: c.train.restore_best,
        checkpoint_every: c.train.checkpoint_every,
        divergence_factor: c.train.divergence_factor,
        curriculum_epochs: c.train.curriculum_epochs,
        quiet,
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
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let resolved = toml::to_string(&c).map_err(|e| e.to_string())?;
    gradus_train::checkpoint::write_atomic(&out.join("config.toml"), resolved.as_bytes())
        .map_err(|e| format!("{}: {e}", out.display()))?;
    let summary = trainer
        .fit(&train, val.as_ref(), &out, resume)
        .map_err(|e| e.to_string())?;
    let mut json = serde_json::to_value(&summary).map_err(|e| e.to_string())?;
    if let Some(test) = &test {
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
    if !quiet {
        eprintln!(
            "wrote {} (metrics.csv, layers.csv, model.safetensors, config.toml, summary.json, report.html)",
            out.display()
        );
    }
    Ok(())
}
