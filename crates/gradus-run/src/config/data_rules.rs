//! The rules for the `[data]` and `[model]` tables of a config, and the pairings of model and
//! data known before any file is read (see [`Config::validate`](super::Config::validate)).

use super::check::{
    Bound::{Closed, Open, Unbounded},
    Checker,
};
use super::{AugmentConfig, DataConfig, ModelConfig};

const FORMATS: &[&str] = &["csv", "mnist", "libsvm", "text", "ratings"];
const TASKS: &[&str] = &["classification", "binary", "regression"];
const KINDS: &[&str] = &[
    "linear", "logistic", "softmax", "mlp", "cnn", "lstm", "lstm_lm", "gpt", "mf",
];
const ACTIVATIONS: &[&str] = &[
    "relu",
    "tanh",
    "sigmoid",
    "gelu",
    "silu",
    "leaky_relu",
    "elu",
];

/// The task a data config implies: mnist and text are classification, ratings regression.
pub(super) fn task_of(d: &DataConfig) -> &str {
    match d.format.as_str() {
        "mnist" | "text" => "classification",
        "ratings" => "regression",
        _ => d.task.as_deref().unwrap_or("classification"),
    }
}

pub(super) fn check_data(c: &mut Checker, d: &DataConfig) {
    let DataConfig {
        format,
        path,
        task,
        target,
        features,
        n_features,
        validation,
        validation_path,
        test_path,
        standardize,
        limit,
        block_size,
        augment,
    } = d;
    c.one_of("data.format", format, FORMATS);
    c.not_empty("data.path", path);
    for (key, p) in [
        ("data.validation_path", validation_path),
        ("data.test_path", test_path),
    ] {
        if let Some(p) = p {
            c.not_empty(key, p);
        }
    }
    if let Some(v) = validation {
        c.real("data.validation", *v, Open(0.0), Open(1.0));
        if validation_path.is_some() {
            c.fail(
                "data.validation",
                "conflicts with data.validation_path: hold out a fraction or give a file, not both",
            );
        }
    }
    for (key, v) in [
        ("data.n_features", n_features),
        ("data.limit", limit),
        ("data.block_size", block_size),
    ] {
        if let Some(v) = v {
            c.at_least(key, *v as u64, 1);
        }
    }
    let f = format.as_str();
    if !FORMATS.contains(&f) {
        return;
    }
    let owner = format!("data.format = \"{f}\"");
    let tabular = matches!(f, "csv" | "ratings");
    match task {
        Some(t) if matches!(f, "csv" | "libsvm") => c.one_of("data.task", t, TASKS),
        Some(t) if t != task_of(d) => c.fail(
            "data.task",
            format!("{owner} is always {}, got \"{t}\"", task_of(d)),
        ),
        _ => {}
    }
    match target {
        Some(t) if tabular => c.not_empty("data.target", t),
        None if tabular => c.fail("data.target", format!("is required with {owner}")),
        _ => c.unused("data.target", target.is_some(), &owner, "csv, ratings"),
    }
    match features {
        Some(list) if tabular => check_features(c, list, target.as_deref(), f == "ratings"),
        _ => c.unused("data.features", features.is_some(), &owner, "csv, ratings"),
    }
    c.unused(
        "data.n_features",
        n_features.is_some() && f != "libsvm",
        &owner,
        "libsvm",
    );
    if block_size.is_none() && f == "text" {
        c.fail("data.block_size", format!("is required with {owner}"));
    }
    c.unused(
        "data.block_size",
        block_size.is_some() && f != "text",
        &owner,
        "text",
    );
    if let Some(a) = augment {
        // the only reader of images; arrays given to RunBuilder::data are checked at build
        c.unused(
            "data.augment",
            f != "mnist",
            &owner,
            "mnist, whose samples are images",
        );
        check_augment(c, a);
    }
    if *standardize && matches!(f, "text" | "ratings") {
        c.fail(
            "data.standardize",
            format!("must be false with {owner}: its features are ids, not measurements"),
        );
    }
}

/// The ranges of `[data] augment = { ... }` (torchvision's argument checks: "degrees should
/// be non-negative", "translation values should be between 0 and 1", "scale values should be
/// positive").
fn check_augment(c: &mut Checker, a: &AugmentConfig) {
    let AugmentConfig {
        shift,
        rotation,
        scale,
        hflip,
        fill,
    } = a;
    c.real("data.augment.shift", *shift, Closed(0.0), Closed(1.0));
    c.real("data.augment.rotation", *rotation, Closed(0.0), Unbounded);
    c.real("data.augment.hflip", *hflip, Closed(0.0), Closed(1.0));
    c.real("data.augment.fill", *fill, Unbounded, Unbounded);
    let [lo, hi] = *scale;
    if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && lo <= hi) {
        c.fail(
            "data.augment.scale",
            format!("must be [min, max] with 0 < min <= max, got [{lo}, {hi}]"),
        );
    }
}

fn check_features(c: &mut Checker, list: &[String], target: Option<&str>, ratings: bool) {
    if list.is_empty() {
        c.fail("data.features", "must name at least one column, got []");
    }
    if ratings && !list.is_empty() && list.len() != 2 {
        c.fail(
            "data.features",
            format!(
                "must name two columns (user, item) with data.format = \"ratings\", got {}",
                list.len()
            ),
        );
    }
    for (i, name) in list.iter().enumerate() {
        let key = format!("data.features[{i}]");
        c.not_empty(&key, name);
        if list[..i].contains(name) {
            c.fail(key, format!("`{name}` is listed twice"));
        } else if Some(name.as_str()) == target {
            c.fail(key, format!("`{name}` is the target column (data.target)"));
        }
    }
}

pub(super) fn check_model(c: &mut Checker, m: &ModelConfig, d: &DataConfig) {
    let ModelConfig {
        kind,
        hidden,
        activation,
        width,
        layers,
        heads,
        tie_weights,
        checkpoint_activations,
        init_from,
        lora,
    } = m;
    if let Some(p) = init_from {
        c.not_empty("model.init_from", p);
    }
    if let Some(l) = lora {
        c.at_least("model.lora.rank", l.rank as u64, 1);
        c.real("model.lora.alpha", l.alpha, Open(0.0), Unbounded);
        if l.target_modules.is_empty() {
            c.fail(
                "model.lora.target_modules",
                "must name at least one layer, got []",
            );
        }
        for (i, t) in l.target_modules.iter().enumerate() {
            c.not_empty(&format!("model.lora.target_modules[{i}]"), t);
        }
    }
    c.one_of("model.kind", kind, KINDS);
    for (i, h) in hidden.iter().enumerate() {
        c.at_least(&format!("model.hidden[{i}]"), *h as u64, 1);
    }
    for (key, v) in [
        ("model.width", width),
        ("model.layers", layers),
        ("model.heads", heads),
    ] {
        if let Some(v) = v {
            c.at_least(key, *v as u64, 1);
        }
    }
    let k = kind.as_str();
    if !KINDS.contains(&k) {
        return;
    }
    let owner = format!("model.kind = \"{k}\"");
    c.unused(
        "model.hidden",
        k != "mlp" && !hidden.is_empty(),
        &owner,
        "mlp",
    );
    match activation {
        Some(a) if k == "mlp" => c.one_of("model.activation", a, ACTIVATIONS),
        _ => c.unused("model.activation", activation.is_some(), &owner, "mlp"),
    }
    for (key, value, users) in [
        ("model.width", width, &["lstm", "lstm_lm", "gpt", "mf"][..]),
        ("model.layers", layers, &["lstm", "lstm_lm", "gpt"][..]),
        ("model.heads", heads, &["gpt"][..]),
    ] {
        c.unused(
            key,
            value.is_some() && !users.contains(&k),
            &owner,
            &users.join(", "),
        );
    }
    let (w, h) = (width.unwrap_or(64), heads.unwrap_or(4));
    if k == "gpt" && w > 0 && h > 0 && w % h != 0 {
        c.fail(
            "model.heads",
            format!("must divide model.width ({w}), got {h}"),
        );
    }
    c.unused(
        "model.tie_weights",
        *tie_weights && k != "gpt",
        &owner,
        "gpt",
    );
    c.unused(
        "model.checkpoint_activations",
        *checkpoint_activations && k != "gpt",
        &owner,
        "gpt",
    );
    check_model_fits_data(c, k, d);
}

/// Pairings known from the config alone: gpt and text, mf and ratings, cnn and mnist, and the
/// task of the linear models.
fn check_model_fits_data(c: &mut Checker, kind: &str, d: &DataConfig) {
    let f = d.format.as_str();
    if !FORMATS.contains(&f) {
        return;
    }
    let needed_format = match kind {
        "gpt" | "lstm_lm" => Some("text"),
        "mf" => Some("ratings"),
        "cnn" => Some("mnist"),
        _ => None,
    };
    if let Some(needed) = needed_format.filter(|&n| n != f) {
        c.fail(
            "model.kind",
            format!("\"{kind}\" needs data.format = \"{needed}\", not \"{f}\""),
        );
    }
    let needed_kind = match f {
        "text" => Some(&["gpt", "lstm_lm"][..]),
        "ratings" => Some(&["mf"][..]),
        _ => None,
    };
    if let Some(needed) = needed_kind.filter(|n| !n.contains(&kind)) {
        let needed = needed.join("\" or \"");
        c.fail(
            "model.kind",
            format!("data.format = \"{f}\" needs model.kind = \"{needed}\", not \"{kind}\""),
        );
    }
    let needed_task = match kind {
        "linear" => Some("regression"),
        "logistic" => Some("binary"),
        "softmax" => Some("classification"),
        _ => None,
    };
    let task = task_of(d);
    if let Some(needed) = needed_task.filter(|&n| n != task && TASKS.contains(&task)) {
        c.fail(
            "model.kind",
            format!("\"{kind}\" needs data.task = \"{needed}\", not \"{task}\""),
        );
    }
}
