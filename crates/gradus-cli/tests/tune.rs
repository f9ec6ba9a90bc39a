//! `gradus tune` end to end on the shipped breast-cancer data: a tiny search writes a journal,
//! trials.csv and a best.toml that `gradus train` accepts and trains; a search whose journal was
//! cut mid-line resumes; refused `[search]` entries name their key.

mod common;

use common::{absolute_data, assert_fails_with, gradus, stderr, stdout, write};
use std::path::Path;

fn config(epochs: usize, search: &str) -> String {
    absolute_data(&format!(
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
    ))
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
    assert_fails_with(
        &tune(&no_search, &out, &[]),
        &["no [search] section: add one"],
    );
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
    assert_fails_with(
        &tune(&cfg, &dir.path().join("zero"), &["--parallel", "0"]),
        &["--parallel: 0 trials at once runs nothing"],
    );
    let file = write(dir.path(), "afile", "");
    assert_fails_with(
        &tune(&cfg, Path::new(&file), &[]),
        &["a file is there, not a study folder"],
    );
    assert_fails_with(
        &tune(&cfg, &dir.path().join("nope"), &["--resume"]),
        &["--resume: no study in", "start one without --resume"],
    );
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("metrics.csv"), "epoch\n").unwrap();
    assert_fails_with(
        &tune(&cfg, &run, &[]),
        &["a `gradus train` run folder is there"],
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

/// The processes whose command line mentions `needle`.
#[cfg(target_os = "linux")]
fn processes_mentioning(needle: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let cmd = std::fs::read(e.ok()?.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            cmd.contains(needle).then_some(cmd)
        })
        .collect()
}

#[cfg(target_os = "linux")]
#[test]
fn a_second_ctrl_c_ends_the_running_trials_too() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    // trials long enough to be running when the signals come
    let cfg = write(dir.path(), "long.toml", &config(100_000, SEARCH));
    let mut tune = std::process::Command::new(env!("CARGO_BIN_EXE_gradus"))
        .args([
            "tune",
            &cfg,
            "--out",
            out.to_str().unwrap(),
            "--trials",
            "2",
        ])
        .args(["--parallel", "2", "--quiet"])
        .current_dir(common::repo())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let first = out.join("trials/0001/metrics.csv");
    for _ in 0..60_000 {
        if first.exists() || tune.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(first.exists(), "the second trial never wrote an epoch");
    for _ in 0..2 {
        let kill = std::process::Command::new("kill")
            .args(["-INT", &tune.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
    }
    let o = tune.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    // the trials (`gradus train .../trials/NNNN.toml`) end too instead of training on alone
    let needle = out.join("trials").display().to_string();
    let mut left = processes_mentioning(&needle);
    for _ in 0..6_000 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        left = processes_mentioning(&needle);
    }
    assert!(left.is_empty(), "trials still running: {left:?}");
}
