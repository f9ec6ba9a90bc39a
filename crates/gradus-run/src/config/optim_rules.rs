//! The rules for the `[optimizer]` and `[schedule]` tables of a config: PyTorch's argument
//! checks, and refusal of a key the chosen optimizer or schedule does not use (see
//! [`Config::validate`](super::Config::validate)).

use super::check::{
    Bound::{Closed, Open, Unbounded},
    Checker,
};
use super::{OptimizerConfig, ScheduleConfig};

const OPTIMIZERS: &[&str] = &[
    "sgd",
    "adam",
    "adamw",
    "rmsprop",
    "adagrad",
    "adadelta",
    "adamax",
    "nadam",
    "radam",
    "lion",
    "lamb",
    "lars",
    "adabelief",
    "yogi",
    "kfac",
    "natural_gradient",
    "learned",
];
const SCHEDULES: &[&str] = &[
    "constant",
    "step",
    "multistep",
    "exponential",
    "cosine",
    "warm_restarts",
    "onecycle",
    "polynomial",
    "plateau",
];
/// The values of `optimizer.state_dtype`.
const STATE_DTYPES: &[&str] = &["f32", "f64"];
/// Which optimizers take each optional hyperparameter (as `setup.rs` builds them).
const OPTIMIZER_KEYS: &[(&str, &[&str])] = &[
    ("momentum", &["sgd", "rmsprop", "kfac"]),
    ("nesterov", &["sgd"]),
    ("betas", &["adam", "adamw", "adamax", "nadam", "radam"]),
    ("eps", &["adam", "adamw", "rmsprop"]),
    ("amsgrad", &["adam", "adamw"]),
    (
        "weight_decay",
        &[
            "sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "radam",
            "lion", "lamb", "lars", "kfac",
        ],
    ),
    ("damping", &["kfac", "natural_gradient"]),
    ("stat_decay", &["kfac"]),
    ("kl_clip", &["kfac"]),
    ("stat_freq", &["kfac"]),
    ("inv_freq", &["kfac"]),
    ("weights", &["learned"]),
];

/// Which schedules take each optional setting.
const SCHEDULE_KEYS: &[(&str, &[&str])] = &[
    (
        "warmup_steps",
        &[
            "constant",
            "step",
            "multistep",
            "exponential",
            "cosine",
            "warm_restarts",
            "polynomial",
        ],
    ),
    ("step_size", &["step", "warm_restarts"]),
    ("milestones", &["multistep"]),
    ("gamma", &["step", "multistep", "exponential", "plateau"]),
    ("min_lr", &["cosine", "warm_restarts"]),
    ("t_mult", &["warm_restarts"]),
    ("total_steps", &["cosine", "onecycle", "polynomial"]),
    ("max_lr", &["onecycle"]),
    ("patience", &["plateau"]),
    ("power", &["polynomial"]),
];

/// The names in `table` that take `key`.
fn users_of<'a>(table: &[(&str, &'a [&'a str])], key: &str) -> &'a [&'a str] {
    table
        .iter()
        .find(|(k, _)| *k == key)
        .map_or(&[], |(_, users)| users)
}

/// Refuses `section.key` when it is set but the chosen `name` is not among its users in `table`.
fn used_by(
    c: &mut Checker,
    table: &[(&str, &[&str])],
    section: &str,
    key: &str,
    name: &str,
    set: bool,
) {
    let users = users_of(table, key);
    c.unused(
        &format!("{section}.{key}"),
        set && !users.contains(&name),
        &format!("{section} \"{name}\""),
        &users.join(", "),
    );
}

pub(super) fn check_optimizer(c: &mut Checker, o: &OptimizerConfig, onecycle: bool) {
    let OptimizerConfig {
        name,
        lr,
        momentum,
        nesterov,
        weight_decay,
        no_decay_on_bias,
        betas,
        eps,
        amsgrad,
        clip_grad_norm,
        state_dtype,
        damping,
        stat_decay,
        kl_clip,
        stat_freq,
        inv_freq,
        weights,
    } = o;
    c.one_of("optimizer.name", name, OPTIMIZERS);
    c.real("optimizer.lr", *lr, Closed(0.0), Unbounded);
    // torch accepts any momentum >= 0; at 1 or more the velocity never decays and the run
    // diverges or circles, so gradus refuses it (as it refuses betas outside [0, 1))
    if let Some(m) = momentum {
        c.real("optimizer.momentum", *m, Closed(0.0), Open(1.0));
    }
    for (key, v) in [
        ("optimizer.weight_decay", weight_decay),
        ("optimizer.eps", eps),
    ] {
        if let Some(v) = v {
            c.real(key, *v, Closed(0.0), Unbounded);
        }
    }
    for (i, b) in betas.iter().flatten().enumerate() {
        c.real(&format!("optimizer.betas[{i}]"), *b, Closed(0.0), Open(1.0));
    }
    if let Some(v) = clip_grad_norm {
        c.real("optimizer.clip_grad_norm", *v, Open(0.0), Unbounded);
    }
    if let Some(d) = state_dtype {
        c.one_of("optimizer.state_dtype", d, STATE_DTYPES);
    }
    check_curvature(c, o);
    if !OPTIMIZERS.contains(&name.as_str()) {
        return;
    }
    let n = name.as_str();
    for (key, set) in [
        ("momentum", momentum.is_some()),
        ("nesterov", *nesterov),
        ("betas", betas.is_some()),
        ("eps", eps.is_some()),
        ("amsgrad", *amsgrad),
        ("weight_decay", weight_decay.is_some()),
        ("damping", damping.is_some()),
        ("stat_decay", stat_decay.is_some()),
        ("kl_clip", kl_clip.is_some()),
        ("stat_freq", stat_freq.is_some()),
        ("inv_freq", inv_freq.is_some()),
        ("weights", weights.is_some()),
    ] {
        used_by(c, OPTIMIZER_KEYS, "optimizer", key, n, set);
    }
    if n == "learned" && !matches!(weights.as_deref(), Some(w) if !w.is_empty()) {
        c.fail(
            "optimizer.weights",
            "is required for optimizer \"learned\" (the safetensors file of its network, e.g. \"learned-optimizer.safetensors\")",
        );
    }
    let cycled = onecycle && n == "sgd";
    // plain SGD keeps no per-parameter state: a state dtype would change nothing
    if state_dtype.is_some() && n == "sgd" && !cycled && momentum.unwrap_or(0.0) == 0.0 {
        c.fail(
            "optimizer.state_dtype",
            "has no effect: optimizer \"sgd\" without momentum keeps no per-parameter state \
             (set optimizer.momentum, or remove this key)",
        );
    }
    if cycled && momentum.is_some() {
        c.fail(
            "optimizer.momentum",
            "is replaced by the one-cycle schedule's momentum (0.95 to 0.85 and back); remove it",
        );
    }
    if *nesterov && n == "sgd" && !cycled && momentum.unwrap_or(0.0) <= 0.0 {
        c.fail(
            "optimizer.nesterov",
            format!(
                "needs optimizer.momentum > 0, got {} (torch: \"Nesterov momentum requires a momentum\")",
                momentum.unwrap_or(0.0)
            ),
        );
    }
    let decay = weight_decay.unwrap_or(if n == "adamw" { 0.01 } else { 0.0 });
    let decays = users_of(OPTIMIZER_KEYS, "weight_decay").contains(&n);
    if *no_decay_on_bias && (!decays || decay == 0.0) {
        c.fail(
            "optimizer.no_decay_on_bias",
            format!("has no effect: optimizer \"{n}\" runs with no weight decay here"),
        );
    }
}

/// The ranges of the K-FAC and natural-gradient keys.
fn check_curvature(c: &mut Checker, o: &OptimizerConfig) {
    if let Some(d) = o.damping {
        c.real("optimizer.damping", d, Open(0.0), Unbounded);
    }
    if let Some(d) = o.stat_decay {
        c.real("optimizer.stat_decay", d, Closed(0.0), Open(1.0));
    }
    if let Some(k) = o.kl_clip {
        c.real("optimizer.kl_clip", k, Closed(0.0), Unbounded);
    }
    for (key, v) in [
        ("optimizer.stat_freq", o.stat_freq),
        ("optimizer.inv_freq", o.inv_freq),
    ] {
        if let Some(v) = v {
            c.at_least(key, v, 1);
        }
    }
    let n = o.name.as_str();
    if o.state_dtype.is_some() && matches!(n, "kfac" | "natural_gradient") {
        c.fail(
            "optimizer.state_dtype",
            format!(
                "is not supported by optimizer \"{n}\" (its curvature statistics are always f64)"
            ),
        );
    }
}

pub(super) fn check_schedule(c: &mut Checker, s: &ScheduleConfig, lr: f64) {
    let ScheduleConfig {
        name,
        warmup_steps,
        step_size,
        milestones,
        gamma,
        min_lr,
        t_mult,
        total_steps,
        max_lr,
        patience,
        power,
    } = s;
    c.one_of("schedule.name", name, SCHEDULES);
    let n = name.as_str();
    if SCHEDULES.contains(&n) {
        for (key, set) in [
            ("warmup_steps", warmup_steps.is_some()),
            ("step_size", step_size.is_some()),
            ("milestones", milestones.is_some()),
            ("gamma", gamma.is_some()),
            ("min_lr", min_lr.is_some()),
            ("t_mult", t_mult.is_some()),
            ("total_steps", total_steps.is_some()),
            ("max_lr", max_lr.is_some()),
            ("patience", patience.is_some()),
            ("power", power.is_some()),
        ] {
            used_by(c, SCHEDULE_KEYS, "schedule", key, n, set);
        }
    }
    for (key, missing) in [
        (
            "step_size",
            step_size.is_none() && matches!(n, "step" | "warm_restarts"),
        ),
        ("milestones", milestones.is_none() && n == "multistep"),
        ("gamma", gamma.is_none() && n == "exponential"),
    ] {
        if missing {
            c.fail(
                format!("schedule.{key}"),
                format!("is required for schedule \"{n}\""),
            );
        }
    }
    if let (Some(w), Some(t)) = (warmup_steps, total_steps) {
        if w >= t {
            c.fail(
                "schedule.warmup_steps",
                format!("must be less than schedule.total_steps ({t}), got {w}"),
            );
        }
    }
    for (key, v) in [
        ("schedule.step_size", step_size),
        ("schedule.t_mult", t_mult),
        ("schedule.total_steps", total_steps),
    ] {
        if let Some(v) = v {
            c.at_least(key, *v, 1);
        }
    }
    if let Some(list) = milestones {
        if list.is_empty() {
            c.fail("schedule.milestones", "must list at least one step, got []");
        }
        for (i, m) in list.iter().enumerate() {
            c.at_least(&format!("schedule.milestones[{i}]"), *m, 1);
        }
    }
    match gamma {
        Some(g) if n == "plateau" => c.real("schedule.gamma", *g, Open(0.0), Open(1.0)),
        Some(g) => c.real("schedule.gamma", *g, Open(0.0), Unbounded),
        None => {}
    }
    if let Some(m) = min_lr {
        c.real("schedule.min_lr", *m, Closed(0.0), Unbounded);
        if *m > lr {
            c.fail(
                "schedule.min_lr",
                format!("must not exceed optimizer.lr ({lr}), got {m}"),
            );
        }
    }
    for (key, v) in [("schedule.max_lr", max_lr), ("schedule.power", power)] {
        if let Some(v) = v {
            c.real(key, *v, Open(0.0), Unbounded);
        }
    }
}
