//! `optimizer.name = "learned"` with `optimizer.weights` from a config: the path resolves against
//! the config file's folder, a missing or bad weights file is refused naming the key and the file,
//! a run with the shipped weights trains, and a resumed run ends where an uninterrupted one does.

use gradus_run::{Config, RunBuilder};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn config(optimizer: &str, epochs: usize) -> String {
    format!(
        r#"
seed = 0
epochs = {epochs}

[data]
format = "csv"
path = {path:?}
target = "target"
standardize = true

[model]
kind = "mlp"
hidden = [16]

[optimizer]
{optimizer}

[batch]
size = 30
"#,
        path = repo()
            .join("data/sklearn/iris.csv")
            .to_str()
            .expect("a UTF-8 path"),
    )
}

fn learned() -> String {
    let w = repo().join("examples/learned-optimizer.safetensors");
    format!(
        "name = \"learned\"\nlr = 0.01\nweights = {:?}",
        w.to_str().unwrap()
    )
}

#[test]
fn the_weights_path_resolves_against_the_config_files_folder() {
    let text = config(
        "name = \"learned\"\nlr = 0.01\nweights = \"w/learned.safetensors\"",
        1,
    );
    let c = Config::parse_file(&text, Path::new("/somewhere/configs/run.toml"), &[]).unwrap();
    assert_eq!(
        c.optimizer.weights.as_deref(),
        Some("/somewhere/configs/w/learned.safetensors")
    );
}

#[test]
fn missing_weights_and_foreign_keys_are_refused_naming_the_key() {
    let e = Config::from_toml_str(&config("name = \"learned\"\nlr = 0.01", 1))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("optimizer.weights") && e.contains("required"),
        "{e}"
    );
    let e = Config::from_toml_str(&config(
        "name = \"adam\"\nlr = 0.01\nweights = \"w.safetensors\"",
        1,
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("optimizer.weights") && e.contains("learned"),
        "{e}"
    );
}

#[test]
fn a_missing_weights_file_fails_the_build_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let c = Config::from_toml_str(&config(
        "name = \"learned\"\nlr = 0.01\nweights = \"/nonexistent/l2o.safetensors\"",
        1,
    ))
    .unwrap();
    let e = RunBuilder::new(c)
        .out_dir(dir.path().join("run"))
        .quiet(true)
        .build()
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("optimizer.weights") && e.contains("/nonexistent/l2o.safetensors"),
        "{e}"
    );
}

/// The model's parameters after training `epochs` into `dir` (resuming its checkpoint when
/// `resume`), and the training loss before and after.
fn train(dir: &Path, epochs: usize, resume: bool) -> (Vec<f64>, f64, f64) {
    let c = Config::from_toml_str(&config(&learned(), epochs)).unwrap();
    let mut run = RunBuilder::new(c)
        .out_dir(dir)
        .resume(resume)
        .quiet(true)
        .build()
        .unwrap();
    let (before, _) = run.trainer.evaluate(&run.train).unwrap();
    run.train().unwrap();
    let (after, _) = run.trainer.evaluate(&run.train).unwrap();
    let params = run
        .trainer
        .model
        .parameters()
        .iter()
        .flat_map(|p| p.tensor().to_vec_f64())
        .collect();
    (params, before, after)
}

#[test]
fn a_learned_run_trains_and_resumes_bit_for_bit() {
    let (whole, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (uninterrupted, before, after) = train(whole.path(), 6, false);
    assert!(after < 0.5 * before, "training loss {before} -> {after}");
    train(parts.path(), 3, false);
    let (resumed, _, _) = train(parts.path(), 6, true);
    assert_eq!(resumed, uninterrupted);
}

#[test]
fn gradus_config_list_shows_the_weights_key() {
    let keys = gradus_run::config::keys::keys();
    let w = keys
        .iter()
        .find(|k| k.key == "optimizer.weights")
        .expect("listed");
    assert_eq!((w.kind.as_str(), w.default.as_str()), ("string", "unset"));
    assert!(w.allowed.contains("learned"), "{}", w.allowed);
}
