//! The search space: one [`Distribution`] per dotted config key, read from `[search.params]`.
//!
//! ```toml
//! [search.params]
//! "optimizer.lr" = { type = "log_uniform", low = 1e-4, high = 0.3 }
//! "optimizer.momentum" = { type = "uniform", low = 0.0, high = 0.99 }
//! "batch.size" = { type = "int", low = 16, high = 128, step = 16 }
//! "model.activation" = { type = "categorical", choices = ["relu", "tanh"] }
//! ```
//!
//! Keys may also be written as nested tables (`[search.params.optimizer]` then
//! `lr = { type = ... }`): a table with a `type` entry is a parameter, any other table a prefix.
//! The distributions are Optuna's: `FloatDistribution` (uniform, log), `IntDistribution` (step or
//! log) and `CategoricalDistribution`.

use crate::error::{search, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The range a hyperparameter is drawn from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Distribution {
    /// A float in `[low, high]`, uniform.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound, above `low`.
        high: f64,
    },
    /// A float in `[low, high]` whose logarithm is uniform (`0 < low < high`).
    LogUniform {
        /// Lower bound, above 0.
        low: f64,
        /// Upper bound, above `low`.
        high: f64,
    },
    /// An integer in `low, low + step, ..., high`; with `log`, its logarithm is uniform (then
    /// `step` is 1 and `low >= 1`).
    Int {
        /// Lower bound.
        low: i64,
        /// Upper bound; `high - low` is a multiple of `step`.
        high: i64,
        /// Spacing of the values (1 when absent).
        step: i64,
        /// Draw on a log scale.
        log: bool,
    },
    /// One of the listed TOML values (strings, numbers, booleans, arrays).
    Categorical {
        /// The values, at least one.
        choices: Vec<toml::Value>,
    },
}

/// A drawn value: the float, the integer, or the index of a categorical choice.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamValue {
    /// A float of a uniform or log-uniform distribution.
    Float(f64),
    /// An integer of an int distribution.
    Int(i64),
    /// The index of a categorical choice.
    Choice(usize),
}

/// One searched hyperparameter: its dotted config key and its distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// The config key it sets, e.g. `optimizer.lr`.
    pub name: String,
    /// Where its values come from.
    pub distribution: Distribution,
}

/// The parameters of a search, sorted by key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchSpace {
    /// The parameters, sorted by name.
    pub params: Vec<Param>,
}

/// Values drawn for a trial, by parameter name.
pub type Params = BTreeMap<String, ParamValue>;

impl Distribution {
    /// The value in the sampler's internal scale: floats as they are (their log for log
    /// distributions), integers as floats (their log with `log`), categorical choices by index.
    pub fn to_internal(&self, v: ParamValue) -> f64 {
        match (self, v) {
            (Distribution::LogUniform { .. }, ParamValue::Float(x)) => x.ln(),
            (Distribution::Int { log: true, .. }, ParamValue::Int(i)) => (i as f64).ln(),
            (_, ParamValue::Float(x)) => x,
            (_, ParamValue::Int(i)) => i as f64,
            (_, ParamValue::Choice(c)) => c as f64,
        }
    }

    /// The value for an internal-scale number, clamped to the range (integers rounded to the
    /// step, categorical indices rounded).
    pub fn from_internal(&self, x: f64) -> ParamValue {
        match self {
            Distribution::Uniform { low, high } => ParamValue::Float(x.clamp(*low, *high)),
            Distribution::LogUniform { low, high } => ParamValue::Float(x.exp().clamp(*low, *high)),
            Distribution::Int {
                low,
                high,
                step,
                log,
            } => {
                let x = if *log { x.exp() } else { x };
                let k = ((x - *low as f64) / *step as f64).round();
                let v = low + (k.max(0.0) as i64) * step;
                ParamValue::Int(v.clamp(*low, *high))
            }
            Distribution::Categorical { choices } => {
                ParamValue::Choice((x.round().max(0.0) as usize).min(choices.len() - 1))
            }
        }
    }

    /// The internal-scale bounds `(low, high)` of a numerical distribution (`None` for a
    /// categorical one).
    pub fn internal_bounds(&self) -> Option<(f64, f64)> {
        match self {
            Distribution::Uniform { low, high } => Some((*low, *high)),
            Distribution::LogUniform { low, high } => Some((low.ln(), high.ln())),
            Distribution::Int {
                low,
                high,
                log: true,
                ..
            } => Some(((*low as f64).ln(), (*high as f64).ln())),
            Distribution::Int { low, high, .. } => Some((*low as f64, *high as f64)),
            Distribution::Categorical { .. } => None,
        }
    }

    /// The value as it goes into the config.
    pub fn to_toml(&self, v: ParamValue) -> toml::Value {
        match (self, v) {
            (Distribution::Categorical { choices }, ParamValue::Choice(c)) => choices[c].clone(),
            (_, ParamValue::Int(i)) => toml::Value::Integer(i),
            (_, ParamValue::Float(x)) => toml::Value::Float(x),
            (_, ParamValue::Choice(c)) => toml::Value::Integer(c as i64),
        }
    }

    /// The value as the journal writes it (the config value, as JSON).
    pub fn to_json(&self, v: ParamValue) -> serde_json::Value {
        serde_json::to_value(self.to_toml(v)).unwrap_or(serde_json::Value::Null)
    }

    /// Reads back a value written by [`to_json`](Self::to_json); `None` when it does not belong
    /// to this distribution.
    pub fn from_json(&self, j: &serde_json::Value) -> Option<ParamValue> {
        match self {
            Distribution::Uniform { .. } | Distribution::LogUniform { .. } => {
                j.as_f64().map(ParamValue::Float)
            }
            Distribution::Int { .. } => j.as_i64().map(ParamValue::Int),
            Distribution::Categorical { choices } => choices
                .iter()
                .position(|c| serde_json::to_value(c).ok().as_ref() == Some(j))
                .map(ParamValue::Choice),
        }
    }

    /// Whether `v` is a value of this distribution.
    pub fn contains(&self, v: ParamValue) -> bool {
        match (self, v) {
            (Distribution::Uniform { low, high }, ParamValue::Float(x))
            | (Distribution::LogUniform { low, high }, ParamValue::Float(x)) => {
                *low <= x && x <= *high
            }
            (
                Distribution::Int {
                    low, high, step, ..
                },
                ParamValue::Int(i),
            ) => *low <= i && i <= *high && (i - low) % step == 0,
            (Distribution::Categorical { choices }, ParamValue::Choice(c)) => c < choices.len(),
            _ => false,
        }
    }
}

impl SearchSpace {
    /// Reads `[search.params]` (the table under it).
    ///
    /// ```
    /// let t: toml::Table = toml::from_str(
    ///     r#""optimizer.lr" = { type = "log_uniform", low = 1e-4, high = 0.1 }
    ///        [batch]
    ///        size = { type = "int", low = 16, high = 64, step = 16 }"#,
    /// ).unwrap();
    /// let space = gradus_tune::SearchSpace::from_table(&t).unwrap();
    /// let names: Vec<_> = space.params.iter().map(|p| p.name.as_str()).collect();
    /// assert_eq!(names, ["batch.size", "optimizer.lr"]);
    /// ```
    ///
    /// # Errors
    /// [`TuneError::Search`](crate::TuneError::Search) naming the parameter
    /// (`params.optimizer.lr`) for an unknown type or key, a missing bound, an empty range, a
    /// log range that reaches 0, a step that does not divide the range, no choices; or for an
    /// empty space.
    pub fn from_table(table: &toml::Table) -> Result<SearchSpace> {
        let mut params = Vec::new();
        flatten("", table, &mut params)?;
        if params.is_empty() {
            return Err(search(
                "params",
                "no parameters to search: add e.g. \"optimizer.lr\" = { type = \"log_uniform\", low = 1e-4, high = 0.1 }",
            ));
        }
        params.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(SearchSpace { params })
    }

    /// The parameter named `name`.
    pub fn get(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut Vec<Param>) -> Result<()> {
    for (k, v) in table {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) if t.contains_key("type") => out.push(Param {
                distribution: distribution(&name, t)?,
                name,
            }),
            toml::Value::Table(t) => flatten(&name, t, out)?,
            _ => {
                return Err(search(
                    format!("params.{name}"),
                    "expected a table such as { type = \"uniform\", low = 0.0, high = 1.0 }",
                ))
            }
        }
    }
    Ok(())
}

/// Reads one parameter's table.
fn distribution(name: &str, t: &toml::Table) -> Result<Distribution> {
    let key = format!("params.{name}");
    let err = |problem: String| search(key.clone(), problem);
    let kind = t
        .get("type")
        .and_then(|v| v.as_str())
        .ok_or_else(|| err("`type` must be a string".into()))?;
    let allowed: &[&str] = match kind {
        "uniform" | "log_uniform" => &["type", "low", "high"],
        "int" => &["type", "low", "high", "step", "log"],
        "categorical" => &["type", "choices"],
        other => {
            return Err(err(format!(
                "unknown type `{other}` (expected uniform, log_uniform, int or categorical)"
            )))
        }
    };
    if let Some(extra) = t.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(err(format!(
            "unknown key `{extra}` for type {kind} (allowed: {})",
            allowed.join(", ")
        )));
    }
    let float = |f: &str| -> Result<f64> {
        match t.get(f) {
            Some(toml::Value::Float(x)) if x.is_finite() => Ok(*x),
            Some(toml::Value::Integer(i)) => Ok(*i as f64),
            Some(_) => Err(err(format!("`{f}` must be a finite number"))),
            None => Err(err(format!("`{f}` is missing"))),
        }
    };
    let int = |f: &str, default: Option<i64>| -> Result<i64> {
        match (t.get(f), default) {
            (Some(toml::Value::Integer(i)), _) => Ok(*i),
            (Some(_), _) => Err(err(format!("`{f}` must be an integer"))),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(err(format!("`{f}` is missing"))),
        }
    };
    match kind {
        "uniform" | "log_uniform" => {
            let (low, high) = (float("low")?, float("high")?);
            if low >= high {
                return Err(err(format!("low ({low}) must be below high ({high})")));
            }
            if kind == "uniform" {
                return Ok(Distribution::Uniform { low, high });
            }
            if low <= 0.0 {
                return Err(err(format!("a log range needs low > 0 (got {low})")));
            }
            Ok(Distribution::LogUniform { low, high })
        }
        "int" => {
            let (low, high, step) = (int("low", None)?, int("high", None)?, int("step", Some(1))?);
            let log = match t.get("log") {
                None => false,
                Some(toml::Value::Boolean(b)) => *b,
                Some(_) => return Err(err("`log` must be true or false".into())),
            };
            if low >= high {
                return Err(err(format!("low ({low}) must be below high ({high})")));
            }
            if step < 1 {
                return Err(err(format!("step must be at least 1 (got {step})")));
            }
            if (high - low) % step != 0 {
                return Err(err(format!(
                    "high - low ({}) must be a multiple of step ({step})",
                    high - low
                )));
            }
            if log && (low < 1 || step != 1) {
                return Err(err(
                    "a log int range needs low >= 1 and step = 1 (as Optuna's)".into(),
                ));
            }
            Ok(Distribution::Int {
                low,
                high,
                step,
                log,
            })
        }
        _ => match t.get("choices") {
            Some(toml::Value::Array(a)) if !a.is_empty() => {
                Ok(Distribution::Categorical { choices: a.clone() })
            }
            _ => Err(err("`choices` must be a non-empty array".into())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(text: &str) -> Result<SearchSpace> {
        SearchSpace::from_table(&toml::from_str(text).unwrap())
    }

    #[test]
    fn reads_every_kind_in_quoted_and_nested_form() {
        let s = space(
            r#""optimizer.lr" = { type = "log_uniform", low = 1e-4, high = 1 }
               "optimizer.momentum" = { type = "uniform", low = 0, high = 0.99 }
               [batch]
               size = { type = "int", low = 16, high = 128, step = 16 }
               [model]
               activation = { type = "categorical", choices = ["relu", "tanh"] }
               hidden_width = { type = "int", low = 4, high = 256, log = true }"#,
        )
        .unwrap();
        let by = |n: &str| s.get(n).unwrap().distribution.clone();
        assert_eq!(
            by("optimizer.lr"),
            Distribution::LogUniform {
                low: 1e-4,
                high: 1.0
            }
        );
        assert_eq!(
            by("optimizer.momentum"),
            Distribution::Uniform {
                low: 0.0,
                high: 0.99
            }
        );
        assert_eq!(
            by("batch.size"),
            Distribution::Int {
                low: 16,
                high: 128,
                step: 16,
                log: false
            }
        );
        assert!(matches!(
            by("model.hidden_width"),
            Distribution::Int { log: true, .. }
        ));
        assert!(
            matches!(by("model.activation"), Distribution::Categorical { choices } if choices.len() == 2)
        );
        assert_eq!(s.params.len(), 5);
    }

    #[test]
    fn every_refusal_names_the_parameter() {
        let cases = [
            (
                r#"a = { type = "normal", low = 0, high = 1 }"#,
                "params.a: unknown type `normal`",
            ),
            (
                r#"a = { type = "uniform", low = 1, high = 1 }"#,
                "params.a: low (1) must be below high (1)",
            ),
            (
                r#"a = { type = "uniform", high = 1 }"#,
                "params.a: `low` is missing",
            ),
            (
                r#"a = { type = "uniform", low = 0, high = 1, step = 2 }"#,
                "params.a: unknown key `step`",
            ),
            (
                r#"b.c = { type = "log_uniform", low = 0, high = 1 }"#,
                "params.b.c: a log range needs low > 0",
            ),
            (
                r#"a = { type = "int", low = 0, high = 10, step = 3 }"#,
                "params.a: high - low (10) must be a multiple of step (3)",
            ),
            (
                r#"a = { type = "int", low = 0.5, high = 10 }"#,
                "params.a: `low` must be an integer",
            ),
            (
                r#"a = { type = "int", low = 0, high = 10, log = true }"#,
                "params.a: a log int range needs low >= 1",
            ),
            (
                r#"a = { type = "categorical", choices = [] }"#,
                "params.a: `choices` must be a non-empty array",
            ),
            ("a = 3", "params.a: expected a table"),
            ("", "params: no parameters to search"),
        ];
        for (text, want) in cases {
            let e = space(text).unwrap_err().to_string();
            assert!(e.starts_with(&format!("[search] {want}")), "{text}: {e}");
        }
    }

    #[test]
    fn internal_scale_round_trips_and_rounds_to_the_step() {
        let d = Distribution::Int {
            low: 16,
            high: 128,
            step: 16,
            log: false,
        };
        assert_eq!(d.from_internal(40.0), ParamValue::Int(48));
        assert_eq!(d.from_internal(1000.0), ParamValue::Int(128));
        let l = Distribution::LogUniform {
            low: 1e-4,
            high: 1.0,
        };
        let v = ParamValue::Float(0.01);
        match l.from_internal(l.to_internal(v)) {
            ParamValue::Float(x) => assert!((x - 0.01).abs() < 1e-15),
            other => panic!("{other:?}"),
        }
        let c = Distribution::Categorical {
            choices: vec!["relu".into(), "tanh".into()],
        };
        assert_eq!(
            c.from_json(&c.to_json(ParamValue::Choice(1))),
            Some(ParamValue::Choice(1))
        );
        assert_eq!(c.from_json(&serde_json::json!("gelu")), None);
    }
}
