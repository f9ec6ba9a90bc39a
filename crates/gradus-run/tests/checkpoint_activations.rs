//! `model.checkpoint_activations = true` on a GPT run: the same losses bit for bit as the plain
//! run (the blocks are recomputed with the same ops in the same order), and less peak tensor
//! memory in `summary.json`'s `peak_memory_bytes`.

use gradus_run::{Config, RunBuilder};
use std::path::Path;

/// A small GPT on a generated text, with or without checkpointed blocks. Eight layers: the
/// run's peak also covers its no-grad evaluation passes, which checkpointing does not change,
/// so the blocks' stored activations must outweigh them for the peak to show the saving.
fn config(text: &Path, checkpoint: bool) -> Config {
    let toml = format!(
        r#"
seed = 1
epochs = 1
max_steps = 4

[data]
format = "text"
path = {path:?}
block_size = 32

[model]
kind = "gpt"
width = 32
layers = 8
heads = 2
checkpoint_activations = {checkpoint}

[optimizer]
name = "adamw"
lr = 0.003

[batch]
size = 16
"#,
        path = text.to_str().expect("a UTF-8 path"),
    );
    Config::from_toml_str(&toml).expect("a valid config")
}

/// Trains the run; returns metrics.csv and summary.json's `peak_memory_bytes`.
fn train(dir: &Path, text: &Path, checkpoint: bool) -> (String, u64) {
    let out = dir.join(format!("run-{checkpoint}"));
    let mut run = RunBuilder::new(config(text, checkpoint))
        .out_dir(&out)
        .quiet(true)
        .build()
        .unwrap();
    run.train().unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let peak = summary["peak_memory_bytes"]
        .as_u64()
        .expect("peak_memory_bytes");
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    // drop the wall-clock column(s): only the numbers training computes must agree
    let header: Vec<&str> = metrics.lines().next().unwrap().split(',').collect();
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !header[i].contains("time") && !header[i].contains("second"))
        .collect();
    let rows = metrics
        .lines()
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            keep.iter().map(|&i| cells[i]).collect::<Vec<_>>().join(",")
        })
        .collect::<Vec<_>>()
        .join("\n");
    (rows, peak)
}

#[test]
fn checkpointed_gpt_blocks_train_the_same_bits_in_less_memory() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("book.txt");
    let line = "To be, or not to be, that is the question: whether 'tis nobler in the mind.\n";
    std::fs::write(&text, line.repeat(40)).unwrap();
    let (plain, plain_peak) = train(dir.path(), &text, false);
    let (checkpointed, checkpointed_peak) = train(dir.path(), &text, true);
    assert_eq!(plain, checkpointed);
    assert!(plain.lines().count() >= 2, "{plain}");
    assert!(
        checkpointed_peak < plain_peak,
        "checkpointed {checkpointed_peak} vs plain {plain_peak} bytes"
    );
}
