//! `gradus tune` end to end on the shipped breast-cancer data: a tiny search writes a journal,
//! trials.csv and a best.toml that `gradus train` accepts and trains; a search whose journal was
//! cut mid-line resumes; refused `[search]` entries name their key.

mod common;

use common::{assert_fails_with, gradus, stderr, stdout, write};
use std::path::Path;

fn config(epochs: usize, search: &str) -> String {
    format!(
        r#"seed = 0
epochs = {epochs}
[data]
format = "csv"
path = "data/sklearn/breast_cancer.csv"
target = "target"
task = "binary"
validation = 0.2
standardize = true
[model]
kind = "logistic"
[optimizer]
name = "sgd"
lr = 0.05
momentum = 0.9
[batch]
size = 64
[search]
{search}
"#
    )
}

const SEARCH: &str = r#"sampler = "random"
seed = 3
[search.params]
"optimizer.lr" = { type = "log_uniform", low = 1e-3, high = 0.5 }
"optimizer.momentum" = { type = "uniform", low = 0.0, high = 0.95 }
"batch.size" = { type = "categorical", choices = [32, 64] }
"#;

fn tune(cfg: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["tune", cfg, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    gradus(&args)
}

/// (state, count) of the rows of trials.csv.
fn states(out: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(out.join("trials.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().to_string())
        .collect()
}

#[test]
fn a_tiny_search_writes_a_best_config_that_trains() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "bc.toml", &config(2, SEARCH));
    let out = dir.path().join("study");
    let o = tune(&cfg, &out, &["--trials", "3", "--parallel", "2"]);
    let table = stdout(&o);
    assert_eq!(table.lines().count(), 4, "{table}");
    assert!(
        table.lines().next().unwrap().starts_with("trial  state"),
        "{table}"
    );
    assert_eq!(states(&out), ["completed"; 3]);
    // one created and one completed event per trial, two epochs each
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).unwrap();
    assert_eq!(journal.matches("\"event\":\"created\"").count(), 3);
    assert_eq!(journal.matches("\"event\":\"completed\"").count(), 3);
    assert_eq!(journal.matches("\"event\":\"intermediate\"").count(), 6);
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        report.contains("Optimization history (val_loss)"),
        "{report}"
    );
    assert!(report.contains("Parallel coordinates"), "{report}");
    assert!(report.contains("Parameter importance"), "{report}");
    for n in 0..3 {
        let run = out.join(format!("trials/{n:04}"));
        assert!(run.join("model.safetensors").exists());
    }

    let best = out.join("best.toml");
    let c = gradus_run::Config::from_toml_file(&best).unwrap();
    assert_eq!(c.epochs, 2);
    assert!((1e-3..=0.5).contains(&c.optimizer.lr), "{}", c.optimizer.lr);
    // the best trial's values, ready to train
    let text = std::fs::read_to_string(&best).unwrap();
    assert!(!text.contains("[search"), "{text}");
    let run = dir.path().join("best-run");
    let o = gradus(&[
        "train",
        best.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 3, "{metrics}");
}

#[test]
fn a_search_resumes_from_a_journal_cut_mid_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "bc.toml", &config(1, SEARCH));
    let out = dir.path().join("study");
    stdout(&tune(&cfg, &out, &["--trials", "2", "-q"]));
    // the search killed while writing its last line (trial 1's completion)
    let path = out.join("journal.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let last = text.trim_end().rfind('\n').unwrap() + 1;
    assert!(text[last..].contains("\"completed\""), "{text}");
    std::fs::write(&path, &text[..last + 20]).unwrap();

    // refused without --resume
    assert_fails_with(
        &tune(&cfg, &out, &["--trials", "3"]),
        &["--resume continues it"],
    );
    let o = tune(&cfg, &out, &["--trials", "3", "--resume", "-q"]);
    let err = stderr(&o);
    stdout(&o);
    assert!(
        err.contains("dropped a torn last line (20 bytes without a newline)"),
        "{err}"
    );
    assert!(
        err.contains("trial 1 was running when the search stopped"),
        "{err}"
    );
    // trial 1 is interrupted and not counted: three counted trials in the end
    assert_eq!(
        states(&out),
        ["completed", "interrupted", "completed", "completed"]
    );
    assert!(out.join("best.toml").exists());
}

#[test]
fn refused_search_entries_name_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let bad_key = config(
        1,
        "[search.params]\n\"optimizer.lrr\" = { type = \"uniform\", low = 0.1, high = 0.2 }\n",
    );
    let cfg = write(dir.path(), "a.toml", &bad_key);
    let err = assert_fails_with(
        &tune(&cfg, &out, &[]),
        &["[search] params.optimizer.lrr: the run config refuses optimizer.lrr = 0.1"],
    );
    assert!(err.contains("lrr"), "{err}");
    let bad_range = config(
        1,
        "[search.params]\n\"optimizer.momentum\" = { type = \"uniform\", low = 0.5, high = 1.5 }\n",
    );
    let cfg = write(dir.path(), "b.toml", &bad_range);
    assert_fails_with(
        &tune(&cfg, &out, &[]),
        &["[search] params.optimizer.momentum: the run config refuses optimizer.momentum = 1.5"],
    );
    let no_search = write(
        dir.path(),
        "c.toml",
        &config(1, "").replace("[search]\n", ""),
    );
    assert_fails_with(&tune(&no_search, &out, &[]), &["has no [search] section"]);
    assert!(!out.join("journal.jsonl").exists());
}

#[test]
fn every_shipped_search_example_is_valid() {
    let dir = common::repo().join("examples/tune");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let source = path.display().to_string();
            let split = gradus_tune::split_config(&text, &source).unwrap();
            gradus_tune::trial_config::check(&split.base, &split.spec.space, &source).unwrap();
            seen += 1;
        }
    }
    assert!(seen >= 1, "no example in {}", dir.display());
}

#[test]
fn a_search_whose_trials_all_fail_exits_non_zero_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    // a target column the data lacks: the config is valid, every trial fails when it loads
    let missing = config(1, SEARCH).replace("target = \"target\"", "target = \"tarjet\"");
    let cfg = write(dir.path(), "missing.toml", &missing);
    assert_fails_with(
        &tune(&cfg, &out, &["--trials", "2", "--quiet"]),
        &["no trial completed", "tarjet"],
    );
    assert!(!out.join("best.toml").exists());
    let cfg = write(dir.path(), "ok.toml", &config(1, SEARCH));
    assert_fails_with(
        &tune(&cfg, &dir.path().join("zero"), &["--trials", "0"]),
        &["--trials: 0 trials is no search"],
    );
}

#[test]
fn a_metric_the_runs_do_not_write_is_refused_before_any_trial_runs() {
    let dir = tempfile::tempdir().unwrap();
    for (search, want) in [
        (
            "metric = \"val_los\"\ndirection = \"minimize\"\n",
            "[search] metric: `val_los` is not a metrics.csv column (the columns: train_loss, val_loss, grad_norm, lr, update_ratio, accuracy, rmse, r2); did you mean `val_loss`?",
        ),
        (
            "metric = \"rmse\"\n",
            "[search] metric: `rmse` is written for regression only, the data's task is binary (use accuracy)",
        ),
    ] {
        let out = dir.path().join("study");
        let cfg = write(dir.path(), "typo.toml", &config(1, &format!("{search}{SEARCH}")));
        assert_fails_with(&tune(&cfg, &out, &["--trials", "2"]), &[want]);
        assert!(!out.join("trials").exists(), "a trial ran for {search}");
    }
}
