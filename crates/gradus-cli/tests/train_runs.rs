//! `gradus train` runs that must stop, resume and report exactly: zero-batch settings, epoch means
//! over samples, resume inside an epoch, f64 resume, Ctrl-C, step checkpoints and kills.

mod common;

use common::{example, gradus, model, repo, stderr, train, write};

use std::path::Path;
use std::process::Command;

/// The breast-cancer example without its validation split: 569 rows.
fn breast_cancer(dir: &Path, extra: &str) -> String {
    let text = example("breast-cancer.toml");
    let text = text.replace("validation = 0.2\n", "");
    assert!(!text.contains("validation"));
    write(dir, "bc.toml", &format!("{extra}\n{text}"))
}

fn regression_config(dir: &Path, csv: &str, batch: &str) -> String {
    let data = write(dir, "d.csv", csv);
    write(
        dir,
        "c.toml",
        &format!("epochs = 1\n[data]\nformat = \"csv\"\npath = \"{data}\"\ntarget = \"y\"\ntask = \"regression\"\n[model]\nkind = \"linear\"\n[optimizer]\nname = \"sgd\"\nlr = 0.0\n[batch]\n{batch}\n"),
    )
}

#[test]
fn zero_batches_is_an_error_with_the_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..10).map(|i| format!("{i},{}\n", 2 * i)).collect();
    let cfg = regression_config(
        dir.path(),
        &format!("x,y\n{rows}"),
        "size = 32\ndrop_last = true",
    );
    let out = dir.path().join("run");
    let o = gradus(&["train", &cfg, "--out", out.to_str().unwrap(), "-q"]);
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    for n in [
        "10 training samples",
        "batch.size = 32",
        "drop_last = true",
        "0 batches",
    ] {
        assert!(err.contains(n), "{n:?} in {err}");
    }
    assert!(!out.join("model.safetensors").exists());
}

#[test]
fn the_epoch_loss_is_the_per_sample_mean_as_eval_prints_it() {
    // y = 0, 0, 30 at x = 0, lr 0, batches of 2 and 1: 306.19, not the mean of batch means 229.67
    let dir = tempfile::tempdir().unwrap();
    let cfg = regression_config(dir.path(), "x,y\n0,0\n0,0\n0,30\n", "size = 2");
    let run = train(dir.path(), &cfg, "run", &[]);
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let loss: f64 = metrics
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert!((loss - 306.19).abs() < 0.005, "{metrics}");
    let data = dir.path().join("d.csv");
    let eval = gradus(&[
        "eval",
        run.join("model.safetensors").to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&eval.stdout).into_owned();
    let printed: f64 = text
        .split("loss ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((loss - printed).abs() < 1e-4, "{loss} vs eval {text}");
}

#[test]
fn resume_after_max_steps_inside_an_epoch_is_bitwise_equal() {
    // 569 rows in batches of 64: 9 steps per epoch; step 5 and step 16 are inside epochs 1 and 2
    let dir = tempfile::tempdir().unwrap();
    let cfg = breast_cancer(dir.path(), "");
    let run = |name: &str, steps: &str, resume: bool| {
        let mut args = vec!["--set", "seed=1", "--set", "batch.size=64", "--set", steps];
        if resume {
            args.push("--resume");
        }
        train(dir.path(), &cfg, name, &args)
    };
    let straight = run("straight", "max_steps=16", false);
    run("split", "max_steps=5", false);
    let split = run("split", "max_steps=16", true);
    assert_eq!(model(&straight), model(&split));
    let summary = std::fs::read_to_string(split.join("summary.json")).unwrap();
    assert!(summary.contains("\"steps\": 16"), "{summary}");
}

#[test]
fn f64_runs_resume_bit_for_bit() {
    // f64 optimizer state goes through JSON: the shipped binary must parse it exactly
    let dir = tempfile::tempdir().unwrap();
    let cfg = breast_cancer(dir.path(), "dtype = \"f64\"");
    let cfg = write(
        dir.path(),
        "f64.toml",
        &std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("kind = \"logistic\"", "kind = \"mlp\"\nhidden = [128, 128]")
            .replace(
                "name = \"sgd\"\nlr = 0.05\nmomentum = 0.9",
                "name = \"adam\"\nlr = 0.001",
            ),
    );
    let straight = train(dir.path(), &cfg, "straight", &["--set", "epochs=4"]);
    train(dir.path(), &cfg, "split", &["--set", "epochs=2"]);
    let split = train(
        dir.path(),
        &cfg,
        "split",
        &["--set", "epochs=4", "--resume"],
    );
    assert_eq!(model(&straight), model(&split));
}

/// Waits until `path` exists (the run has got that far), at most a few minutes.
fn wait_for(path: &Path, child: &mut std::process::Child) {
    for _ in 0..60_000 {
        if path.exists() {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the run ended ({status}) before {} appeared",
                path.display()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("{} never appeared", path.display());
}

fn spawn(config: &str, out: &Path, extra: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_gradus"))
        .args(["train", config, "--out", out.to_str().unwrap(), "-q"])
        .args(extra)
        .current_dir(repo())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[cfg(unix)]
#[test]
fn ctrl_c_finishes_the_step_writes_everything_and_says_how_to_resume() {
    stop_by_signal_then_resume("INT", 130, "interrupted by SIGINT");
}

#[cfg(unix)]
#[test]
fn a_closed_terminal_stops_the_run_as_ctrl_c_does() {
    stop_by_signal_then_resume("HUP", 129, "interrupted by SIGHUP (terminal closed)");
}

/// Sends `signal` once the run has a metrics file; the run must stop after its step with exit
/// status `code`, say `said` and how to resume, write every file, and resume exactly.
#[cfg(unix)]
fn stop_by_signal_then_resume(signal: &str, code: i32, said: &str) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = breast_cancer(dir.path(), "");
    let out = dir.path().join("run");
    let mut child = spawn(&cfg, &out, &["--set", "epochs=100000"]);
    wait_for(&out.join("metrics.csv"), &mut child);
    let kill = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{err}");
    assert!(err.contains(said), "{err}");
    let resume = format!("--out {} -q --set epochs=100000 --resume", out.display());
    assert!(err.contains(&resume) && err.contains("bc.toml"), "{err}");
    for f in [
        "checkpoint.safetensors",
        "model.safetensors",
        "report.html",
        "metrics.csv",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["stopped"], "interrupted");
    // resume to a few epochs past the interruption: the same model as a run straight there
    let epochs = format!("epochs={}", summary["epochs"].as_u64().unwrap() + 2);
    let resumed = train(dir.path(), &cfg, "run", &["--set", &epochs, "--resume"]);
    let straight = train(dir.path(), &cfg, "straight", &["--set", &epochs]);
    assert_eq!(model(&straight), model(&resumed));
}

#[test]
fn step_checkpoints_survive_a_kill_inside_the_epoch() {
    // one sample per step, 569 steps per epoch, a checkpoint every 50: kill once one exists
    let dir = tempfile::tempdir().unwrap();
    let cfg = breast_cancer(dir.path(), "");
    // stochastic mode takes no batch.size
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("\nsize = 32\n"));
    std::fs::write(
        &cfg,
        text.replace("\nsize = 32\n", "\nmode = \"stochastic\"\n"),
    )
    .unwrap();
    let set = [
        "--set",
        "optimizer.lr=0.001",
        "--set",
        "epochs=2",
        "--set",
        "train.checkpoint_every_steps=50",
    ];
    let out = dir.path().join("killed");
    let mut child = spawn(&cfg, &out, &set);
    wait_for(&out.join("checkpoint.safetensors"), &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    let finished = std::fs::read_to_string(out.join("metrics.csv")).is_ok();
    assert!(
        !finished,
        "the first epoch ended before the kill: no mid-epoch checkpoint tested"
    );
    let resumed = train(
        dir.path(),
        &cfg,
        "killed",
        &[&set[..], &["--resume"]].concat(),
    );
    let straight = train(dir.path(), &cfg, "straight", &set);
    assert_eq!(model(&straight), model(&resumed));
}

#[test]
fn resume_refuses_a_changed_config_and_warns_when_the_schedule_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = breast_cancer(dir.path(), "");
    let cosine = ["--set", "schedule.name=\"cosine\"", "--set", "epochs=2"];
    let run = train(dir.path(), &cfg, "run", &cosine);
    let out = run.to_str().unwrap();
    let resume = |extra: &[&str]| {
        let mut args = vec!["train", cfg.as_str(), "--out", out, "-q", "--resume"];
        args.extend_from_slice(&cosine[..2]);
        args.extend_from_slice(extra);
        gradus(&args)
    };
    // another seed or momentum is another training: refused, naming both values
    let o = resume(&[
        "--set",
        "epochs=2",
        "--set",
        "seed=7",
        "--set",
        "optimizer.momentum=0.5",
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("seed: 0 in the run being resumed, now 7"),
        "{err}"
    );
    assert!(
        err.contains("optimizer.momentum: 0.9 in the run being resumed, now 0.5"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // a lower learning rate may resume (what the divergence hint suggests), with a warning
    let o = resume(&["--set", "epochs=2", "--set", "optimizer.lr=0.01"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("resuming with optimizer.lr = 0.01 (the run used 0.05 so far)"));
    // a longer run may resume; the cosine is rebuilt for its new length, and the user hears so
    let o = resume(&["--set", "epochs=4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("was 36 steps long and is now 72: its learning-rate schedule is rebuilt"),
        "{err}"
    );
}

#[test]
fn early_stopping_says_so_on_the_console() {
    // lr 0: the validation loss never improves after epoch 1, so patience 2 stops after epoch 3
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..20).map(|i| format!("{i},{}\n", 3 * i)).collect();
    let data = write(dir.path(), "d.csv", &format!("x,y\n{rows}"));
    let cfg = write(
        dir.path(),
        "c.toml",
        &format!("epochs = 10\n[data]\nformat = \"csv\"\npath = \"{data}\"\ntarget = \"y\"\ntask = \"regression\"\nvalidation = 0.25\n[model]\nkind = \"linear\"\n[optimizer]\nname = \"sgd\"\nlr = 0.0\n[batch]\nsize = 5\n[train]\nearly_stopping_patience = 2\n"),
    );
    let out = dir.path().join("run");
    let o = gradus(&["train", &cfg, "--out", out.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("early stopping after epoch 3: the validation loss last improved at epoch 1"),
        "{err}"
    );
}
