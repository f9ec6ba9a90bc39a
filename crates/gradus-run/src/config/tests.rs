//! Config validation: every refused value names its key and the allowed range; every shipped
//! example and the edge values PyTorch accepts pass.

use super::check::ConfigError;
use super::{parse, read};

const CSV: &str = r#"
[data]
format = "csv"
path = "rows.csv"
target = "y"
task = "regression"
[model]
kind = "linear"
[optimizer]
name = "sgd"
lr = 0.1
"#;

const MLP: &str = r#"
[data]
format = "csv"
path = "rows.csv"
target = "label"
[model]
kind = "mlp"
hidden = [8, 4]
[optimizer]
name = "adam"
lr = 0.001
"#;

const GPT: &str = r#"
[data]
format = "text"
path = "book.txt"
block_size = 16
[model]
kind = "gpt"
[optimizer]
name = "adamw"
lr = 0.001
"#;

const RATINGS: &str = r#"
[data]
format = "ratings"
path = "ratings.csv"
target = "rating"
[model]
kind = "mf"
[optimizer]
name = "adam"
lr = 0.01
"#;

/// The keys refused, in config order.
fn keys(e: &ConfigError) -> Vec<&str> {
    e.0.iter().map(|i| i.key.as_str()).collect()
}

/// The refusal of `base` with `overrides` applied (`key=value`, as `--set`).
fn refusal(base: &str, overrides: &[&str]) -> ConfigError {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let config = read(base, "t.toml", &overrides).expect("parses");
    config.validate().expect_err("must be refused")
}

fn accepted(base: &str, overrides: &[&str]) {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let config = read(base, "t.toml", &overrides).expect("parses");
    if let Err(e) = config.validate() {
        panic!("{overrides:?} refused: {e}");
    }
}

#[test]
fn a_zero_hidden_size_is_refused_naming_its_index() {
    let e = refusal(MLP, &["model.hidden=[8, 0]"]);
    assert_eq!(e.to_string(), "model.hidden[1]: must be at least 1, got 0");
}

#[test]
fn zero_epochs_is_refused_even_with_max_steps() {
    for extra in [&[][..], &["max_steps=50"][..]] {
        let mut o = vec!["epochs=0"];
        o.extend_from_slice(extra);
        let e = refusal(CSV, &o);
        assert_eq!(keys(&e), ["epochs"], "{e}");
        assert!(e
            .to_string()
            .starts_with("epochs: must be at least 1, got 0"));
    }
}

#[test]
fn a_validation_fraction_outside_zero_one_is_refused_naming_the_key() {
    for v in ["1.5", "1.0", "0.0", "-0.2", "nan", "inf"] {
        let e = refusal(CSV, &[&format!("data.validation={v}")]);
        assert_eq!(keys(&e), ["data.validation"], "{v}: {e}");
        assert!(
            e.to_string()
                .contains("must be a finite number in (0, 1), got"),
            "{e}"
        );
    }
    let e = refusal(CSV, &["data.validation=1.5"]);
    assert_eq!(
        e.to_string(),
        "data.validation: must be a finite number in (0, 1), got 1.5"
    );
}

/// (base config, overrides, the one key refused, a piece of its message).
type Case = (
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static str,
);

#[rustfmt::skip]
const CASES: &[Case] = &[
    // top level
    (CSV, &["max_steps=0"], "max_steps", "at least 1, got 0"),
    (CSV, &["dtype=\"f16\""], "dtype", "\"f32\", \"f64\""),
    // data
    (CSV, &["data.format=\"parquet\""], "data.format", "unknown value `parquet`"),
    (CSV, &["data.path=\"\""], "data.path", "must not be empty"),
    (CSV, &["data.task=\"ranking\""], "data.task", "\"classification\", \"binary\", \"regression\""),
    (CSV, &["data.target=\" \""], "data.target", "must not be empty"),
    (CSV, &["data.features=[]"], "data.features", "at least one column"),
    (CSV, &["data.features=[\"a\", \"a\"]"], "data.features[1]", "`a` is listed twice"),
    (CSV, &["data.features=[\"a\", \"y\"]"], "data.features[1]", "is the target column"),
    (CSV, &["data.n_features=3"], "data.n_features", "only by libsvm"),
    (CSV, &["data.block_size=8"], "data.block_size", "only by text"),
    (CSV, &["data.limit=0"], "data.limit", "at least 1, got 0"),
    (CSV, &["data.test_path=\"\""], "data.test_path", "must not be empty"),
    (CSV, &["data.validation_path=\"\""], "data.validation_path", "must not be empty"),
    (CSV, &["data.validation=0.2", "data.validation_path=\"v.csv\""], "data.validation", "not both"),
    (GPT, &["data.block_size=0"], "data.block_size", "at least 1, got 0"),
    (GPT, &["data.standardize=true"], "data.standardize", "ids"),
    (GPT, &["data.task=\"regression\""], "data.task", "always classification"),
    (RATINGS, &["data.features=[\"user\", \"item\", \"day\"]"], "data.features", "two columns"),
    (RATINGS, &["data.standardize=true"], "data.standardize", "ids"),
    // model
    (CSV, &["model.kind=\"transformer\""], "model.kind", "unknown value `transformer`"),
    (MLP, &["model.hidden=[0]"], "model.hidden[0]", "at least 1, got 0"),
    (MLP, &["model.activation=\"swish\""], "model.activation", "unknown value `swish`"),
    (MLP, &["model.width=8"], "model.width", "not used by model.kind = \"mlp\""),
    (CSV, &["model.hidden=[4]"], "model.hidden", "only by mlp"),
    (CSV, &["model.activation=\"relu\""], "model.activation", "only by mlp"),
    (CSV, &["model.tie_weights=true"], "model.tie_weights", "only by gpt"),
    (CSV, &["model.checkpoint_activations=true"], "model.checkpoint_activations", "only by gpt"),
    (CSV, &["model.kind=\"lstm\"", "model.width=0"], "model.width", "at least 1, got 0"),
    (CSV, &["model.kind=\"lstm\"", "model.layers=0"], "model.layers", "at least 1, got 0"),
    (CSV, &["model.kind=\"lstm\"", "model.heads=2"], "model.heads", "only by gpt"),
    (GPT, &["model.heads=0"], "model.heads", "at least 1, got 0"),
    (GPT, &["model.heads=5"], "model.heads", "must divide model.width (64), got 5"),
    (CSV, &["model.kind=\"logistic\""], "model.kind", "needs data.task = \"binary\", not \"regression\""),
    (MLP, &["model.kind=\"linear\"", "model.hidden=[]"], "model.kind", "needs data.task = \"regression\""),
    (CSV, &["model.kind=\"gpt\""], "model.kind", "needs data.format = \"text\""),
    (CSV, &["model.kind=\"cnn\""], "model.kind", "needs data.format = \"mnist\""),
    (CSV, &["model.kind=\"mf\""], "model.kind", "needs data.format = \"ratings\""),
    (GPT, &["model.kind=\"lstm\""], "model.kind", "needs model.kind = \"gpt\""),
    // optimizer: torch's argument checks
    (CSV, &["optimizer.name=\"sgdd\""], "optimizer.name", "unknown value `sgdd`"),
    (CSV, &["optimizer.lr=-0.1"], "optimizer.lr", "must be a finite number >= 0, got -0.1"),
    (CSV, &["optimizer.lr=nan"], "optimizer.lr", "got NaN"),
    (CSV, &["optimizer.lr=inf"], "optimizer.lr", "got inf"),
    (CSV, &["optimizer.momentum=-0.5"], "optimizer.momentum", "in [0, 1), got -0.5"),
    (CSV, &["optimizer.weight_decay=-1"], "optimizer.weight_decay", ">= 0, got -1"),
    (CSV, &["optimizer.nesterov=true"], "optimizer.nesterov", "needs optimizer.momentum > 0"),
    (CSV, &["optimizer.nesterov=true", "optimizer.momentum=0.0"], "optimizer.nesterov", "got 0"),
    (MLP, &["optimizer.betas=[1.0, 0.999]"], "optimizer.betas[0]", "in [0, 1), got 1"),
    (MLP, &["optimizer.betas=[0.9, -0.1]"], "optimizer.betas[1]", "in [0, 1), got -0.1"),
    (MLP, &["optimizer.eps=-1e-8"], "optimizer.eps", ">= 0, got -0.00000001"),
    (MLP, &["optimizer.clip_grad_norm=0.0"], "optimizer.clip_grad_norm", "> 0, got 0"),
    (MLP, &["optimizer.clip_grad_norm=-1.0"], "optimizer.clip_grad_norm", "> 0, got -1"),
    (CSV, &["optimizer.betas=[0.9, 0.99]"], "optimizer.betas", "not used by optimizer \"sgd\" (only by adam, adamw, adamax, nadam, radam)"),
    (CSV, &["optimizer.eps=1e-8"], "optimizer.eps", "only by adam, adamw, rmsprop"),
    (CSV, &["optimizer.amsgrad=true"], "optimizer.amsgrad", "only by adam, adamw"),
    (MLP, &["optimizer.momentum=0.9"], "optimizer.momentum", "only by sgd, rmsprop"),
    (MLP, &["optimizer.nesterov=true"], "optimizer.nesterov", "only by sgd"),
    (MLP, &["optimizer.name=\"yogi\"", "optimizer.weight_decay=0.1"], "optimizer.weight_decay", "not used by optimizer \"yogi\""),
    (MLP, &["optimizer.name=\"lion\"", "optimizer.betas=[0.9, 0.99]"], "optimizer.betas", "not used by optimizer \"lion\""),
    (CSV, &["optimizer.no_decay_on_bias=true"], "optimizer.no_decay_on_bias", "no weight decay"),
    (MLP, &["optimizer.name=\"adabelief\"", "optimizer.no_decay_on_bias=true"], "optimizer.no_decay_on_bias", "no weight decay"),
    (MLP, &["optimizer.state_dtype=\"f16\""], "optimizer.state_dtype", "unknown value `f16` (expected \"f32\", \"f64\")"),
    (MLP, &["optimizer.state_dtype=\"F64\""], "optimizer.state_dtype", "(expected \"f32\", \"f64\")"),
    (CSV, &["optimizer.state_dtype=\"f64\""], "optimizer.state_dtype", "has no effect: optimizer \"sgd\" without momentum keeps no per-parameter state"),
    (CSV, &["optimizer.state_dtype=\"f32\"", "optimizer.momentum=0.0"], "optimizer.state_dtype", "has no effect"),
    // schedule
    (CSV, &["schedule.name=\"warp\""], "schedule.name", "unknown value `warp`"),
    (CSV, &["schedule.name=\"step\""], "schedule.step_size", "is required for schedule \"step\""),
    (CSV, &["schedule.name=\"step\"", "schedule.step_size=0"], "schedule.step_size", "at least 1, got 0"),
    (CSV, &["schedule.name=\"step\"", "schedule.step_size=5", "schedule.gamma=0.0"], "schedule.gamma", "> 0, got 0"),
    (CSV, &["schedule.name=\"multistep\""], "schedule.milestones", "is required"),
    (CSV, &["schedule.name=\"multistep\"", "schedule.milestones=[]"], "schedule.milestones", "at least one step"),
    (CSV, &["schedule.name=\"multistep\"", "schedule.milestones=[0, 5]"], "schedule.milestones[0]", "at least 1, got 0"),
    (CSV, &["schedule.name=\"exponential\""], "schedule.gamma", "is required"),
    (CSV, &["schedule.name=\"exponential\"", "schedule.gamma=-0.5"], "schedule.gamma", "> 0, got -0.5"),
    (CSV, &["schedule.name=\"plateau\"", "schedule.gamma=1.0"], "schedule.gamma", "in (0, 1), got 1"),
    (CSV, &["schedule.name=\"cosine\"", "schedule.min_lr=0.5"], "schedule.min_lr", "must not exceed optimizer.lr (0.1), got 0.5"),
    (CSV, &["schedule.name=\"cosine\"", "schedule.min_lr=-0.01"], "schedule.min_lr", ">= 0, got -0.01"),
    (CSV, &["schedule.name=\"cosine\"", "schedule.total_steps=0"], "schedule.total_steps", "at least 1, got 0"),
    (CSV, &["schedule.name=\"cosine\"", "schedule.total_steps=10", "schedule.warmup_steps=10"], "schedule.warmup_steps", "less than schedule.total_steps (10), got 10"),
    (CSV, &["schedule.name=\"cosine\"", "schedule.gamma=0.5"], "schedule.gamma", "not used by schedule \"cosine\""),
    (CSV, &["schedule.name=\"warm_restarts\"", "schedule.step_size=10", "schedule.t_mult=0"], "schedule.t_mult", "at least 1, got 0"),
    (CSV, &["schedule.name=\"onecycle\"", "schedule.max_lr=0.0"], "schedule.max_lr", "> 0, got 0"),
    (CSV, &["schedule.name=\"onecycle\"", "schedule.warmup_steps=5"], "schedule.warmup_steps", "not used by schedule \"onecycle\""),
    (CSV, &["schedule.name=\"onecycle\"", "optimizer.momentum=0.9"], "optimizer.momentum", "replaced by the one-cycle"),
    (CSV, &["schedule.name=\"polynomial\"", "schedule.power=0.0"], "schedule.power", "> 0, got 0"),
    (CSV, &["schedule.name=\"plateau\"", "schedule.warmup_steps=3"], "schedule.warmup_steps", "not used by schedule \"plateau\""),
    (CSV, &["schedule.name=\"constant\"", "schedule.patience=3"], "schedule.patience", "only by plateau"),
    // batch
    (CSV, &["optimizer.momentum=1.0"], "optimizer.momentum", "in [0, 1), got 1"),
    (CSV, &["batch.mode=\"tiny\""], "batch.mode", "unknown value `tiny`"),
    (CSV, &["batch.size=0"], "batch.size", "at least 1, got 0"),
    (CSV, &["batch.mode=\"full\"", "batch.drop_last=true"], "batch.drop_last", "only by minibatch"),
    (CSV, &["batch.mode=\"full\"", "batch.size=16"], "batch.size", "not used by batch.mode = \"full\""),
    (CSV, &["batch.mode=\"stochastic\"", "batch.size=16"], "batch.size", "only by minibatch"),
    // train
    (CSV, &["train.early_stopping_patience=0"], "train.early_stopping_patience", "at least 1, got 0"),
    (CSV, &["train.early_stopping_patience=3", "train.min_delta=-0.1"], "train.min_delta", ">= 0, got -0.1"),
    (CSV, &["train.min_delta=0.01"], "train.min_delta", "without train.early_stopping_patience"),
    (CSV, &["train.restore_best=false"], "train.restore_best", "without train.early_stopping_patience"),
    (CSV, &["train.divergence_factor=1.0"], "train.divergence_factor", "must be > 1 (inf: never stop), got 1"),
    (CSV, &["train.divergence_factor=nan"], "train.divergence_factor", "got NaN"),
    (CSV, &["train.curriculum_epochs=11"], "train.curriculum_epochs", "at most epochs (10), got 11"),
    (CSV, &["train.sync_every=0"], "train.sync_every", "must be at least 1, got 0"),
    (CSV, &["train.precision=\"fp8\""], "train.precision", "bf16-mixed"),
    (CSV, &["dtype=\"f64\"", "train.precision=\"bf16-mixed\""], "train.precision", "needs dtype = \"f32\""),
];

#[test]
fn every_refusal_names_its_key_and_the_allowed_values() {
    for (base, overrides, key, needle) in CASES {
        let e = refusal(base, overrides);
        assert_eq!(keys(&e), [*key], "{overrides:?}: {e}");
        let text = e.to_string();
        assert!(text.starts_with(&format!("{key}: ")), "{text}");
        assert!(
            text.contains(needle),
            "{overrides:?}: {text:?} lacks {needle:?}"
        );
    }
}

#[test]
fn values_pytorch_accepts_and_documented_edges_pass() {
    for (base, overrides) in [
        (CSV, &[][..]),
        (MLP, &[]),
        (GPT, &[]),
        (GPT, &["model.checkpoint_activations=true"]),
        (RATINGS, &[]),
        // lr = 0 (a frozen run), momentum 0, eps 0 and weight decay 0 are valid in torch
        (
            CSV,
            &[
                "optimizer.lr=0.0",
                "optimizer.momentum=0.0",
                "optimizer.weight_decay=0.0",
            ],
        ),
        (MLP, &["optimizer.eps=0.0", "optimizer.betas=[0.0, 0.0]"]),
        (CSV, &["optimizer.momentum=0.9", "optimizer.nesterov=true"]),
        // one-cycle drives SGD's momentum, so Nesterov needs no momentum key
        (
            CSV,
            &["schedule.name=\"onecycle\"", "optimizer.nesterov=true"],
        ),
        // adamw decays by 0.01 unless told otherwise
        (
            MLP,
            &[
                "optimizer.name=\"adamw\"",
                "optimizer.no_decay_on_bias=true",
            ],
        ),
        (CSV, &["train.divergence_factor=inf"]),
        // a declared optimizer state dtype, wider or narrower than the parameters'
        (MLP, &["optimizer.state_dtype=\"f64\""]),
        (MLP, &["dtype=\"f64\"", "optimizer.state_dtype=\"f32\""]),
        (
            CSV,
            &["optimizer.momentum=0.9", "optimizer.state_dtype=\"f64\""],
        ),
        // one-cycle gives SGD a momentum buffer
        (
            CSV,
            &[
                "schedule.name=\"onecycle\"",
                "optimizer.state_dtype=\"f64\"",
            ],
        ),
        (CSV, &["train.sync_every=16"]),
        (CSV, &["train.tensorboard=true"]),
        (CSV, &["train.precision=\"bf16-mixed\""]),
        (GPT, &["train.precision=\"f16-mixed\""]),
        (CSV, &["max_steps=1", "epochs=1"]),
        (
            CSV,
            &[
                "data.validation=0.5",
                "train.early_stopping_patience=1",
                "train.min_delta=0.0",
            ],
        ),
        (
            CSV,
            &[
                "schedule.name=\"plateau\"",
                "schedule.patience=0",
                "schedule.gamma=0.5",
            ],
        ),
        (CSV, &["schedule.name=\"cosine\"", "schedule.min_lr=0.1"]),
        (
            CSV,
            &["batch.mode=\"stochastic\"", "train.curriculum_epochs=10"],
        ),
        (
            GPT,
            &["model.width=48", "model.heads=6", "model.tie_weights=true"],
        ),
    ] {
        accepted(base, overrides);
    }
}

#[test]
fn every_shipped_example_is_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("examples folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).expect("readable");
            if let Err(e) = parse(&text, &path.display().to_string(), &[]) {
                panic!("{e}");
            }
            seen += 1;
        }
    }
    assert!(seen >= 7, "found {seen} examples");
}

#[test]
fn all_refusals_are_reported_at_once() {
    let e = refusal(MLP, &["epochs=0", "model.hidden=[0, 3]", "optimizer.lr=-1"]);
    assert_eq!(keys(&e), ["epochs", "model.hidden[0]", "optimizer.lr"]);
    assert!(
        e.to_string().starts_with("3 invalid values:\n  epochs: "),
        "{e}"
    );
}

#[test]
fn parse_validates_and_names_the_source() {
    let err = parse(MLP, "run.toml", &["model.hidden=[8, 0]".into()])
        .unwrap_err()
        .to_string();
    assert_eq!(err, "run.toml: model.hidden[1]: must be at least 1, got 0");
}

#[test]
fn wrong_types_are_named_in_a_config_s_words_not_rust_s() {
    let from_file = parse(&format!("epochs = \"abc\"\n{MLP}"), "run.toml", &[]);
    for (err, plain) in [
        (from_file, "expected a whole number"),
        (
            parse(MLP, "run.toml", &["epochs=abc".into()]),
            "expected a whole number",
        ),
        (
            parse(MLP, "run.toml", &["optimizer.lr=fast".into()]),
            "expected a number",
        ),
    ] {
        let err = err.unwrap_err().to_string();
        assert!(err.contains(plain), "{err}");
        for rust in ["usize", "u64", "f64", "f32"] {
            assert!(!err.contains(rust), "{err}");
        }
    }
}

#[test]
fn a_value_of_the_wrong_type_names_its_key() {
    // in the file: toml shows the line and column
    let err = parse(&MLP.replace("[8, 4]", "[8, -4]"), "run.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 8") && err.contains("hidden = [8, -4]"),
        "{err}"
    );
    // through --set: the merged text's lines mean nothing to the user, so the key is named
    for (set, key) in [
        ("model.hidden=[8, -4]", "model.hidden: "),
        ("epochs=-1", "epochs: "),
        ("optimizer.lr=\"fast\"", "optimizer.lr: "),
        ("batch.size=2.5", "batch.size: "),
    ] {
        let err = parse(MLP, "run.toml", &[set.into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("run.toml (with --set overrides): {key}")),
            "{set}: {err}"
        );
    }
}

#[test]
fn errors_carry_the_source_and_the_key_as_fields() {
    use crate::RunError;
    match parse(MLP, "run.toml", &["model.hidden=[8, -4]".into()]) {
        Err(RunError::OverriddenToml { file, key, .. }) => {
            assert_eq!(
                (file.as_str(), key.as_deref()),
                ("run.toml", Some("model.hidden"))
            );
        }
        other => panic!("{other:?}"),
    }
    match parse(MLP, "run.toml", &["model.hidden=[8, 0]".into()]) {
        Err(RunError::Invalid { file, error }) => {
            assert_eq!(file, "run.toml");
            assert_eq!(keys(&error), ["model.hidden[1]"]);
        }
        other => panic!("{other:?}"),
    }
    match parse(MLP, "run.toml", &["model.hidden".into()]) {
        Err(RunError::Override {
            assignment,
            problem,
        }) => {
            assert_eq!(assignment, "model.hidden");
            assert!(problem.starts_with("expected key=value"), "{problem}");
        }
        other => panic!("{other:?}"),
    }
}

/// `--resume` of a run started with `before` (overrides of MLP) by one with `after`.
fn resume_check(before: &[&str], after: &[&str]) -> Result<(), String> {
    let config = |o: &[&str]| {
        let o: Vec<String> = o.iter().map(|s| s.to_string()).collect();
        parse(MLP, "t.toml", &o).expect("valid")
    };
    super::resume::check(&config(before), &config(after)).map_err(|e| e.to_string())
}

#[test]
fn resuming_with_another_state_dtype_is_refused_naming_the_key_and_both_dtypes() {
    let err = resume_check(&["optimizer.state_dtype=\"f64\""], &[]).unwrap_err();
    assert!(
        err.contains(
            "optimizer.state_dtype: \"f64\" in the run being resumed, now \"f32\" (absent: the \
             parameters' dtype)"
        ),
        "{err}"
    );
    assert!(
        err.contains("the checkpoint holds the optimizer state in the dtype the run started with"),
        "{err}"
    );
    let err = resume_check(&[], &["optimizer.state_dtype=\"f64\""]).unwrap_err();
    assert!(
        err.contains(
            "optimizer.state_dtype: \"f32\" (absent: the parameters' dtype) in the run being \
             resumed, now \"f64\""
        ),
        "{err}"
    );
    let err = resume_check(
        &["optimizer.state_dtype=\"f32\""],
        &["optimizer.state_dtype=\"f64\""],
    )
    .unwrap_err();
    assert!(
        err.contains("optimizer.state_dtype: \"f32\" in the run being resumed, now \"f64\""),
        "{err}"
    );
}

#[test]
fn spelling_out_the_parameters_dtype_as_state_dtype_is_no_change_on_resume() {
    for (before, after) in [
        (&[][..], &["optimizer.state_dtype=\"f32\""][..]),
        (&["optimizer.state_dtype=\"f32\""][..], &[][..]),
        (
            &["dtype=\"f64\""][..],
            &["dtype=\"f64\"", "optimizer.state_dtype=\"f64\""][..],
        ),
    ] {
        assert_eq!(
            resume_check(before, after),
            Ok(()),
            "{before:?} -> {after:?}"
        );
    }
    let config = |o: &[&str]| {
        let o: Vec<String> = o.iter().map(|s| s.to_string()).collect();
        parse(MLP, "t.toml", &o).expect("valid")
    };
    let (a, b) = (config(&[]), config(&["optimizer.state_dtype=\"f32\""]));
    assert_eq!(super::resume::changes(&a, &b), vec![]);
    // a run whose dtype changed is refused for `dtype`; with no state dtype set on either side,
    // the state dtype is not listed a second time
    let changed = super::resume::changes(&a, &config(&["dtype=\"f64\""]));
    let keys: Vec<&str> = changed.iter().map(|(k, ..)| k.as_str()).collect();
    assert_eq!(keys, ["dtype"]);
}

#[test]
fn fine_tuning_keys_are_checked() {
    let e = refusal(
        GPT,
        &[
            "model.init_from=\"\"",
            "model.lora.rank=0",
            "model.lora.alpha=0.0",
            "model.lora.target_modules=[\"\", \"in_proj\"]",
        ],
    );
    assert_eq!(
        keys(&e),
        [
            "model.init_from",
            "model.lora.rank",
            "model.lora.alpha",
            "model.lora.target_modules[0]"
        ]
    );
    let e = refusal(GPT, &["model.lora.target_modules=[]"]);
    assert_eq!(keys(&e), ["model.lora.target_modules"]);
    accepted(
        GPT,
        &["model.lora.rank=4", "model.init_from=\"base.safetensors\""],
    );
}
