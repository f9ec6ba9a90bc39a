//! The `gradus` binary and the `gradus-run` library build and train the same run: one config,
//! trained once by `gradus train` and once through `RunBuilder`, gives bitwise the same model
//! file and the same metrics (all but the timing column).

mod common;

use common::{model, repo, train};
use gradus_run::{Config, RunBuilder};
use std::path::Path;

/// metrics.csv without its `seconds` column (wall time differs between any two runs).
fn metrics_but_time(run: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let seconds = header
        .iter()
        .position(|h| *h == "seconds")
        .expect("seconds");
    text.lines()
        .map(|l| {
            let mut cells: Vec<&str> = l.split(',').collect();
            cells.remove(seconds);
            cells.join(",")
        })
        .collect()
}

#[test]
fn the_binary_and_the_library_train_the_same_bits() {
    let dir = tempfile::tempdir().unwrap();
    let config = repo().join("examples/breast-cancer.toml");
    // the same absolute data path for both (the binary runs in the repository's root, this test
    // in the crate's folder), so that the model files' metadata match too
    let data = repo().join("data/sklearn/breast_cancer.csv");
    let overrides = [
        format!("data.path={:?}", data.to_str().unwrap()),
        "epochs=3".to_string(),
    ];
    let mut args: Vec<&str> = Vec::new();
    for o in &overrides {
        args.extend(["--set", o.as_str()]);
    }
    let cli = train(dir.path(), config.to_str().unwrap(), "cli", &args);

    let text = std::fs::read_to_string(&config).unwrap();
    let c = Config::parse_file(&text, &config, &overrides).unwrap();
    let lib = dir.path().join("lib");
    let mut run = RunBuilder::new(c)
        .out_dir(&lib)
        .quiet(true)
        .build()
        .unwrap();
    let outcome = run.train().unwrap();

    assert_eq!(outcome.summary.epochs, 3);
    let rows = metrics_but_time(&lib);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows, metrics_but_time(&cli));
    assert_eq!(model(&lib), model(&cli));
    assert_eq!(
        std::fs::read(lib.join("config.toml")).unwrap(),
        std::fs::read(cli.join("config.toml")).unwrap()
    );
}
