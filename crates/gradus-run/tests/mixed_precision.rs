//! `train.precision`: an MLP trained in bf16-mixed and f16-mixed (matmul inputs rounded to 16
//! bits, f32 master weights, f16 with loss scaling) or in pure bf16 (bf16-true) ends within a
//! small tolerance of the f32 run, and the summary counts the steps the f16 loss scaler skipped.

use gradus_run::{Config, RunBuilder};
use gradus_tensor::DType;
use std::path::{Path, PathBuf};

/// scikit-learn's breast-cancer data (569 rows, 30 features, binary), shipped in the repository.
fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sklearn/breast_cancer.csv")
}

fn config(precision: Option<&str>) -> Config {
    Config::from_toml_str(&config_text(precision)).expect("a valid config")
}

fn config_text(precision: Option<&str>) -> String {
    let line = precision.map_or(String::new(), |p| format!("precision = {p:?}"));
    format!(
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
    )
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

#[test]
fn bf16_true_trains_bf16_parameters_and_state_to_near_the_f32_run() {
    let dir = tempfile::tempdir().unwrap();
    let (f32_train, f32_val, _) = train(dir.path(), None);
    let out = dir.path().join("bf16-true");
    let mut run = RunBuilder::new(config(Some("bf16-true")))
        .out_dir(&out)
        .quiet(true)
        .build()
        .unwrap();
    // the parameters are bf16 before the first step, and the optimizer state follows them
    for (name, p) in run.trainer.model.named_parameters() {
        assert_eq!(p.tensor().dtype(), DType::BF16, "{name}");
    }
    let outcome = run.train().unwrap();
    for (name, p) in run.trainer.model.named_parameters() {
        assert_eq!(p.tensor().dtype(), DType::BF16, "{name}");
    }
    let last = outcome.summary.last.clone().expect("an epoch record");
    let (t, v) = (last.train_loss, last.val_loss.expect("validation"));
    // bf16 weights move in steps of 2^-8 of their size: an 8-epoch run ends near the f32 one
    assert!(
        (t - f32_train).abs() < 0.03 + 0.15 * f32_train,
        "bf16-true: train {t} vs f32 {f32_train}"
    );
    assert!(
        (v - f32_val).abs() < 0.03 + 0.15 * f32_val,
        "bf16-true: val {v} vs f32 {f32_val}"
    );
    // the checkpoint holds bf16 parameters and bf16 Adam moments (the state follows the
    // parameters' dtype)
    let bytes = std::fs::read(out.join("checkpoint.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let optimizer: Vec<_> = file
        .tensors()
        .into_iter()
        .filter(|(n, _)| n.starts_with("optimizer."))
        .collect();
    assert!(!optimizer.is_empty());
    for (name, view) in file.tensors() {
        assert_eq!(view.dtype(), safetensors::Dtype::BF16, "{name}");
    }
    // the saved model is written in bf16, half the bytes of the f32 run's
    let size = |d: &Path| {
        std::fs::metadata(d.join("model.safetensors"))
            .unwrap()
            .len()
    };
    let (half, full) = (size(&out), size(&dir.path().join("f32")));
    assert!(half * 2 < full + 4096, "{half} bytes against {full}");
}

#[test]
fn bf16_true_with_stochastic_rounding_trains_and_repeats_from_its_seed() {
    let dir = tempfile::tempdir().unwrap();
    let (f32_train, _, _) = train(dir.path(), None);
    let (nearest, _, _) = train(dir.path(), Some("bf16-true"));
    let text = config_text(Some("bf16-true")) + "stochastic_rounding = true\n";
    let run_once = |name: &str| {
        let mut run = RunBuilder::new(Config::from_toml_str(&text).unwrap())
            .out_dir(dir.path().join(name))
            .quiet(true)
            .build()
            .unwrap();
        let outcome = run.train().unwrap();
        outcome.summary.last.expect("an epoch record").train_loss
    };
    let (a, b) = (run_once("sr-a"), run_once("sr-b"));
    assert_eq!(a, b, "the random bits come from the seed and the step");
    assert_ne!(a, nearest, "stochastic rounding changes the updates");
    assert!(
        (a - f32_train).abs() < 0.03 + 0.15 * f32_train,
        "bf16-true with stochastic rounding: train {a} vs f32 {f32_train}"
    );
    // it rounds bf16 parameters only
    let mixed = config_text(Some("bf16-mixed")) + "stochastic_rounding = true\n";
    let err = Config::from_toml_str(&mixed).unwrap_err().to_string();
    assert!(
        err.contains("stochastic_rounding") && err.contains("bf16-true"),
        "{err}"
    );
}

#[test]
fn bf16_true_is_refused_for_models_that_take_ids() {
    let text = config_text(Some("bf16-true")).replace("kind = \"mlp\"", "kind = \"mf\"");
    let err = Config::from_toml_str(&text).unwrap_err().to_string();
    assert!(err.contains("bf16-true") && err.contains("256"), "{err}");
}

/// A CSV of `rows` rows: four features uniform in `[-scale, scale]` (not standardized) and a
/// binary target (the sign of their sum).
fn large_inputs_csv(dir: &Path, rows: usize, scale: f64) -> PathBuf {
    let mut text = String::from("a,b,c,d,target\n");
    let mut state = 12345u64;
    let mut uniform = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    for _ in 0..rows {
        let x: Vec<f64> = (0..4).map(|_| uniform() * scale).collect();
        let y = u8::from(x.iter().sum::<f64>() > 0.0);
        text += &format!("{},{},{},{},{y}\n", x[0], x[1], x[2], x[3]);
    }
    let path = dir.join(format!("large-{scale}.csv"));
    std::fs::write(&path, text).unwrap();
    path
}

fn overflow_config(path: &Path, epochs: usize) -> Config {
    let text = format!(
        r#"
seed = 1
epochs = {epochs}

[data]
format = "csv"
path = {path:?}
target = "target"
task = "binary"
validation = 0.2

[model]
kind = "mlp"
hidden = [16]

[optimizer]
name = "sgd"
lr = 0.000001

[batch]
size = 32

[train]
precision = "f16-mixed"
"#,
        path = path.to_str().expect("a UTF-8 path"),
    );
    Config::from_toml_str(&text).expect("a valid config")
}

/// The `skipped_steps` column of `metrics.csv`, one value per epoch.
fn skipped_column(out: &Path) -> Vec<u64> {
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "skipped_steps")
        .expect("a skipped_steps column");
    lines
        .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
        .collect()
}

#[test]
fn f16_gradients_that_overflow_the_initial_scale_skip_steps_shown_per_epoch_not_divergence() {
    let dir = tempfile::tempdir().unwrap();
    // inputs of a few thousand: the gradients times the initial scale 2^16 overflow f16's
    // 65504 until the scaler has halved the scale a few times
    let data = large_inputs_csv(dir.path(), 320, 3000.0);
    let out = dir.path().join("run");
    let mut run = RunBuilder::new(overflow_config(&data, 3))
        .out_dir(&out)
        .quiet(true)
        .build()
        .unwrap();
    let outcome = run.train().unwrap();
    let skipped = skipped_column(&out);
    assert_eq!(skipped.len(), 3);
    let total: u64 = skipped.iter().sum();
    let limit = gradus_train::precision::MAX_CONSECUTIVE_SKIPS;
    assert!(skipped[0] > 0, "the first epoch skips steps: {skipped:?}");
    assert!(total < limit, "fewer than the limit in all: {skipped:?}");
    assert_eq!(skipped[2], 0, "then the lowered scale fits: {skipped:?}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["skipped_steps"], total);
    assert_eq!(summary["stopped"], "completed");
    assert!(outcome.summary.last.unwrap().train_loss.is_finite());
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("Steps skipped by the f16 loss scaler"));
    assert!(report.contains("skipped steps"));
}

#[test]
fn an_f16_run_that_skips_every_step_stops_at_the_limit_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    // inputs beyond f16's range round to inf: every forward is NaN, whatever the scale
    let data = large_inputs_csv(dir.path(), 320, 1e6);
    let out = dir.path().join("run");
    let mut run = RunBuilder::new(overflow_config(&data, 20))
        .out_dir(&out)
        .quiet(true)
        .build()
        .unwrap();
    let err = run.train().unwrap_err().to_string();
    let limit = gradus_train::precision::MAX_CONSECUTIVE_SKIPS;
    assert!(
        err.contains(&format!(
            "f16-mixed: the last {limit} steps (to step {limit})"
        )),
        "{err}"
    );
    assert!(err.contains("the model overflows f16"), "{err}");
    assert!(!err.contains("diverged"), "not taken for divergence: {err}");
    // the epochs before the stop (8 steps each) were all skipped, and say so
    let skipped = skipped_column(&out);
    assert_eq!(skipped, vec![8; (limit / 8) as usize], "{skipped:?}");
}
