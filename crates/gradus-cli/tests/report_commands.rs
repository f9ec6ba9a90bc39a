//! The commands around a run: the console summary at its end, `--overwrite`, `gradus compare`,
//! `gradus sample` and `gradus config --list`.

mod common;
use common::{assert_fails_with, gradus, stderr, stdout, write};

fn train_house_prices(out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "train",
        "examples/house-prices.toml",
        "--out",
        out.to_str().unwrap(),
        "--set",
        "epochs=5",
    ];
    args.extend_from_slice(extra);
    gradus(&args)
}

#[test]
fn a_run_ends_with_a_summary_and_a_second_run_into_its_folder_needs_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hp");
    let o = train_house_prices(&out, &[]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    for needle in [
        "run summary",
        "best epoch",
        "wall time",
        "report.html",
        "gradus eval",
        "--resume",
    ] {
        assert!(err.contains(needle), "summary lacks {needle:?}:\n{err}");
    }
    // a run of a few milliseconds still has a wall time, a throughput and its phases: the
    // epochs' seconds are kept to the microsecond, short times shown in milliseconds
    let wall = err.lines().find(|l| l.contains("wall time")).unwrap();
    assert!(
        wall.contains("samples/s") && !wall.contains(" 0.0 s"),
        "{wall}"
    );
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let seconds: Vec<&str> = metrics
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    assert!(
        seconds
            .iter()
            .all(|s| s.split('.').nth(1).is_some_and(|d| d.len() == 6)),
        "{seconds:?}"
    );
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        report.contains("time in training, by phase"),
        "the report lacks the phases"
    );
    assert_fails_with(
        &train_house_prices(&out, &[]),
        &["already holds a run", "--overwrite", "--resume"],
    );
    // an old run's files do not survive into the new one
    std::fs::write(out.join("best.safetensors"), b"old").unwrap();
    let o = train_house_prices(&out, &["--overwrite", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!out.join("best.safetensors").exists());
    assert!(out.join("steps.csv").exists() && out.join("report.html").exists());
    // --resume continues it, without --overwrite
    let o = gradus(&[
        "train",
        "examples/house-prices.toml",
        "--out",
        out.to_str().unwrap(),
        "--set",
        "epochs=7",
        "--resume",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let steps = std::fs::read_to_string(out.join("steps.csv")).unwrap();
    assert_eq!(
        steps.lines().count(),
        1 + 7,
        "full batch: one step per epoch, the resumed ones appended"
    );
}

#[test]
fn compare_overlays_two_runs_with_their_config_differences() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("lr-0.1"), dir.path().join("lr-0.02"));
    assert!(train_house_prices(&a, &["-q"]).status.success());
    assert!(
        train_house_prices(&b, &["-q", "--set", "optimizer.lr=0.02"])
            .status
            .success()
    );
    let page = dir.path().join("cmp.html");
    let o = gradus(&[
        "compare",
        a.to_str().unwrap(),
        b.join("model.safetensors").to_str().unwrap(),
        "--out",
        page.to_str().unwrap(),
    ]);
    let table = stdout(&o);
    assert!(
        table.contains("optimizer.lr") && table.contains("0.02"),
        "{table}"
    );
    let html = std::fs::read_to_string(&page).unwrap();
    for needle in [
        "id=\"curves\"",
        "id=\"config-diff\"",
        "id=\"final-metrics\"",
        "lr-0.1",
        "lr-0.02",
        "optimizer.lr",
        "<polyline",
    ] {
        assert!(html.contains(needle), "compare page lacks {needle}");
    }
    assert!(!html.contains("<th>seed</th>"), "only the keys that differ");
    assert_fails_with(
        &gradus(&["compare", a.to_str().unwrap(), dir.path().to_str().unwrap()]),
        &["metrics.csv", "run folder"],
    );
}

#[test]
fn sample_continues_a_prompt_reproducibly_and_refuses_other_models() {
    let dir = tempfile::tempdir().unwrap();
    let text = write(
        dir.path(),
        "t.txt",
        &"to be or not to be, that is the question.\n".repeat(30),
    );
    let cfg = write(
        dir.path(),
        "gpt.toml",
        &format!("epochs = 1\n[data]\nformat = \"text\"\npath = {text:?}\nblock_size = 8\n[model]\nkind = \"gpt\"\nwidth = 16\nlayers = 1\nheads = 2\n[optimizer]\nname = \"adamw\"\nlr = 0.01\n[batch]\nsize = 32\n"),
    );
    let out = dir.path().join("gpt");
    let o = gradus(&["train", &cfg, "--out", out.to_str().unwrap(), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let model = out.join("model.safetensors");
    let m = model.to_str().unwrap();
    let args = [
        "sample", m, "--prompt", "to be", "--tokens", "30", "--seed", "3", "--top-k", "5",
    ];
    let first = stdout(&gradus(&args));
    assert_eq!(first, stdout(&gradus(&args)), "seeded");
    assert!(
        first.starts_with("to be") && first.trim_end().chars().count() >= 5,
        "{first:?}"
    );
    assert_fails_with(
        &gradus(&["sample", m, "--prompt", "Zzz"]),
        &["--prompt", "Z"],
    );
    assert_fails_with(&gradus(&["sample", m, "--top-k", "0"]), &["--top-k"]);
    let hp = dir.path().join("hp");
    assert!(train_house_prices(&hp, &["-q"]).status.success());
    assert_fails_with(
        &gradus(&["sample", hp.join("model.safetensors").to_str().unwrap()]),
        &["needs a GPT"],
    );
}

#[test]
fn sample_draws_from_an_lstm_language_model_reproducibly() {
    let dir = tempfile::tempdir().unwrap();
    let text = write(
        dir.path(),
        "t.txt",
        &"to be or not to be, that is the question.\n".repeat(30),
    );
    let cfg = write(
        dir.path(),
        "lstm.toml",
        &format!("epochs = 2\n[data]\nformat = \"text\"\npath = {text:?}\nblock_size = 16\n[model]\nkind = \"lstm_lm\"\nwidth = 16\n[optimizer]\nname = \"adam\"\nlr = 0.01\n[batch]\nsize = 16\n"),
    );
    let out = dir.path().join("lstm");
    let o = gradus(&["train", &cfg, "--out", out.to_str().unwrap(), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let model = out.join("model.safetensors");
    let m = model.to_str().unwrap();
    let args = |seed: &'static str| {
        [
            "sample",
            m,
            "--prompt",
            "to be",
            "--tokens",
            "40",
            "--seed",
            seed,
            "--temperature",
            "1.0",
        ]
    };
    let first = stdout(&gradus(&args("3")));
    assert_eq!(first, stdout(&gradus(&args("3"))), "seeded");
    assert_ne!(
        first,
        stdout(&gradus(&args("4"))),
        "another seed, other text"
    );
    assert!(first.starts_with("to be"), "{first:?}");
    assert_fails_with(
        &gradus(&[
            "export",
            m,
            "--onnx",
            dir.path().join("m.onnx").to_str().unwrap(),
        ]),
        &["lstm_lm", "cannot be exported"],
    );
}

#[test]
fn config_list_gives_every_key_with_type_default_and_allowed_values() {
    let list = stdout(&gradus(&["config", "--list"]));
    for needle in [
        "optimizer.lr",
        "float",
        "(default: required)",
        "batch.mode",
        "(default: \"minibatch\")",
        "allowed: relu, tanh",
    ] {
        assert!(
            list.contains(needle),
            "config --list lacks {needle:?}:\n{list}"
        );
    }
    let md = stdout(&gradus(&["config", "--markdown"]));
    assert!(md.starts_with("| key | type | default | allowed | meaning |"));
    assert_fails_with(&gradus(&["config"]), &["--list"]);
}
