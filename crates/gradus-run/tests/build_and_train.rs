//! A run built and trained from a TOML string with the library alone (no `gradus` binary): the
//! loss falls, the run directory holds what `gradus train` writes, and the model file read back
//! gives the trained model's loss exactly. (`gradus-cli/tests/library_run.rs` checks that the
//! binary trains the same bits.)

use gradus_run::{load_model, Config, RunBuilder, RunError};
use std::path::{Path, PathBuf};

/// The shipped house-price data (50 rows: area → price).
fn house_prices() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/house-prices.csv")
}

/// Linear regression by mini-batch SGD with a held-out validation part and a cosine schedule.
fn config(epochs: usize) -> Config {
    let text = format!(
        r#"
seed = 3
epochs = {epochs}

[data]
format = "csv"
path = {path:?}
target = "price"
features = ["area"]
task = "regression"
validation = 0.2
standardize = true

[model]
kind = "linear"

[optimizer]
name = "sgd"
lr = 0.05
momentum = 0.9

[schedule]
name = "cosine"

[batch]
size = 8
"#,
        path = house_prices().to_str().expect("a UTF-8 path"),
    );
    Config::from_toml_str(&text).expect("a valid config")
}

/// The `train_loss` column of a run's metrics.csv.
fn train_losses(run: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(run.join("metrics.csv")).expect("metrics.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "train_loss")
        .expect("column");
    lines
        .map(|l| {
            l.split(',')
                .nth(col)
                .expect("value")
                .parse()
                .expect("number")
        })
        .collect()
}

#[test]
fn a_run_built_from_a_toml_string_trains_and_writes_its_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut run = RunBuilder::new(config(6))
        .out_dir(&out)
        .quiet(true)
        .build()
        .unwrap();
    // 40 training rows after holding out 10, in batches of 8
    assert_eq!(
        (run.train.len(), run.val.as_ref().map(|v| v.len())),
        (40, Some(10))
    );
    assert_eq!(run.steps_per_epoch, 5);
    assert!(run.warnings.is_empty(), "{:?}", run.warnings);
    let (before, _) = run.trainer.evaluate(&run.train).unwrap();
    let outcome = run.train().unwrap();
    assert_eq!((outcome.summary.epochs, outcome.summary.steps), (6, 30));
    assert!(!outcome.interrupted());
    let (after, _) = run.trainer.evaluate(&run.train).unwrap();
    assert!(after < 0.05 * before, "training loss {before} -> {after}");
    let losses = train_losses(&out);
    assert_eq!(losses.len(), 6);
    assert!(losses[5] < losses[0], "{losses:?}");
    for file in [
        "config.toml",
        "model.safetensors",
        "summary.json",
        "report.html",
    ] {
        assert!(out.join(file).exists(), "{file}");
    }
    // the model file rebuilds the trained model: the same loss, bit for bit
    let (model, spec) = load_model(&out.join("model.safetensors")).unwrap();
    assert_eq!(spec.features, ["area"]);
    run.trainer.model = model;
    assert_eq!(run.trainer.evaluate(&run.train).unwrap().0, after);
}

#[test]
fn resuming_with_a_changed_config_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let build = |c: Config| RunBuilder::new(c).out_dir(&out).quiet(true);
    build(config(2)).build().unwrap().train().unwrap();
    let mut changed = config(2);
    changed.seed = 4;
    let err = build(changed).resume(true).build().err().expect("refused");
    assert!(matches!(err, RunError::Resume(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("seed: 3 in the run being resumed, now 4"),
        "{err}"
    );
    // a longer run may resume: the cosine is rebuilt for it, and a warning says so
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let sink = std::rc::Rc::clone(&seen);
    let mut run = build(config(4))
        .resume(true)
        .on_warning(move |w| sink.borrow_mut().push(w.to_string()))
        .build()
        .unwrap();
    assert_eq!(*seen.borrow(), run.warnings);
    assert!(
        run.warnings
            .iter()
            .any(|w| w.contains("was 10 steps long and is now 20")),
        "{:?}",
        run.warnings
    );
    let outcome = run.train().unwrap();
    assert_eq!((outcome.summary.epochs, outcome.summary.steps), (4, 20));
}
