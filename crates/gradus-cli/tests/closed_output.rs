//! A reader that goes away (`gradus train CONFIG 2>&1 | head`, `gradus predict ... | head -1`)
//! ends the printing quietly, as with `cat` and `grep`, and never the work: training still
//! writes its whole run directory and exits 0.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Starts gradus with standard output on a pipe whose read end is closed at once, so that every
/// write to it fails with a broken pipe; standard error too when `close_stderr`, else captured.
fn spawn_with_closed_stdout(args: &[&str], close_stderr: bool) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gradus"))
        .args(args)
        .current_dir(repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gradus starts");
    drop(child.stdout.take());
    if close_stderr {
        drop(child.stderr.take());
    }
    child
}

/// Trains the house-prices example (200 epochs, a line each) into `out` with both standard
/// output and standard error closed.
fn train_into_closed_pipes(out: &Path) {
    let mut child = spawn_with_closed_stdout(
        &[
            "train",
            "examples/house-prices.toml",
            "--out",
            out.to_str().unwrap(),
        ],
        true,
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn training_into_a_closed_pipe_finishes_the_run_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    train_into_closed_pipes(&out);
    for f in [
        "model.safetensors",
        "checkpoint.safetensors",
        "metrics.csv",
        "summary.json",
        "report.html",
    ] {
        assert!(out.join(f).exists(), "missing {f}");
    }
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 201, "every epoch ran");
}

#[test]
fn inspect_eval_and_predict_into_a_closed_pipe_end_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train_into_closed_pipes(&run);
    let model = run.join("model.safetensors");
    let rows = dir.path().join("rows.csv");
    std::fs::copy(repo().join("data/house-prices.csv"), &rows).unwrap();
    let (model, rows) = (model.to_str().unwrap(), rows.to_str().unwrap());
    for args in [
        &["inspect", model][..],
        &["eval", model, "--data", rows][..],
        &["predict", model, "--input", rows][..],
    ] {
        let o = spawn_with_closed_stdout(args, false)
            .wait_with_output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{args:?}: {}\n{err}", o.status);
        assert!(err.is_empty(), "{args:?} printed to stderr:\n{err}");
    }
}
