//! Relative data paths in a config resolve against the config file's folder, not the working
//! directory (as Cargo and docker-compose resolve theirs): a config in a subfolder trains from
//! anywhere, its run folder's `config.toml` and model file hold the resolved paths (so `eval` and
//! `--resume` work from any folder), and a missing file is named with its key and resolved path.

mod common;

use common::{assert_fails_with, stderr};
use std::path::Path;
use std::process::{Command, Output};

/// `gradus ARGS...` run in `cwd`.
fn gradus_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradus"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("gradus runs")
}

/// `project/data/rows.csv` and `project/configs/line.toml` naming it `../data/rows.csv` (and the
/// same file as test data, `test_path = "../data/rows.csv"`).
fn project(root: &Path) -> std::path::PathBuf {
    let data = root.join("project/data");
    let configs = root.join("project/configs");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&configs).unwrap();
    let rows: String = (0..30)
        .map(|i| format!("{},{}\n", i as f64 / 10.0, 2.0 * i as f64 / 10.0 + 1.0))
        .collect();
    std::fs::write(data.join("rows.csv"), format!("x,y\n{rows}")).unwrap();
    let config = configs.join("line.toml");
    std::fs::write(
        &config,
        "epochs = 2\n[data]\nformat = \"csv\"\npath = \"../data/rows.csv\"\ntest_path = \"../data/rows.csv\"\n\
         target = \"y\"\ntask = \"regression\"\n[model]\nkind = \"linear\"\n[optimizer]\nname = \"sgd\"\nlr = 0.05\n\
         [batch]\nsize = 10\n",
    )
    .unwrap();
    config
}

#[test]
fn a_config_in_a_subfolder_trains_from_another_folder_and_its_run_evaluates_from_a_third() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    // from the folder above the project: the config's path is relative, and so is its data's
    let o = gradus_in(
        dir.path(),
        &["train", "project/configs/line.toml", "--out", "run", "-q"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let run = dir.path().join("run");
    let saved = std::fs::read_to_string(run.join("config.toml")).unwrap();
    let data = dir.path().join("project/data/rows.csv");
    let absolute = std::path::absolute(&data).unwrap();
    assert!(
        saved.contains(&format!("path = {:?}", absolute.to_str().unwrap())),
        "the run's config.toml holds the resolved path:\n{saved}"
    );
    // eval from another folder reads the model's test data by its resolved path
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let model = run.join("model.safetensors");
    let o = gradus_in(&elsewhere, &["eval", model.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("samples 30"));
    // and the run resumes from there with the same config
    let config = dir.path().join("project/configs/line.toml");
    let o = gradus_in(
        &elsewhere,
        &[
            "train",
            config.to_str().unwrap(),
            "--out",
            run.to_str().unwrap(),
            "--resume",
            "--set",
            "epochs=3",
            "-q",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_missing_data_file_is_named_with_its_key_and_resolved_path() {
    let dir = tempfile::tempdir().unwrap();
    let config = project(dir.path());
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "test_path = \"../data/rows.csv\"",
            "test_path = \"../data/absent.csv\"",
        ),
    )
    .unwrap();
    let resolved = std::path::absolute(dir.path().join("project/data/absent.csv")).unwrap();
    assert_fails_with(
        &gradus_in(
            dir.path(),
            &["train", "project/configs/line.toml", "--out", "run", "-q"],
        ),
        &["data.test_path", resolved.to_str().unwrap(), "no such file"],
    );
    // a path given with --set resolves against the working directory, as command lines do
    let o = gradus_in(
        &dir.path().join("project"),
        &[
            "train",
            "configs/line.toml",
            "--set",
            "data.test_path=\"data/rows.csv\"",
            "--out",
            "run",
            "-q",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}
