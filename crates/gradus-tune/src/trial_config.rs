//! A trial's run config: the config without `[search]`, with the trial's values set at their
//! dotted keys; and the check, before a search starts, that the config and every parameter's
//! range ends are accepted by gradus-run (so a typo in a key or a range outside a key's allowed
//! values is an error naming it, not a column of failed trials).

use crate::error::{search, Result, TuneError};
use crate::space::{Distribution, ParamValue, Params, SearchSpace};
use crate::spec::closest;

/// `base` with each of `params` set at its dotted key.
///
/// ```
/// use gradus_tune::{trial_config::trial_config, split_config, ParamValue, Params};
/// let split = split_config(
///     "[optimizer]\nname = \"sgd\"\nlr = 0.1\n[search.params]\n\"optimizer.lr\" = { type = \"uniform\", low = 0.0, high = 1.0 }\n",
///     "c",
/// ).unwrap();
/// let params = Params::from([("optimizer.lr".to_string(), ParamValue::Float(0.5))]);
/// let t = trial_config(&split.base, &split.spec.space, &params).unwrap();
/// assert_eq!(t["optimizer"]["lr"].as_float(), Some(0.5));
/// ```
///
/// # Errors
/// A key runs through a value that is not a table (`optimizer.lr.x`).
pub fn trial_config(
    base: &toml::Table,
    space: &SearchSpace,
    params: &Params,
) -> Result<toml::Table> {
    let mut t = base.clone();
    for p in &space.params {
        if let Some(v) = params.get(&p.name) {
            set_path(&mut t, &p.name, p.distribution.to_toml(*v))
                .map_err(|problem| search(format!("params.{}", p.name), problem))?;
        }
    }
    Ok(t)
}

/// `table` as TOML text.
pub fn to_text(table: &toml::Table) -> String {
    toml::to_string(table).unwrap_or_default()
}

fn set_path(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    match key.split_once('.') {
        None => {
            table.insert(key.to_string(), value);
            Ok(())
        }
        Some((head, rest)) => match table
            .entry(head.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        {
            toml::Value::Table(t) => set_path(t, rest, value),
            _ => Err(format!("`{head}` is not a table in the config")),
        },
    }
}

/// The ends of a range (both bounds; every choice of a categorical).
fn ends(d: &Distribution) -> Vec<ParamValue> {
    match d {
        Distribution::Uniform { low, high } | Distribution::LogUniform { low, high } => {
            vec![ParamValue::Float(*low), ParamValue::Float(*high)]
        }
        Distribution::Int { low, high, .. } => vec![ParamValue::Int(*low), ParamValue::Int(*high)],
        Distribution::Categorical { choices } => {
            (0..choices.len()).map(ParamValue::Choice).collect()
        }
    }
}

/// Checks that gradus-run accepts `base` (as `gradus train` would) and `base` with each
/// parameter set to each end of its range in turn.
///
/// # Errors
/// [`TuneError::Config`] for the base config; [`TuneError::Search`] naming the parameter and the
/// value gradus-run refuses, with its message.
pub fn check(base: &toml::Table, space: &SearchSpace, source: &str) -> Result<()> {
    gradus_run::Config::parse(&to_text(base), source, &[])?;
    for p in &space.params {
        for v in ends(&p.distribution) {
            let mut t = base.clone();
            let key = format!("params.{}", p.name);
            let value = p.distribution.to_toml(v);
            set_path(&mut t, &p.name, value.clone()).map_err(|e| search(key.clone(), e))?;
            gradus_run::Config::parse(&to_text(&t), "the trial config", &[]).map_err(|e| {
                TuneError::Search {
                    key: key.clone(),
                    problem: format!("the run config refuses {} = {value}: {e}", p.name),
                }
            })?;
        }
    }
    Ok(())
}

/// Checks that `metric` is written by runs of `base`: a column of `metrics.csv`; `accuracy` for classification and binary
/// data, `rmse`/`r2` for regression, `val_loss` only with validation data.
///
/// # Errors
/// [`TuneError::Config`] for the base config; [`TuneError::Search`] on key `metric` saying why
/// the runs would not write it.
pub fn check_metric(base: &toml::Table, metric: &str, source: &str) -> Result<()> {
    let columns = gradus_train::metrics::metric_columns();
    if !columns.contains(&metric) {
        let hint = closest(metric, &columns)
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default();
        return Err(search(
            "metric",
            format!(
                "`{metric}` is not a metrics.csv column (the columns: {}){hint}",
                columns.join(", ")
            ),
        ));
    }
    let c = gradus_run::Config::parse(&to_text(base), source, &[])?;
    let task = c.data.task();
    let problem = match metric {
        "accuracy" if task == "regression" => Some(
            "`accuracy` is not written for data.task = \"regression\" (use rmse or r2)".to_string(),
        ),
        "rmse" | "r2" if task != "regression" => Some(format!(
            "`{metric}` is written for regression only, the data's task is {task} (use accuracy)"
        )),
        "val_loss" if !c.data.has_validation() => Some(
            "`val_loss` needs validation data: set data.validation (a fraction) or data.validation_path"
                .to_string(),
        ),
        _ => None,
    };
    match problem {
        Some(problem) => Err(search("metric", problem)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(data: &str) -> toml::Table {
        let text = format!(
            "[data]\n{data}\n[model]\nkind = \"mlp\"\n[optimizer]\nname = \"sgd\"\nlr = 0.1\n"
        );
        text.parse().unwrap()
    }

    #[test]
    fn a_metric_the_runs_would_not_write_is_refused_before_any_trial() {
        let mnist = base("format = \"mnist\"\npath = \"d\"\nvalidation = 0.1");
        let e = check_metric(&mnist, "val_los", "c")
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("; did you mean `val_loss`?"), "{e}");
        let e = check_metric(&mnist, "f1", "c").unwrap_err().to_string();
        assert_eq!(e, "[search] metric: `f1` is not a metrics.csv column (the columns: train_loss, val_loss, grad_norm, lr, update_ratio, accuracy, rmse, r2)");
        assert!(check_metric(&mnist, "val_loss", "c").is_ok());
        assert!(check_metric(&mnist, "accuracy", "c").is_ok());
        let e = check_metric(&mnist, "rmse", "c").unwrap_err().to_string();
        assert_eq!(e, "[search] metric: `rmse` is written for regression only, the data's task is classification (use accuracy)");
        let reg = base("format = \"csv\"\npath = \"d.csv\"\ntask = \"regression\"\ntarget = \"y\"");
        let e = check_metric(&reg, "accuracy", "c").unwrap_err().to_string();
        assert!(
            e.starts_with(
                "[search] metric: `accuracy` is not written for data.task = \"regression\""
            ),
            "{e}"
        );
        let e = check_metric(&reg, "val_loss", "c").unwrap_err().to_string();
        assert!(
            e.contains("`val_loss` needs validation data: set data.validation"),
            "{e}"
        );
        assert!(check_metric(&reg, "r2", "c").is_ok());
    }
}
