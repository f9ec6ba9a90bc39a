//! What a resumed run may change: `--resume` continues the same training, so the config must be
//! the one the run was started with, except for how long it runs, how often it checkpoints and reads
//! the loss on the host, whether it logs for TensorBoard, the divergence threshold, and the learning rate and clipping (lowering them after a divergence
//! and resuming from the last good checkpoint is what the divergence message suggests).
//!
//! `optimizer.state_dtype` may not change: the checkpoint holds the optimizer's state in the dtype
//! the run declared, and continuing in another would no longer be the same training (its steps
//! would compute in the new dtype; narrowing would also round the saved moments). It is compared
//! by the dtype it means: absent is the parameters' `dtype`, so `state_dtype = "f32"` written out
//! in an f32 run changes nothing.

use super::Config;
use crate::error::RunError;
use std::collections::BTreeMap;

/// Keys a resumed run may change: its length, its checkpoints, its divergence threshold, and the
/// learning rate and gradient clipping.
pub const MAY_CHANGE: &[&str] = &[
    "epochs",
    "max_steps",
    "train.checkpoint_every",
    "train.checkpoint_every_steps",
    "train.divergence_factor",
    "train.sync_every",
    "train.tensorboard",
    "train.noise_scale",
    "optimizer.lr",
    "optimizer.clip_grad_norm",
    "distributed.bucket_cap_mb",
    "distributed.deterministic",
    "distributed.overlap",
    "distributed.timeout_s",
];

/// The key of the optimizer state's dtype, compared by the dtype it means.
const STATE_DTYPE: &str = "optimizer.state_dtype";

/// The keys that differ between `previous` (the config the run was started with, as written to
/// its run directory) and `now`, as `(key, before, now)`; absent keys read `(absent)`.
/// `optimizer.state_dtype` is compared by the dtype it means: when one side sets it, an absent one
/// reads as the parameters' dtype (`"f32" (absent: the parameters' dtype)`).
pub fn changes(previous: &Config, now: &Config) -> Vec<(String, String, String)> {
    let flat = |c: &Config| {
        let mut out = BTreeMap::new();
        if let Ok(toml::Value::Table(t)) = toml::Value::try_from(c) {
            for_each_leaf("", &toml::Value::Table(t), &mut |k, v| {
                out.insert(k, v.to_string());
            });
        }
        out
    };
    let (mut before, mut after) = (flat(previous), flat(now));
    let mut implied = Vec::new();
    if before.contains_key(STATE_DTYPE) || after.contains_key(STATE_DTYPE) {
        for (side, map) in [("before", &mut before), ("after", &mut after)] {
            if !map.contains_key(STATE_DTYPE) {
                if let Some(dtype) = map.get("dtype").cloned() {
                    map.insert(STATE_DTYPE.to_string(), dtype);
                    implied.push(side);
                }
            }
        }
    }
    let shown = |side: &str, v: String| {
        if implied.contains(&side) {
            format!("{v} (absent: the parameters' dtype)")
        } else {
            v
        }
    };
    let absent = || "(absent)".to_string();
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| {
            let b = before.get(k).cloned().unwrap_or_else(absent);
            let a = after.get(k).cloned().unwrap_or_else(absent);
            if k == STATE_DTYPE {
                return (k.clone(), shown("before", b), shown("after", a));
            }
            (k.clone(), b, a)
        })
        .collect()
}

/// Checks that `now` may resume a run started with `previous`.
///
/// # Errors
/// [`RunError::Resume`] naming every changed key that a resumed run must keep, with both values.
pub fn check(previous: &Config, now: &Config) -> Result<(), RunError> {
    let refused: Vec<String> = changes(previous, now)
        .into_iter()
        .filter(|(k, ..)| !MAY_CHANGE.contains(&k.as_str()))
        .map(|(k, b, a)| format!("  {k}: {b} in the run being resumed, now {a}"))
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    let why = if refused
        .iter()
        .any(|r| r.trim_start().starts_with(STATE_DTYPE))
    {
        " (the checkpoint holds the optimizer state in the dtype the run started with)"
    } else {
        ""
    };
    Err(RunError::Resume(format!(
        "--resume continues the same training, but the config changed:\n{}\nchange it back, or \
         start a new run (without --resume, or with another --out); only {} may change{why}",
        refused.join("\n"),
        MAY_CHANGE.join(", ")
    )))
}

/// Calls `leaf(key, value)` for every non-table value under `v`, keys dotted from `prefix`
/// (`optimizer.lr`): how resume compares configs, how TensorBoard lists hyperparameters and
/// how `gradus compare` lines up runs' configs.
pub(crate) fn for_each_leaf(
    prefix: &str,
    v: &toml::Value,
    leaf: &mut impl FnMut(String, &toml::Value),
) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                for_each_leaf(&key, v, leaf);
            }
        }
        other => leaf(prefix.to_string(), other),
    }
}
