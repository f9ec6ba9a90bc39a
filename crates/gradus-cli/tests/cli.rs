//! The `gradus` command as a user meets it: help, errors that name what is wrong (never a panic),
//! the run directory, divergence, and resume after a kill.

mod common;

use common::{absolute_data, assert_fails_with, example, gradus, repo, stderr, train, write};

use std::path::Path;
use std::process::Command;

const SMALL_MNIST: &str = r#"
seed = 3
epochs = 4
[data]
format = "mnist"
path = "data/mnist"
limit = 3000
validation = 0.1
[model]
kind = "mlp"
hidden = [64]
[optimizer]
name = "sgd"
lr = 0.05
momentum = 0.9
[batch]
size = 64
"#;

#[test]
fn every_subcommand_has_help() {
    for sub in ["train", "eval", "predict", "inspect", "analyze"] {
        let o = gradus(&[sub, "--help"]);
        assert!(o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Usage"),
            "{sub}"
        );
    }
}

#[test]
fn config_errors_name_the_key_or_value_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(repo().join("examples/breast-cancer.toml")).unwrap();
    let typo = write(
        dir.path(),
        "typo.toml",
        &base.replace("lr = 0.05", "lr = 0.05\nlrr = 0.1"),
    );
    assert_fails_with(&gradus(&["train", &typo]), &["unknown field `lrr`", "line"]);
    let bad = write(dir.path(), "bad.toml", &base.replace("\"sgd\"", "\"sgdd\""));
    assert_fails_with(
        &gradus(&["train", &bad, "--out", dir.path().to_str().unwrap()]),
        &["optimizer.name", "sgdd"],
    );
    let ok = repo().join("examples/breast-cancer.toml");
    assert_fails_with(
        &gradus(&[
            "train",
            ok.to_str().unwrap(),
            "--set",
            "batch.mode=\"diagonal\"",
        ]),
        &["batch.mode", "diagonal"],
    );
    assert_fails_with(
        &gradus(&["train", "no/such/config.toml"]),
        &["no/such/config.toml"],
    );
}

#[test]
fn data_errors_name_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "prices.csv", "area,price\n100,20\n120,x7\n");
    let cfg = write(
        dir.path(),
        "c.toml",
        &format!("[data]\nformat = \"csv\"\npath = \"{csv}\"\ntarget = \"price\"\ntask = \"regression\"\n[model]\nkind = \"linear\"\n[optimizer]\nname = \"sgd\"\nlr = 0.1\n"),
    );
    assert_fails_with(
        &gradus(&["train", &cfg, "--out", dir.path().to_str().unwrap()]),
        &["prices.csv:3", "column 2", "price", "x7"],
    );
    let missing = cfg.replace("c.toml", "m.toml");
    std::fs::write(
        &missing,
        std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("prices.csv", "absent.csv"),
    )
    .unwrap();
    assert_fails_with(
        &gradus(&["train", &missing, "--out", dir.path().to_str().unwrap()]),
        &["absent.csv"],
    );
}

#[test]
fn a_run_writes_its_directory_and_the_model_can_be_inspected_evaluated_and_used() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = gradus(&[
        "train",
        "examples/breast-cancer.toml",
        "--out",
        out.to_str().unwrap(),
        "--set",
        "epochs=5",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "metrics.csv",
        "layers.csv",
        "model.safetensors",
        "config.toml",
        "summary.json",
        "report.html",
    ] {
        assert!(out.join(f).exists(), "missing {f}");
    }
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert!(
        metrics.starts_with("epoch,step,train_loss,val_loss,grad_norm,lr"),
        "{metrics}"
    );
    assert_eq!(metrics.lines().count(), 6);
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(
        config.contains("epochs = 5"),
        "resolved config keeps the override:\n{config}"
    );
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.matches("<svg").count() >= 3);
    let model = out.join("model.safetensors");
    let inspect = gradus(&["inspect", model.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(
        text.contains("weight") && text.contains("[1, 30]") && text.contains("31 parameters"),
        "{text}"
    );
    let eval = gradus(&[
        "eval",
        model.to_str().unwrap(),
        "--data",
        "data/sklearn/breast_cancer.csv",
    ]);
    assert!(
        String::from_utf8_lossy(&eval.stdout).contains("accuracy"),
        "{}",
        stderr(&eval)
    );
    // the checkpoint is a model file too: the same model at the run's end, the same evaluation
    let checkpoint = out.join("checkpoint.safetensors");
    let eval_checkpoint = gradus(&[
        "eval",
        checkpoint.to_str().unwrap(),
        "--data",
        "data/sklearn/breast_cancer.csv",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&eval_checkpoint.stdout),
        String::from_utf8_lossy(&eval.stdout),
        "{}",
        stderr(&eval_checkpoint)
    );
    let rows = write(
        dir.path(),
        "rows.csv",
        &std::fs::read_to_string(repo().join("data/sklearn/breast_cancer.csv"))
            .unwrap()
            .lines()
            .take(4)
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let pred = gradus(&["predict", model.to_str().unwrap(), "--input", &rows]);
    let text = String::from_utf8_lossy(&pred.stdout);
    assert_eq!(text.lines().count(), 4, "{text}{}", stderr(&pred));
    assert!(text.starts_with("prediction,p1"));
}

#[test]
fn divergence_stops_with_the_step_the_layer_and_a_hint_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let cfg = write(dir.path(), "c.toml", &absolute_data(SMALL_MNIST));
    let first = gradus(&[
        "train",
        &cfg,
        "--out",
        out.to_str().unwrap(),
        "--set",
        "epochs=1",
        "-q",
    ]);
    assert!(first.status.success(), "{}", stderr(&first));
    let checkpoint = std::fs::read(out.join("checkpoint.safetensors")).unwrap();
    let o = gradus(&[
        "train",
        &cfg,
        "--out",
        out.to_str().unwrap(),
        "--resume",
        "--set",
        "optimizer.lr=1e9",
        "-q",
    ]);
    assert_fails_with(
        &o,
        &[
            "diverged",
            "step",
            "layer `",
            "lower the learning rate",
            "checkpoint",
        ],
    );
    assert_eq!(
        std::fs::read(out.join("checkpoint.safetensors")).unwrap(),
        checkpoint,
        "the good checkpoint must survive"
    );
}

fn model_tensors(run: &Path) -> Vec<u8> {
    let bytes = std::fs::read(run.join("model.safetensors")).unwrap();
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    bytes[8 + header..].to_vec()
}

#[test]
fn resume_gives_bitwise_identical_weights_after_a_stop_and_after_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "c.toml", &absolute_data(SMALL_MNIST));
    let run = |name: &str, extra: &[&str]| train(dir.path(), &cfg, name, extra);
    let straight = run("straight", &[]);
    // stopped after two epochs, then resumed
    run("split", &["--set", "epochs=2"]);
    let split = run("split", &["--resume"]);
    assert_eq!(model_tensors(&straight), model_tensors(&split));
    // killed mid-run (SIGKILL once the first checkpoint exists), then resumed
    let out = dir.path().join("killed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gradus"))
        .args([
            "train",
            &cfg,
            "--out",
            out.to_str().unwrap(),
            "-q",
            "--set",
            "epochs=40",
        ])
        .current_dir(repo())
        .spawn()
        .unwrap();
    while !out.join("checkpoint.safetensors").exists() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done = std::fs::read_to_string(out.join("metrics.csv"))
        .map(|m| m.lines().count() - 1)
        .unwrap_or(0);
    assert!(done < 40, "the run finished before it could be killed");
    let o = gradus(&[
        "train",
        &cfg,
        "--out",
        out.to_str().unwrap(),
        "-q",
        "--resume",
        "--set",
        "epochs=40",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let reference = run("straight40", &["--set", "epochs=40"]);
    assert_eq!(model_tensors(&reference), model_tensors(&out));
}

#[test]
fn resume_continues_reduce_on_plateau_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "{}\n[schedule]\nname = \"plateau\"\npatience = 1\ngamma = 0.5\n",
        example("breast-cancer.toml").replace("epochs = 60", "epochs = 12")
    );
    let cfg = write(dir.path(), "plateau.toml", &cfg);
    let train = |name: &str, extra: &[&str]| train(dir.path(), &cfg, name, extra);
    let straight = train("straight", &[]);
    train("split", &["--set", "epochs=5"]);
    let split = train("split", &["--resume"]);
    let lrs = |run: &Path| {
        std::fs::read_to_string(run.join("metrics.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(5).unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(lrs(&straight), lrs(&split), "learning rates per epoch");
    assert!(
        lrs(&straight)
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1,
        "the plateau rule must have fired"
    );
    assert_eq!(model_tensors(&straight), model_tensors(&split));
}
