//! [`Config::validate`]: every key of a run's config checked before any data is read or model
//! built, each refusal naming its key and the allowed range (`model.hidden[1]: must be at least
//! 1, got 0`).
//!
//! Allowed values, PyTorch's argument checks where torch has one:
//!
//! | key | allowed |
//! |---|---|
//! | `epochs` | at least 1 (`max_steps` only ends a run early, it never extends it) |
//! | `max_steps` | at least 1 |
//! | `dtype` | "f32", "f64" |
//! | `seed` | any |
//! | `data.format` | csv, mnist, libsvm, text, ratings |
//! | `data.path`, `data.validation_path`, `data.test_path` | not empty; a relative path resolves against the config file's folder (see `config::paths`) |
//! | `data.task` | classification, binary, regression (csv, libsvm); mnist and text are classification, ratings regression |
//! | `data.target` | required (csv, ratings), not empty |
//! | `data.features` | csv, ratings: at least one, distinct, not the target; ratings: exactly two (user, item) |
//! | `data.n_features` | at least 1 (libsvm) |
//! | `data.validation` | in (0, 1); not together with `data.validation_path` |
//! | `data.standardize` | not with text or ratings (their features are ids) |
//! | `data.limit` | at least 1 |
//! | `data.block_size` | required for text, at least 1 |
//! | `data.augment.shift` | in [0, 1], a fraction of the width and height (mnist only, as every `data.augment` key) |
//! | `data.augment.rotation` | >= 0 degrees |
//! | `data.augment.scale` | [min, max] with 0 < min <= max |
//! | `data.augment.hflip` | in [0, 1] (a probability) |
//! | `data.augment.fill` | any finite number |
//! | `model.kind` | linear (regression), logistic (binary), softmax (classification), mlp, cnn (mnist), lstm, gpt (text), mf (ratings) |
//! | `model.hidden[i]` | at least 1 (mlp) |
//! | `model.activation` | relu, tanh, sigmoid, gelu, silu, leaky_relu, elu (mlp) |
//! | `model.width`, `model.layers` | at least 1 (width: lstm, gpt, mf; layers: lstm, gpt) |
//! | `model.heads` | at least 1 and dividing `model.width` (gpt) |
//! | `model.checkpoint_activations` | true, false (gpt) |
//! | `model.init_from` | not empty: a gradus model file of the same `model.kind` and sizes |
//! | `model.lora.rank` | at least 1 |
//! | `model.lora.alpha` | > 0 |
//! | `model.lora.target_modules` | at least one name, each naming a layer that takes an adapter (checked when the model is built) |
//! | `optimizer.lr` | >= 0 (torch: "Invalid learning rate") |
//! | `optimizer.momentum` | in [0, 1) (torch allows >= 1, where the velocity never decays; sgd, rmsprop; not with one-cycle, whose momentum schedule replaces it) |
//! | `optimizer.nesterov` | sgd, with momentum > 0 (torch: "Nesterov momentum requires a momentum") |
//! | `optimizer.weight_decay` | >= 0 |
//! | `optimizer.no_decay_on_bias` | only with a non-zero weight decay |
//! | `optimizer.betas[i]` | in [0, 1) (adam, adamw, adamax, nadam, radam) |
//! | `optimizer.eps` | >= 0 (adam, adamw, rmsprop; torch allows 0 too) |
//! | `optimizer.amsgrad` | adam, adamw |
//! | `optimizer.clip_grad_norm` | > 0 |
//! | `optimizer.damping` | > 0 (kfac, natural_gradient) |
//! | `optimizer.stat_decay` | in [0, 1) (kfac) |
//! | `optimizer.kl_clip` | >= 0 (kfac; 0: no clipping) |
//! | `optimizer.stat_freq`, `optimizer.inv_freq` | at least 1 (kfac) |
//! | `optimizer.weights` | a safetensors file, required for and used by learned only |
//! | `optimizer.state_dtype` | "f32", "f64" (absent: the parameters' `dtype`); every optimizer but sgd without momentum (which keeps no per-parameter state); may not change on `--resume` |
//! | `schedule.name` | constant, step, multistep, exponential, cosine, warm_restarts, onecycle, polynomial, plateau |
//! | `schedule.warmup_steps` | less than `schedule.total_steps`; not with onecycle, plateau |
//! | `schedule.step_size` | at least 1, required (step, warm_restarts) |
//! | `schedule.milestones[i]` | at least 1, at least one milestone, required (multistep) |
//! | `schedule.gamma` | > 0 (step, multistep; required for exponential), in (0, 1) (plateau; torch: "Factor should be < 1.0") |
//! | `schedule.min_lr` | in [0, `optimizer.lr`] (cosine, warm_restarts) |
//! | `schedule.t_mult` | at least 1 (warm_restarts; torch: "Expected integer T_mult >= 1") |
//! | `schedule.total_steps` | at least 1 (cosine, onecycle, polynomial) |
//! | `schedule.max_lr` | > 0 (onecycle) |
//! | `schedule.patience` | any (plateau) |
//! | `schedule.power` | > 0 (polynomial) |
//! | `batch.mode` | minibatch (mini-batch), full (batch), stochastic (sgd) |
//! | `batch.size` | at least 1 |
//! | `batch.drop_last` | minibatch only |
//! | `train.early_stopping_patience` | at least 1 |
//! | `train.min_delta` | >= 0, only with early stopping |
//! | `train.divergence_factor` | > 1 (`inf`: never stop) |
//! | `train.sync_every` | ≥ 1 |
//! | `train.curriculum_epochs` | at most `epochs` |
//! | `train.restore_best` | needs `train.early_stopping_patience` |
//! | `train.checkpoint_every` | any (0: checkpoint at the end only) |
//! | `train.tensorboard` | true, false (logs into `RUN/tensorboard/`) |
//! | `train.noise_scale` | true, false (micro-batch estimate of the gradient noise scale) |
//! | `distributed.*`, `federated.*` | see [`super::dist`] |
//! | `train.stochastic_rounding` | true, false (true with `train.precision` = "bf16-true" only) |
//! | `train.precision` | f32, f64, bf16-mixed, f16-mixed, bf16-true (the last three with `dtype` = "f32"; bf16-true not with gpt, lstm_lm, mf, whose inputs are ids) |
//!
//! A key set for a part that does not use it (`optimizer.betas` with sgd, `schedule.gamma` with
//! cosine) is refused rather than silently ignored. Real numbers must be finite (TOML's `nan` and
//! `inf` are refused) except where the table says otherwise.

use super::check::{
    Bound::{Closed, Unbounded},
    Checker, ConfigError,
};
use super::data_rules::{check_data, check_model};
use super::optim_rules::{check_optimizer, check_schedule};
use super::{BatchConfig, Config, TrainConfig};

const BATCH_MODES: &[&str] = &[
    "minibatch",
    "mini-batch",
    "full",
    "batch",
    "stochastic",
    "sgd",
];

impl Config {
    /// Checks every value against its allowed range (see the module docs for the table), before
    /// any file is read.
    ///
    /// # Errors
    /// A [`ConfigError`] listing every refused key with its allowed range and the value found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        // destructured without `..`: a new key does not compile until it has a rule here
        let Config {
            seed: _, // any
            epochs,
            max_steps,
            dtype,
            data,
            model,
            optimizer,
            schedule,
            batch,
            train,
            distributed,
            federated,
        } = self;
        let mut c = Checker::default();
        if *epochs == 0 {
            c.fail(
                "epochs",
                "must be at least 1, got 0 (max_steps only ends a run early, it never extends it)",
            );
        }
        if let Some(m) = max_steps {
            c.at_least("max_steps", *m, 1);
        }
        c.one_of("dtype", dtype, &["f32", "f64"]);
        check_data(&mut c, data);
        check_model(&mut c, model, data);
        let onecycle = schedule.as_ref().is_some_and(|s| s.name == "onecycle");
        check_optimizer(&mut c, optimizer, onecycle);
        if let Some(s) = schedule {
            check_schedule(&mut c, s, optimizer.lr);
        }
        check_batch(&mut c, batch);
        check_train(&mut c, train, *epochs);
        if let Some(d) = distributed {
            super::dist::check_distributed(&mut c, d);
        }
        if let Some(f) = federated {
            super::dist::check_federated(&mut c, f, data.task());
            if data.augment.is_some() {
                c.fail(
                    "data.augment",
                    "does not go with [federated] (clients train on their samples unchanged)",
                );
            }
            if distributed.is_some() {
                c.fail(
                    "federated",
                    "does not go with [distributed] (federated clients are not data-parallel ranks)",
                );
            }
        }
        if train.stochastic_rounding && train.precision.is_none() {
            c.fail(
                "train.stochastic_rounding",
                "rounds bf16 parameters: it needs precision = \"bf16-true\"",
            );
        }
        if let Some(p) = &train.precision {
            c.one_of("train.precision", p, PRECISIONS);
            if p.ends_with("-mixed") && dtype != "f32" {
                c.fail(
                    "train.precision",
                    format!("\"{p}\" keeps f32 master weights: it needs dtype = \"f32\", got \"{dtype}\""),
                );
            } else if train.stochastic_rounding && p != "bf16-true" {
                c.fail(
                    "train.stochastic_rounding",
                    format!(
                        "rounds bf16 parameters: it needs precision = \"bf16-true\", got \"{p}\""
                    ),
                );
            } else if p == "bf16-true" && dtype != "f32" {
                c.fail(
                    "train.precision",
                    format!("\"bf16-true\" casts the f32 model to bf16: it needs dtype = \"f32\", got \"{dtype}\""),
                );
            } else if p == "bf16-true" && ["gpt", "lstm_lm", "mf"].contains(&model.kind.as_str()) {
                c.fail(
                    "train.precision",
                    format!(
                        "\"bf16-true\" does not go with model.kind = \"{}\": its inputs are token or \
                         row ids, and bf16 holds whole numbers exactly only up to 256 (use bf16-mixed)",
                        model.kind
                    ),
                );
            } else if (p == "f32" || p == "f64") && p != dtype {
                c.fail(
                    "train.precision",
                    format!("\"{p}\" differs from dtype = \"{dtype}\" (leave it out to compute in dtype)"),
                );
            }
        }
        c.finish()
    }
}

/// Values of `train.precision` (`gradus_train::precision::Precision::parse`).
const PRECISIONS: &[&str] = &["f32", "f64", "bf16-mixed", "f16-mixed", "bf16-true"];

fn check_batch(c: &mut Checker, b: &BatchConfig) {
    let BatchConfig {
        mode,
        size,
        drop_last,
    } = b;
    c.one_of("batch.mode", mode, BATCH_MODES);
    if let Some(size) = size {
        c.at_least("batch.size", *size as u64, 1);
    }
    let whole_or_single = matches!(mode.as_str(), "full" | "batch" | "stochastic" | "sgd");
    for (key, set) in [
        ("batch.size", size.is_some()),
        ("batch.drop_last", *drop_last),
    ] {
        if set && whole_or_single {
            c.fail(
                key,
                format!("is not used by batch.mode = \"{mode}\" (only by minibatch)"),
            );
        }
    }
}

fn check_train(c: &mut Checker, t: &TrainConfig, epochs: usize) {
    let TrainConfig {
        early_stopping_patience,
        min_delta,
        restore_best,
        checkpoint_every: _,       // any; 0 checkpoints at the end only
        checkpoint_every_steps: _, // any; 0 turns step checkpoints off
        divergence_factor,
        curriculum_epochs,
        sync_every,
        tensorboard: _,         // any
        noise_scale: _,         // any
        precision: _,           // checked with `dtype` in `validate`
        stochastic_rounding: _, // checked with `precision` in `validate`
    } = t;
    c.at_least("train.sync_every", *sync_every, 1);
    if let Some(p) = early_stopping_patience {
        c.at_least("train.early_stopping_patience", *p as u64, 1);
    }
    c.real("train.min_delta", *min_delta, Closed(0.0), Unbounded);
    if restore_best.is_some() && early_stopping_patience.is_none() {
        c.fail(
            "train.restore_best",
            "has no effect without train.early_stopping_patience",
        );
    }
    if *min_delta != 0.0 && early_stopping_patience.is_none() {
        c.fail(
            "train.min_delta",
            "has no effect without train.early_stopping_patience",
        );
    }
    if divergence_factor.is_nan() || *divergence_factor <= 1.0 {
        c.fail(
            "train.divergence_factor",
            format!("must be > 1 (inf: never stop), got {divergence_factor}"),
        );
    }
    if *curriculum_epochs > epochs {
        c.fail(
            "train.curriculum_epochs",
            format!("must be at most epochs ({epochs}), got {curriculum_epochs}"),
        );
    }
}
