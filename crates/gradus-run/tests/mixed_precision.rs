//! `train.precision`: an MLP trained in bf16-mixed and f16-mixed (matmul inputs rounded to 16
//! bits, f32 master weights, f16 with loss scaling) ends within a small tolerance of the f32
//! run, and the summary counts the steps the f16 loss scaler skipped.

use gradus_run::{Config, RunBuilder};
use std::path::{Path, PathBuf};

/// scikit-learn's breast-cancer data (569 rows, 30 features, binary), shipped in the repository.
fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sklearn/breast_cancer.csv")
}

fn config(precision: Option<&str>) -> Config {
    let line = precision.map_or(String::new(), |p| format!("precision = {p:?}"));
    let text = format!(
        r#"
seed = 5
epochs = 8

[data]
format = "csv"
path = {path:?}
target = "target"
task = "binary"
validation = 0.2
standardize = true

[model]
kind = "mlp"
hidden = [32, 16]

[optimizer]
name = "adam"
lr = 0.003

[batch]
size = 32

[train]
{line}
"#,
        path = data().to_str().expect("a UTF-8 path"),
    );
    Config::from_toml_str(&text).expect("a valid config")
}

/// (final training loss, validation loss, summary.json) of a run.
fn train(dir: &Path, precision: Option<&str>) -> (f64, f64, serde_json::Value) {
    let out = dir.join(precision.unwrap_or("f32"));
    let mut run = RunBuilder::new(config(precision))
        .out_dir(&out)
        .quiet(true)
        .build()
        .unwrap();
    let outcome = run.train().unwrap();
    let last = outcome.summary.last.clone().expect("an epoch record");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    (last.train_loss, last.val_loss.expect("validation"), summary)
}

#[test]
fn bf16_and_f16_mixed_train_an_mlp_to_within_a_small_tolerance_of_f32() {
    let dir = tempfile::tempdir().unwrap();
    let (f32_train, f32_val, f32_summary) = train(dir.path(), None);
    assert_eq!(f32_summary["skipped_steps"], 0);
    assert!(f32_train < 0.2, "the f32 run should learn: {f32_train}");
    for precision in ["bf16-mixed", "f16-mixed"] {
        let (t, v, summary) = train(dir.path(), Some(precision));
        // not the same bits: the matmul inputs were rounded
        assert_ne!(t, f32_train, "{precision}");
        // bf16 keeps 8 significant bits; the losses end within a few hundredths
        assert!(
            (t - f32_train).abs() < 0.02 + 0.1 * f32_train,
            "{precision}: train {t} vs f32 {f32_train}"
        );
        assert!(
            (v - f32_val).abs() < 0.02 + 0.1 * f32_val,
            "{precision}: val {v} vs f32 {f32_val}"
        );
        // a small model's gradients never overflow at the initial scale 2^16
        assert_eq!(summary["skipped_steps"], 0, "{precision}");
    }
}
