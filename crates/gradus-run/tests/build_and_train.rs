//! A run built and trained from a TOML string with the library alone (no `gradus` binary): the
//! loss falls, the run directory holds what `gradus train` writes, and the model file read back
//! gives the trained model's loss exactly. (`gradus-cli/tests/library_run.rs` checks that the
//! binary trains the same bits.)

use gradus_run::{load_model, Config, RunBuilder, RunError};
use std::path::{Path, PathBuf};

/// The shipped house-price data (50 rows: area → price).
fn house_prices() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/house-prices.csv")
}

/// Linear regression by mini-batch SGD with a held-out validation part and a cosine schedule.
fn config(epochs: usize) -> Config {
    let text = format!(
        r#"
seed = 3
epochs = {epochs}

[data]
format = "csv"
path = {path:?}
target = "price"
features = ["area"]
task = "regression"
validation = 0.2
standardize = true

[model]
kind = "linear"

[optimizer]
name = "sgd"
lr = 0.05
momentum = 0.9

[schedule]
name = "cosine"

[batch]
size = 8
"#,
        path = house_prices().to_str().expect("a UTF-8 path"),
    );
    Config::from_toml_str(&text).expect("a valid config")
}

/// The `train_loss` column of a run's metrics.csv.
fn train_losses(run: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(run.join("metrics.csv")).expect("metrics.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "train_loss")
        .expect("column");
    lines
        .map(|l| {
            l.split(',')
                .nth(col)
                .expect("value")
                .parse()
                .expect("number")
        })
        .collect()
}

#[test]
fn a_run_built_from_a_toml_string_trains_and_writes_its_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut run = RunBuilder::new(config(6))
        .out_dir(&out)
        .quiet(true)
        .build()
        .unwrap();
    // 40 training rows after holding out 10, in batches of 8
    assert_eq!(
        (run.train.len(), run.val.as_ref().map(|v| v.len())),
        (40, Some(10))
    );
    assert_eq!(run.steps_per_epoch, 5);
    assert!(run.warnings.is_empty(), "{:?}", run.warnings);
    let (before, _) = run.trainer.evaluate(&run.train).unwrap();
    let outcome = run.train().unwrap();
    assert_eq!((outcome.summary.epochs, outcome.summary.steps), (6, 30));
    assert!(!outcome.interrupted());
    let (after, _) = run.trainer.evaluate(&run.train).unwrap();
    assert!(after < 0.05 * before, "training loss {before} -> {after}");
    let losses = train_losses(&out);
    assert_eq!(losses.len(), 6);
    assert!(losses[5] < losses[0], "{losses:?}");
    for file in [
        "config.toml",
        "model.safetensors",
        "summary.json",
        "report.html",
    ] {
        assert!(out.join(file).exists(), "{file}");
    }
    // the model file rebuilds the trained model: the same loss, bit for bit
    let (model, spec) = load_model(&out.join("model.safetensors")).unwrap();
    assert_eq!(spec.features, ["area"]);
    run.trainer.model = model;
    assert_eq!(run.trainer.evaluate(&run.train).unwrap().0, after);
}

#[test]
fn resuming_with_a_changed_config_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let build = |c: Config| RunBuilder::new(c).out_dir(&out).quiet(true);
    build(config(2)).build().unwrap().train().unwrap();
    let mut changed = config(2);
    changed.seed = 4;
    let err = build(changed).resume(true).build().err().expect("refused");
    assert!(matches!(err, RunError::Resume(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("seed: 3 in the run being resumed, now 4"),
        "{err}"
    );
    // a longer run may resume: the cosine is rebuilt for it, and a warning says so
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let sink = std::rc::Rc::clone(&seen);
    let mut run = build(config(4))
        .resume(true)
        .on_warning(move |w| sink.borrow_mut().push(w.to_string()))
        .build()
        .unwrap();
    assert_eq!(*seen.borrow(), run.warnings);
    assert!(
        run.warnings
            .iter()
            .any(|w| w.contains("was 10 steps long and is now 20")),
        "{:?}",
        run.warnings
    );
    let outcome = run.train().unwrap();
    assert_eq!((outcome.summary.epochs, outcome.summary.steps), (4, 20));
}

#[test]
fn resuming_longer_warns_only_when_the_schedule_depends_on_the_run_length() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let constant = |epochs: usize| {
        let mut c = config(epochs);
        c.schedule = None;
        RunBuilder::new(c).out_dir(&out).quiet(true)
    };
    constant(2).build().unwrap().train().unwrap();
    // a constant learning rate is the same schedule at any length: nothing to warn about
    let run = constant(4).resume(true).build().unwrap();
    assert!(
        !run.warnings.iter().any(|w| w.contains("steps long")),
        "{:?}",
        run.warnings
    );
}

#[test]
fn a_declared_state_dtype_holds_the_optimizer_state_and_may_not_change_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let with_state = |dtype: Option<&str>| {
        let mut c = config(2);
        c.optimizer.state_dtype = dtype.map(str::to_string);
        RunBuilder::new(c).out_dir(&out).quiet(true)
    };
    let mut run = with_state(Some("f64")).build().unwrap();
    run.train().unwrap();
    let opt = &run.trainer.optimizer;
    let momentum = &opt.states()[0].slots[0][0];
    assert_eq!(momentum.dtype(), gradus_tensor::DType::F64);
    assert_eq!(
        opt.groups()[0].params()[0].dtype(),
        gradus_tensor::DType::F32
    );
    // the checkpoint holds f64 moments: resuming with the parameters' dtype is refused up front
    let err = with_state(None)
        .resume(true)
        .build()
        .err()
        .expect("refused");
    assert!(matches!(err, RunError::Resume(_)), "{err:?}");
    assert!(
        err.to_string().contains(
            "optimizer.state_dtype: \"f64\" in the run being resumed, now \"f32\" (absent: the \
             parameters' dtype)"
        ),
        "{err}"
    );
    // the same dtype resumes
    let mut again = with_state(Some("f64")).resume(true).build().unwrap();
    assert_eq!(again.train().unwrap().summary.steps, 10);
}

#[test]
fn a_gradient_hook_set_on_the_builder_runs_every_step() {
    use gradus_nn::Param;
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let mut run = RunBuilder::new(config(2))
        .out_dir(dir.path().join("run"))
        .quiet(true)
        .gradient_hook(move |params: &[(String, Param)], step: u64| {
            let names: Vec<String> = params.iter().map(|(n, _)| n.clone()).collect();
            assert!(params.iter().all(|(_, p)| p.grad().is_some()));
            sink.lock().unwrap().push((step, names));
            Ok(())
        })
        .build()
        .unwrap();
    assert!(run.trainer.options.gradient_hook.is_some());
    assert_eq!(run.train().unwrap().summary.steps, 10);
    let seen = seen.lock().unwrap();
    let steps: Vec<u64> = seen.iter().map(|(s, _)| *s).collect();
    assert_eq!(steps, (1..=10).collect::<Vec<_>>());
    assert_eq!(seen[0].1, ["weight", "bias"]);
}

#[test]
fn an_optimizer_error_in_a_built_run_names_the_parameter_by_its_module_path() {
    use gradus_nn::Param;
    let dir = tempfile::tempdir().unwrap();
    // an MLP, whose parameters have dotted paths, and a hook that drops the second layer's
    // weight gradient: the optimizer then finds it missing
    let mut c = config(1);
    c.model.kind = "mlp".into();
    c.model.hidden = vec![4];
    let mut run = RunBuilder::new(c)
        .out_dir(dir.path().join("run"))
        .quiet(true)
        .gradient_hook(|params: &[(String, Param)], _step: u64| {
            params[2].1.tensor().set_grad(None);
            Ok(())
        })
        .build()
        .unwrap();
    let err = run.train().expect_err("fails").to_string();
    assert!(
        err.contains("parameter `2.weight` requires grad but has no gradient"),
        "{err}"
    );
}
