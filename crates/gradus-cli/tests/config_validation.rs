//! `gradus train` refuses an invalid config before it reads any data or writes anything: a
//! non-zero exit, the key and its allowed range in the message, no panic, no run directory. (The
//! full table of refused values is tested on `Config::validate` in `src/config/tests.rs`.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `gradus train examples/house-prices.toml --out OUT --set S...` for each override in `sets`.
fn train_with(out: &Path, sets: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gradus"));
    cmd.args(["train", "examples/house-prices.toml", "--out"])
        .arg(out)
        .current_dir(repo());
    for s in sets {
        cmd.args(["--set", s]);
    }
    cmd.output().expect("gradus runs")
}

/// The run failed with exactly `message` (after `error: <config>: `) and left nothing behind.
fn assert_refused(o: &Output, out: &Path, message: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        err.trim_end(),
        format!("error: examples/house-prices.toml: {message}")
    );
    assert!(
        !out.exists(),
        "a refused config must not create the run directory"
    );
}

#[test]
fn a_zero_hidden_size_is_refused_before_the_run_starts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = train_with(&out, &["model.kind=\"mlp\"", "model.hidden=[8, 0]"]);
    assert_refused(&o, &out, "model.hidden[1]: must be at least 1, got 0");
}

#[test]
fn zero_epochs_is_refused_instead_of_writing_an_untrained_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    for sets in [&["epochs=0"][..], &["epochs=0", "max_steps=10"][..]] {
        let o = train_with(&out, sets);
        assert_refused(
            &o,
            &out,
            "epochs: must be at least 1, got 0 (max_steps only ends a run early, it never extends it)",
        );
    }
}

#[test]
fn a_validation_fraction_of_one_and_a_half_names_the_key_and_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = train_with(&out, &["data.validation=1.5"]);
    assert_refused(
        &o,
        &out,
        "data.validation: must be a finite number in (0, 1), got 1.5",
    );
}

#[test]
fn several_invalid_values_are_listed_together() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = train_with(&out, &["optimizer.lr=-0.1", "batch.drop_last=true"]);
    assert_refused(
        &o,
        &out,
        "2 invalid values:\n  optimizer.lr: must be a finite number >= 0, got -0.1\n  \
         batch.drop_last: is not used by batch.mode = \"full\" (only by minibatch)",
    );
}

#[test]
fn settings_that_only_fail_on_the_data_name_their_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("three.csv");
    std::fs::write(&csv, "x,y\n1,2\n2,4\n3,6\n").unwrap();
    let text = dir.path().join("two.txt");
    std::fs::write(&text, "ab").unwrap();
    let cases = [
        (
            format!("[data]\nformat = \"csv\"\npath = \"{}\"\ntarget = \"y\"\ntask = \"regression\"\nvalidation = 0.9\n[model]\nkind = \"linear\"\n[optimizer]\nname = \"sgd\"\nlr = 0.1\n", csv.display()),
            format!("{}: data.validation: ", csv.display()),
        ),
        (
            format!("[data]\nformat = \"text\"\npath = \"{}\"\nblock_size = 64\n[model]\nkind = \"gpt\"\nwidth = 8\nlayers = 1\nheads = 2\n[optimizer]\nname = \"adam\"\nlr = 0.01\n", text.display()),
            format!("{}: data.block_size: ", text.display()),
        ),
    ];
    for (i, (config, needle)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("c{i}.toml"));
        std::fs::write(&path, config).unwrap();
        let out = dir.path().join(format!("run{i}"));
        let o = Command::new(env!("CARGO_BIN_EXE_gradus"))
            .args([
                "train",
                path.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "-q",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains(needle.as_str()),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}
