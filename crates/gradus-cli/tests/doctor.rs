//! `gradus doctor`: a config with unscaled features gets the scale finding, an exploding model
//! or a huge learning rate gets serious findings, a healthy config none; a run folder's
//! metrics.csv with a known overfitting onset and a known plateau is diagnosed at those epochs;
//! bad input fails with a message, never a panic. Configs are written with absolute data paths.

mod common;

use common::{assert_fails_with, gradus, stdout, write};
use serde_json::Value;
use std::path::Path;

fn breast_cancer() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/sklearn/breast_cancer.csv")
        .to_string_lossy()
        .into_owned()
}

/// The breast-cancer logistic regression (as examples/breast-cancer.toml), with `standardize`
/// and `lr` set.
fn breast_cancer_config(standardize: bool, lr: f64) -> String {
    format!(
        "seed = 0\nepochs = 60\n[data]\nformat = \"csv\"\npath = {:?}\ntarget = \"target\"\n\
         task = \"binary\"\nvalidation = 0.2\nstandardize = {standardize}\n[model]\nkind = \"logistic\"\n\
         [optimizer]\nname = \"sgd\"\nlr = {lr:e}\nmomentum = 0.9\nweight_decay = 0.001\n[batch]\nsize = 32\n",
        breast_cancer()
    )
}

/// `gradus doctor TARGET --json`, which must succeed; its findings.
fn doctor_json(target: &str) -> Value {
    let o = gradus(&["doctor", target, "--json"]);
    serde_json::from_str(&stdout(&o)).expect("doctor --json prints JSON")
}

/// The findings of `check` in a doctor's JSON.
fn findings<'a>(json: &'a Value, check: &str) -> Vec<&'a Value> {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .collect()
}

fn severities(json: &Value) -> Vec<String> {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{}:{}", f["check"], f["severity"]))
        .collect()
}

#[test]
fn a_healthy_config_has_no_serious_finding() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "healthy.toml",
        &breast_cancer_config(true, 0.05),
    );
    let json = doctor_json(&config);
    let all = severities(&json);
    assert!(!all.iter().any(|s| s.contains("serious")), "{all:?}");
    for check in [
        "features",
        "gradient_check",
        "gradient_norms",
        "lr_range_test",
    ] {
        let f = findings(&json, check);
        assert_eq!(f.len(), 1, "{check}: {all:?}");
        assert_eq!(f[0]["severity"], "ok", "{:#}", f[0]);
    }
    let curve = &json["lr_range_test"];
    let lrs = curve["lrs"].as_array().unwrap();
    assert!(lrs.len() >= 20, "{curve}");
    assert!(curve["suggested_lr"].as_f64().unwrap() > 0.0);
    // the text form says the same
    let o = gradus(&["doctor", &config]);
    let text = stdout(&o);
    assert!(text.contains("0 serious"), "{text}");
}

#[test]
fn unscaled_features_are_reported_with_the_standardize_fix() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "raw.toml", &breast_cancer_config(false, 0.05));
    let json = doctor_json(&config);
    let f = findings(&json, "features");
    assert_eq!(f.len(), 1, "{:?}", severities(&json));
    assert_eq!(f[0]["severity"], "warning", "{:#}", f[0]);
    assert!(
        f[0]["fix"]
            .as_str()
            .unwrap()
            .contains("[data] standardize = true"),
        "{:#}",
        f[0]
    );
    // area error (std ~45) against fractal dimension error (std ~0.0026)
    assert!(
        f[0]["message"].as_str().unwrap().contains("ratio"),
        "{:#}",
        f[0]
    );
}

#[test]
fn an_exploding_model_is_serious() {
    // one feature in the millions, another near 1: the logistic loss's gradient at
    // initialization is of the order of the features
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..64)
        .map(|i| {
            let y = i % 2;
            format!(
                "{},{},{y}\n",
                1e6 * (1.0 + (i % 7) as f64),
                (i % 5) as f64 / 5.0
            )
        })
        .collect();
    let csv = write(dir.path(), "big.csv", &format!("a,b,y\n{rows}"));
    let config = write(
        dir.path(),
        "big.toml",
        &format!(
            "epochs = 5\n[data]\nformat = \"csv\"\npath = {csv:?}\ntarget = \"y\"\ntask = \"binary\"\n\
             [model]\nkind = \"logistic\"\n[optimizer]\nname = \"sgd\"\nlr = 0.1\n[batch]\nsize = 16\n"
        ),
    );
    let json = doctor_json(&config);
    let norms = findings(&json, "gradient_norms");
    assert!(
        norms.iter().any(|f| f["severity"] == "serious"
            && f["message"].as_str().unwrap().contains("exceeds 1e4")),
        "{:?}",
        severities(&json)
    );
    assert_eq!(findings(&json, "features")[0]["severity"], "warning");
    // at lr 0.1 the loss blows up at once in the range test
    assert_eq!(findings(&json, "lr_range_test")[0]["severity"], "serious");
}

#[test]
fn a_huge_learning_rate_is_serious_and_the_fix_names_the_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "huge.toml", &breast_cancer_config(true, 1e4));
    let json = doctor_json(&config);
    let f = findings(&json, "lr_range_test");
    assert_eq!(f[0]["severity"], "serious", "{:#}", f[0]);
    let suggested = json["lr_range_test"]["suggested_lr"].as_f64().unwrap();
    assert!(suggested < 1e3, "{suggested}");
    assert!(
        f[0]["fix"].as_str().unwrap().contains("optimizer.lr = "),
        "{:#}",
        f[0]
    );
}

/// A metrics.csv with these training and validation losses, epochs from 1.
fn metrics(dir: &Path, train: &[f64], val: &[f64]) {
    let rows: String = train
        .iter()
        .zip(val)
        .enumerate()
        .map(|(i, (t, v))| format!("{},{},{t},{v},1.0,0.1,0.001,0.9,0.5\n", i + 1, 10 * (i + 1)))
        .collect();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("metrics.csv"),
        format!(
            "epoch,step,train_loss,val_loss,grad_norm,lr,update_ratio,accuracy,seconds\n{rows}"
        ),
    )
    .unwrap();
}

#[test]
fn run_folder_overfitting_onset_is_the_epoch_after_the_best_validation_loss() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    // training falls all along; validation falls to epoch 8, then rises
    let train: Vec<f64> = (0..20).map(|e| 0.85f64.powi(e)).collect();
    let val: Vec<f64> = (1..=20)
        .map(|e: i32| 0.5 + 0.01 * ((e - 8) as f64).powi(2))
        .collect();
    metrics(&run, &train, &val);
    let json = doctor_json(run.to_str().unwrap());
    assert_eq!(json["kind"], "run");
    assert_eq!(json["best_val_epoch"], 8, "{json:#}");
    assert_eq!(json["overfitting_epoch"], 9, "{json:#}");
    let f = findings(&json, "overfitting");
    assert!(
        f[0]["message"].as_str().unwrap().contains("epoch 9"),
        "{:#}",
        f[0]
    );
    assert!(findings(&json, "plateau").is_empty(), "{json:#}");
    assert!(findings(&json, "divergence").is_empty(), "{json:#}");
}

#[test]
fn run_folder_plateau_starts_where_the_loss_stops_improving() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    // training falls to epoch 6, then moves by under 0.1% for 14 epochs
    let train: Vec<f64> = (1..=20)
        .map(|e: i32| {
            if e <= 6 {
                2.0 - 0.25 * e as f64
            } else {
                0.5 - 0.0001 * (e - 6) as f64 / 14.0
            }
        })
        .collect();
    metrics(&run, &train, &train);
    let json = doctor_json(run.to_str().unwrap());
    assert_eq!(json["plateau_epoch"], 6, "{json:#}");
    assert!(findings(&json, "overfitting").is_empty(), "{json:#}");
    // and a healthy run has neither
    let healthy = dir.path().join("healthy");
    let falling: Vec<f64> = (0..20).map(|e| 0.85f64.powi(e)).collect();
    metrics(&healthy, &falling, &falling);
    let json = doctor_json(healthy.to_str().unwrap());
    let all = severities(&json);
    assert_eq!(all, vec!["\"curves\":\"ok\""], "{json:#}");
}

#[test]
fn bad_input_fails_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    assert_fails_with(
        &gradus(&["doctor", missing.to_str().unwrap()]),
        &["missing.toml"],
    );
    // a folder that is not a run
    assert_fails_with(
        &gradus(&["doctor", dir.path().to_str().unwrap()]),
        &["metrics.csv", "gradus train"],
    );
    let bad = write(
        dir.path(),
        "bad.toml",
        "epochs = 1\n[data]\nformat = \"csv\"\n",
    );
    assert_fails_with(&gradus(&["doctor", &bad]), &["bad.toml"]);
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("metrics.csv"), "epoch,train_loss\n1,oops\n").unwrap();
    assert_fails_with(&gradus(&["doctor", run.to_str().unwrap()]), &["line 2"]);
    assert_fails_with(
        &gradus(&["doctor", "x.toml", "--lr-steps", "1"]),
        &["lr-steps"],
    );
}

#[test]
fn dead_relu_units_are_counted_per_layer() {
    let dir = tempfile::tempdir().unwrap();
    let mlp = |csv: &str, standardize: bool| {
        format!(
            "epochs = 5\n[data]\nformat = \"csv\"\npath = {csv:?}\ntarget = \"target\"\ntask = \"binary\"\n\
             standardize = {standardize}\n[model]\nkind = \"mlp\"\nhidden = [64, 32]\n\
             [optimizer]\nname = \"adam\"\nlr = 1e-3\n[batch]\nsize = 32\n"
        )
    };
    // standardized breast-cancer features: few units are 0 on every sample
    let healthy = write(dir.path(), "mlp.toml", &mlp(&breast_cancer(), true));
    let json = doctor_json(&healthy);
    let f = findings(&json, "dead_relu");
    assert_eq!(f.len(), 1, "{:?}", severities(&json));
    assert_eq!(f[0]["severity"], "ok", "{:#}", f[0]);
    // the same input on every row: each unit is on for all samples or for none, so about half
    // of the first hidden layer is dead
    let rows: String = (0..64)
        .map(|i| format!("1.0,-2.0,0.5,{}\n", i % 2))
        .collect();
    let csv = write(dir.path(), "same.csv", &format!("a,b,c,target\n{rows}"));
    let dead = write(dir.path(), "dead.toml", &mlp(&csv, false));
    let json = doctor_json(&dead);
    let f = findings(&json, "dead_relu");
    assert!(
        f.iter()
            .any(|f| f["severity"] != "ok"
                && f["message"].as_str().unwrap().starts_with("layer `0`")),
        "{:?}",
        f
    );
}
