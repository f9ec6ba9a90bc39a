//! Helpers shared by the tests that run the `gradus` binary.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's root: the binary runs there, so example configs and `data/` resolve.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `gradus ARGS...` in the repository's root and waits for it.
pub fn gradus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradus"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("gradus runs")
}

/// What a run printed on standard error.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What a successful run printed on standard output.
pub fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", stderr(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A failed run: non-zero exit, a message containing every `needle`, and no panic; returns the
/// message.
pub fn assert_fails_with(o: &Output, needles: &[&str]) -> String {
    let err = stderr(o);
    assert!(
        !o.status.success(),
        "expected failure, got success; stderr:\n{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "panic:\n{err}"
    );
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}:\n{err}");
    }
    err
}

/// Writes `text` to `dir/name`; returns the path as a string for the command line.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

/// Runs `gradus train CONFIG --out DIR/NAME -q EXTRA...`, which must succeed; returns the run dir.
pub fn train(dir: &Path, config: &str, name: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let mut args = vec!["train", config, "--out", out.to_str().unwrap(), "-q"];
    args.extend_from_slice(extra);
    let o = gradus(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

/// The bytes of a run's model file.
pub fn model(run: &Path) -> Vec<u8> {
    std::fs::read(run.join("model.safetensors")).unwrap()
}

/// Config text with its data paths (`"data/..."`, `"../data/..."` as the examples and tests
/// write them) made absolute, so that a copy written to a temporary folder finds the repository's
/// data: relative paths in a config resolve against the config's own folder.
pub fn absolute_data(text: &str) -> String {
    let data = format!("\"{}/", repo().join("data").display());
    text.replace("\"../../data/", &data)
        .replace("\"../data/", &data)
        .replace("\"data/", &data)
}

/// The example config `examples/NAME` as text, its data paths absolute ([`absolute_data`]).
pub fn example(name: &str) -> String {
    absolute_data(&std::fs::read_to_string(repo().join("examples").join(name)).unwrap())
}
