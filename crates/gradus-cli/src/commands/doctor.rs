//! `gradus doctor CONFIG.toml | RUN_DIR`: the "practical debugging" checks of a training run,
//! each finding printed with a concrete fix. Before a run (a config): feature scales, a gradient
//! check of the config's model, a learning-rate range test against the configured rate, dead
//! ReLU units and per-layer gradient norms at initialization. After a run (its folder): the
//! training and validation curves of `metrics.csv` (divergence, oscillation, plateau,
//! overfitting onset). Findings are results, not errors: the command exits 0 when it ran.
//!
//! Layout: `doctor/finding.rs` ([`Finding`]), `doctor/features.rs`, `doctor/gradcheck.rs`,
//! `doctor/init.rs` (dead ReLU units, gradient norms), `doctor/lr.rs` (the range test),
//! `doctor/curves.rs` (a finished run's curves).

mod curves;
mod features;
mod finding;
mod gradcheck;
mod init;
mod lr;

pub use finding::{Finding, Severity};

use gradus_run::{Config, Run, RunBuilder};
use serde_json::{json, Value};
use std::path::Path;

/// What `gradus doctor` was asked for.
pub struct Request<'a> {
    /// A run config, or a run folder written by `gradus train`.
    pub target: &'a Path,
    /// Machine-readable findings on standard output.
    pub json: bool,
    /// Steps of the learning-rate range test.
    pub lr_steps: usize,
}

/// Runs `gradus doctor`.
pub fn run(req: &Request<'_>) -> Result<(), String> {
    let (kind, findings, extra) = if req.target.is_dir() {
        let (f, extra) = curves::diagnose(req.target)?;
        ("run", f, extra)
    } else {
        let (f, extra) = before_run(req.target, req.lr_steps)?;
        ("config", f, extra)
    };
    if req.json {
        let mut out = json!({
            "target": req.target.display().to_string(),
            "kind": kind,
            "findings": findings.iter().map(Finding::to_json).collect::<Vec<_>>(),
        });
        if let (Some(o), Value::Object(e)) = (out.as_object_mut(), extra) {
            o.extend(e);
        }
        let text = serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        println!("gradus doctor: {}", req.target.display());
        for f in &findings {
            println!("{}", f.to_text());
        }
        let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
        println!(
            "{} serious, {} warnings, {} checks passed",
            count(Severity::Serious),
            count(Severity::Warning),
            count(Severity::Ok)
        );
    }
    Ok(())
}

/// The checks of a config before its run; the extra JSON holds the range test's curve.
fn before_run(config: &Path, lr_steps: usize) -> Result<(Vec<Finding>, Value), String> {
    let text = gradus_data::text::read_text(config).map_err(|e| e.to_string())?;
    let config =
        Config::parse(&text, &config.display().to_string(), &[]).map_err(|e| e.to_string())?;
    // the data read, scaled and shaped as `gradus train` would, and the model's seeded weights
    let run = RunBuilder::new(config)
        .quiet(true)
        .build()
        .map_err(|e| e.to_string())?;
    let mut findings = features::scale(&run);
    findings.push(or_skipped("gradient_check", gradcheck::check(&run)));
    findings.extend(or_skipped_all("dead_relu", init::dead_relu(&run)));
    findings.extend(or_skipped_all("gradient_norms", init::gradient_norms(&run)));
    let mut extra = json!({});
    match lr::range_test(&run, lr_steps) {
        Ok((f, curve)) => {
            findings.extend(f);
            extra["lr_range_test"] = curve;
        }
        Err(e) => findings.push(skipped("lr_range_test", &e)),
    }
    Ok((findings, extra))
}

/// A check that could not run on this model is reported, not an error of the command.
fn skipped(check: &'static str, why: &str) -> Finding {
    Finding::ok(check, format!("skipped: {why}"))
}

fn or_skipped(check: &'static str, r: Result<Finding, String>) -> Finding {
    r.unwrap_or_else(|e| skipped(check, &e))
}

fn or_skipped_all(check: &'static str, r: Result<Vec<Finding>, String>) -> Vec<Finding> {
    r.unwrap_or_else(|e| vec![skipped(check, &e)])
}

/// The run's trainable parameters, by name.
fn trainable(run: &Run) -> Vec<(String, gradus_nn::Param)> {
    run.trainer
        .model
        .named_parameters()
        .into_iter()
        .filter(|(_, p)| p.requires_grad())
        .collect()
}
