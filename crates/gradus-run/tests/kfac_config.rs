//! `optimizer.name = "kfac"` and `"natural_gradient"` from a config: the keys round-trip through
//! TOML, bad values and keys of other optimizers are refused naming the key, and a run trains
//! (the trainer's forward passes reach K-FAC through `gradus_tensor::capture`).

use gradus_run::{Config, RunBuilder};
use std::path::{Path, PathBuf};

fn iris() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sklearn/iris.csv")
}

fn config(optimizer: &str) -> String {
    format!(
        r#"
seed = 0
epochs = 8

[data]
format = "csv"
path = {path:?}
target = "target"
standardize = true

[model]
kind = "mlp"
hidden = [16]
activation = "tanh"

[optimizer]
{optimizer}

[batch]
size = 30
"#,
        path = iris().to_str().expect("a UTF-8 path"),
    )
}

const KFAC: &str = r#"name = "kfac"
lr = 0.05
momentum = 0.9
weight_decay = 0.0001
damping = 0.01
stat_decay = 0.9
kl_clip = 0.01
stat_freq = 1
inv_freq = 5"#;

#[test]
fn kfac_keys_round_trip_through_toml() {
    let c = Config::from_toml_str(&config(KFAC)).unwrap();
    let o = &c.optimizer;
    assert_eq!(
        (o.damping, o.stat_decay, o.kl_clip, o.stat_freq, o.inv_freq),
        (Some(0.01), Some(0.9), Some(0.01), Some(1), Some(5))
    );
    let text = toml::to_string(&c).unwrap();
    let back = Config::from_toml_str(&text).unwrap();
    assert_eq!(toml::to_string(&back).unwrap(), text);
    // an optimizer that does not use the keys writes none of them
    let adam = Config::from_toml_str(&config("name = \"adam\"\nlr = 0.01")).unwrap();
    assert!(!toml::to_string(&adam).unwrap().contains("damping"));
}

#[test]
fn bad_kfac_values_and_foreign_keys_are_refused_naming_the_key() {
    for (bad, key) in [
        ("damping = 0.0", "optimizer.damping"),
        ("stat_decay = 1.0", "optimizer.stat_decay"),
        ("kl_clip = -1.0", "optimizer.kl_clip"),
        ("inv_freq = 0", "optimizer.inv_freq"),
        ("state_dtype = \"f64\"", "optimizer.state_dtype"),
    ] {
        let text = config(&format!("name = \"kfac\"\nlr = 0.1\n{bad}"));
        let e = Config::from_toml_str(&text).unwrap_err().to_string();
        assert!(e.contains(key), "{bad}: {e}");
    }
    let e = Config::from_toml_str(&config("name = \"adam\"\nlr = 0.1\ndamping = 0.1"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("optimizer.damping"), "{e}");
    let e = Config::from_toml_str(&config(
        "name = \"natural_gradient\"\nlr = 0.1\nkl_clip = 0.1",
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("optimizer.kl_clip"), "{e}");
}

fn trained_loss_ratio(optimizer: &str) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let c = Config::from_toml_str(&config(optimizer)).unwrap();
    let mut run = RunBuilder::new(c)
        .out_dir(dir.path().join("run"))
        .quiet(true)
        .build()
        .unwrap();
    let (before, _) = run.trainer.evaluate(&run.train).unwrap();
    run.train().unwrap();
    let (after, _) = run.trainer.evaluate(&run.train).unwrap();
    gradus_tensor::capture::enable(false);
    assert!(after.is_finite());
    after / before
}

#[test]
fn a_kfac_run_from_the_config_trains() {
    let ratio = trained_loss_ratio(KFAC);
    assert!(
        ratio < 0.5,
        "training loss fell only to {ratio} of its start"
    );
}

#[test]
fn a_natural_gradient_run_from_the_config_trains() {
    let ratio = trained_loss_ratio("name = \"natural_gradient\"\nlr = 0.5\ndamping = 0.01");
    assert!(
        ratio < 0.5,
        "training loss fell only to {ratio} of its start"
    );
}

/// The model's parameters after training `config` with `epochs` into `dir` (resuming its
/// checkpoint when `resume`).
fn params_after(dir: &Path, epochs: usize, resume: bool) -> Vec<f64> {
    let text = config(KFAC).replace("epochs = 8", &format!("epochs = {epochs}"));
    let c = Config::from_toml_str(&text).unwrap();
    let mut run = RunBuilder::new(c)
        .out_dir(dir)
        .resume(resume)
        .quiet(true)
        .build()
        .unwrap();
    run.train().unwrap();
    gradus_tensor::capture::enable(false);
    run.trainer
        .model
        .parameters()
        .iter()
        .flat_map(|p| p.tensor().to_vec_f64())
        .collect()
}

#[test]
fn a_kfac_run_resumed_from_its_checkpoint_ends_where_an_uninterrupted_one_does() {
    // K-FAC's factors are created at its first step: the checkpoint must bring them back
    let (whole, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let uninterrupted = params_after(whole.path(), 4, false);
    params_after(parts.path(), 2, false);
    let resumed = params_after(parts.path(), 4, true);
    assert_eq!(resumed, uninterrupted);
}
