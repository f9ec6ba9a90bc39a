//! Every config key with its type, default and allowed values, for `gradus config --list`:
//! generated from the config structs' source (field names, types, doc comments), the defaults a
//! minimal config resolves to, and the allowed-values table of `validate.rs`, so the list cannot
//! drift from what the parser and the checks accept.

use super::Config;

/// One key as `gradus config --list` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyDoc {
    /// Dotted key (`optimizer.lr`).
    pub key: String,
    /// TOML type: `string`, `integer`, `float`, `bool`, `array of ...`.
    pub kind: String,
    /// The default, `required`, or `unset` (optional without a default).
    pub default: String,
    /// Allowed values, as `validate.rs`'s table gives them (empty when it has no row).
    pub allowed: String,
    /// The field's doc comment (first sentence).
    pub doc: String,
}

/// The config structs: the main sections, then `[distributed]` and `[federated]`.
const CONFIG_SOURCES: [&str; 2] = [include_str!("../config.rs"), include_str!("dist.rs")];
/// The allowed-values tables: the main sections', then `[distributed]` and `[federated]`'s.
const VALIDATE_SOURCES: [&str; 2] = [include_str!("validate.rs"), include_str!("dist.rs")];

/// The section a config struct is read into (`None`: not a config section).
fn section(name: &str) -> Option<&'static str> {
    Some(match name {
        "Config" => "",
        "DataConfig" => "data",
        "AugmentConfig" => "data.augment",
        "ModelConfig" => "model",
        "LoraConfig" => "model.lora",
        "OptimizerConfig" => "optimizer",
        "ScheduleConfig" => "schedule",
        "BatchConfig" => "batch",
        "TrainConfig" => "train",
        "DistributedConfig" => "distributed",
        "FederatedConfig" => "federated",
        _ => return None,
    })
}

/// A Rust field type as its TOML type.
fn toml_type(rust: &str) -> String {
    let rust = rust.trim();
    if let Some(inner) = rust
        .strip_prefix("Option<")
        .and_then(|r| r.strip_suffix('>'))
    {
        return toml_type(inner);
    }
    if let Some(inner) = rust.strip_prefix("Vec<").and_then(|r| r.strip_suffix('>')) {
        return format!("array of {}", toml_type(inner));
    }
    if let Some(inner) = rust.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        let (t, n) = inner.split_once(';').unwrap_or((inner, "?"));
        return format!("array of {} {}", n.trim(), toml_type(t));
    }
    match rust {
        "String" => "string",
        "f64" | "f32" => "float",
        "usize" | "u64" | "u32" | "i64" => "integer",
        "bool" => "bool",
        other => other,
    }
    .to_string()
}

/// The allowed-values table of `validate.rs`: key to allowed values.
fn allowed_table() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in VALIDATE_SOURCES.iter().flat_map(|s| s.lines()) {
        let Some(row) = line.strip_prefix("//! | `") else {
            continue;
        };
        let cells: Vec<&str> = row.splitn(2, " | ").collect();
        let [keys, allowed] = cells[..] else { continue };
        let allowed = allowed.trim_end_matches('|').trim().replace('`', "");
        for key in format!("`{keys}").split(", ") {
            let key = key.trim().trim_matches('`').replace("[i]", "");
            if key.ends_with(".*") {
                continue; // a pointer to another table
            }
            out.push((key, allowed.clone()));
        }
    }
    out
}

/// The defaults a config with only its required keys resolves to, as JSON.
fn defaults() -> serde_json::Value {
    // [federated]'s required keys are listed as required whatever this gives them
    let minimal = "[data]\nformat = \"csv\"\npath = \"REQUIRED\"\n[data.augment]\n[model]\nkind = \"REQUIRED\"\n[optimizer]\nname = \"REQUIRED\"\nlr = 0.0\n[schedule]\nname = \"REQUIRED\"\n[distributed]\n[federated]\nclients = 0\nfraction = 0.0\nrounds = 0\nlocal_epochs = 0\nlocal_batch = 0\nlr = 0.0\n";
    toml::from_str::<Config>(minimal)
        .ok()
        .and_then(|c| serde_json::to_value(c).ok())
        .unwrap_or_default()
}

/// Every key of a run config, in file order (top-level keys, then each section's).
///
/// ```
/// let keys = gradus_run::config::keys::keys();
/// let lr = keys.iter().find(|k| k.key == "optimizer.lr").unwrap();
/// assert_eq!((lr.kind.as_str(), lr.default.as_str()), ("float", "required"));
/// assert!(lr.allowed.contains(">= 0"));
/// let epochs = keys.iter().find(|k| k.key == "epochs").unwrap();
/// assert_eq!(epochs.default, "10");
/// ```
pub fn keys() -> Vec<KeyDoc> {
    let allowed = allowed_table();
    let defaults = defaults();
    let mut out = Vec::new();
    let (mut current, mut doc, mut has_default) = (None, String::new(), false);
    for line in CONFIG_SOURCES.iter().flat_map(|s| s.lines()) {
        let t = line.trim();
        if let Some(name) = t
            .strip_prefix("pub struct ")
            .and_then(|r| r.strip_suffix(" {"))
        {
            current = section(name);
            doc.clear();
            continue;
        }
        if t == "}" {
            current = None;
        }
        if let Some(d) = t.strip_prefix("///") {
            if doc.is_empty() || !doc.ends_with('.') {
                doc = format!("{doc} {}", d.trim()).trim().to_string();
            }
            continue;
        }
        if t.starts_with("#[serde(default") {
            has_default = true;
            continue;
        }
        let (Some(sec), Some(field)) = (current, t.strip_prefix("pub ")) else {
            if !t.starts_with("#[") {
                (doc, has_default) = (String::new(), false);
            }
            continue;
        };
        let Some((name, ty)) = field.trim_end_matches(',').split_once(':') else {
            continue;
        };
        let ty = ty.trim();
        let nested = ty.trim_start_matches("Option<").trim_end_matches('>');
        if section(nested).is_some() {
            (doc, has_default) = (String::new(), false);
            continue; // a section, not a key
        }
        let key = if sec.is_empty() {
            name.to_string()
        } else {
            format!("{sec}.{name}")
        };
        let value = sec
            .split('.')
            .filter(|s| !s.is_empty())
            .try_fold(&defaults, |v, s| v.get(s))
            .and_then(|s| s.get(name));
        let default = if !has_default && !ty.starts_with("Option<") {
            "required".to_string()
        } else {
            match value {
                None | Some(serde_json::Value::Null) => "unset".to_string(),
                Some(serde_json::Value::String(s)) => format!("\"{s}\""),
                Some(v) => v.to_string(),
            }
        };
        let allowed_here = allowed
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, a)| a.clone())
            .unwrap_or_default();
        let first_sentence = doc
            .split(". ")
            .next()
            .unwrap_or("")
            .trim_end_matches('.')
            .to_string();
        out.push(KeyDoc {
            key,
            kind: toml_type(ty),
            default,
            allowed: allowed_here,
            doc: first_sentence,
        });
        (doc, has_default) = (String::new(), false);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_the_allowed_table_is_a_listed_key() {
        let listed: Vec<String> = keys().into_iter().map(|k| k.key).collect();
        for (key, _) in allowed_table() {
            assert!(
                listed.contains(&key),
                "validate.rs lists `{key}`, which config.rs has no field for: {listed:?}"
            );
        }
    }

    #[test]
    fn types_defaults_and_required_keys() {
        let k = keys();
        let get = |n: &str| {
            k.iter()
                .find(|d| d.key == n)
                .unwrap_or_else(|| panic!("{n}"))
        };
        assert_eq!(get("data.format").default, "required");
        assert_eq!(get("batch.mode").default, "\"minibatch\"");
        assert_eq!(get("model.hidden").kind, "array of integer");
        assert_eq!(get("optimizer.betas").kind, "array of 2 float");
        assert_eq!(get("train.tensorboard").kind, "bool");
        assert_eq!(get("schedule.gamma").default, "unset");
        assert!(get("model.activation").allowed.contains("gelu"));
        assert_eq!(get("train.noise_scale").default, "false");
        // [distributed] and [federated], from dist.rs
        assert_eq!(get("distributed.bucket_cap_mb").default, "25.0");
        assert!(get("distributed.bucket_cap_mb").allowed.contains("> 0"));
        assert_eq!(get("federated.clients").default, "required");
        assert_eq!(get("federated.partition").default, "\"iid\"");
        assert!(get("federated.rounds").allowed.contains("at least 1"));
        let ckpt = get("model.checkpoint_activations");
        assert_eq!(
            (ckpt.kind.as_str(), ckpt.default.as_str()),
            ("bool", "false")
        );
        assert!(ckpt.allowed.contains("gpt"));
        // [data] augment = { ... }, a table inside a section
        assert_eq!(get("data.augment.scale").default, "[1.0,1.0]");
        assert_eq!(get("data.augment.hflip").kind, "float");
        assert!(get("data.augment.rotation").allowed.contains(">= 0"));
    }
}
