//! The `[search]` section of a run config: what to search ([`SearchSpace`]), what to optimize
//! (a metric of `metrics.csv` and a [`Direction`]), how to draw trials ([`SamplerSpec`]) and when
//! to stop bad ones ([`PrunerSpec`]). [`split_config`] takes it out of a config so that the rest
//! is a plain `gradus train` config.
//!
//! ```toml
//! [search]
//! metric = "val_loss"     # any column of metrics.csv: val_loss, accuracy, rmse, r2, train_loss
//! direction = "minimize"  # default: maximize for accuracy and r2, minimize for losses and rmse
//! sampler = "tpe"         # grid, random, tpe, gp; or a table: { name = "tpe", n_startup_trials = 5 }
//! pruner = "asha"         # none, median, asha; or { name = "asha", reduction_factor = 3 }
//! seed = 0
//! [search.params]
//! "optimizer.lr" = { type = "log_uniform", low = 1e-4, high = 0.3 }
//! ```

use crate::error::{search, Result, TuneError};
use crate::space::SearchSpace;
use serde::{Deserialize, Serialize};

/// Whether the objective is to be made small or large.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Smaller is better (losses, RMSE).
    Minimize,
    /// Larger is better (accuracy, R²).
    Maximize,
}

impl Direction {
    /// `value` turned into a loss: itself when minimizing, its negation when maximizing.
    pub fn loss(self, value: f64) -> f64 {
        match self {
            Direction::Minimize => value,
            Direction::Maximize => -value,
        }
    }
}

/// Options of the TPE sampler, with Optuna's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TpeOptions {
    /// Trials drawn at random before TPE starts (Optuna: 10).
    pub n_startup_trials: usize,
    /// Candidates drawn from the good trials' density, the best ratio wins (Optuna: 24).
    pub n_ei_candidates: usize,
    /// Weight of the prior (a wide kernel at the range's middle) in each density (Optuna: 1.0).
    pub prior_weight: f64,
}

impl Default for TpeOptions {
    fn default() -> Self {
        TpeOptions {
            n_startup_trials: 10,
            n_ei_candidates: 24,
            prior_weight: 1.0,
        }
    }
}

/// How trials' parameters are drawn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum SamplerSpec {
    /// Every combination in turn; a float range gives `points` values (log-spaced for a log
    /// range), an int range all its values or `points` of them if more, a categorical all
    /// choices.
    Grid {
        /// Values per float (and large int) range (default 5).
        points: usize,
    },
    /// Independent draws from each distribution.
    Random,
    /// Tree-structured Parzen estimator (Bergstra et al. 2011) as Optuna's `TPESampler`.
    Tpe(TpeOptions),
    /// Gaussian-process Bayesian optimization with expected improvement
    /// ([`crate::sampler::gp`]).
    Gp {
        /// Completed trials drawn at random first (default 10).
        n_startup_trials: usize,
        /// Candidates scored per trial (default 1000).
        n_candidates: usize,
    },
}

/// When a running trial is stopped for good.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum PrunerSpec {
    /// Every trial runs to its end.
    None,
    /// Optuna's `MedianPruner`: stop a trial whose best value so far is worse than the median of
    /// the completed trials' values at the same epoch.
    Median {
        /// Completed trials needed before any pruning (Optuna: 5).
        n_startup_trials: usize,
        /// Epochs of each trial never pruned (Optuna: 0).
        n_warmup_steps: usize,
    },
    /// Asynchronous successive halving (Li et al. 2018), as Optuna's `SuccessiveHalvingPruner`:
    /// at epochs `min_resource * reduction_factor^k` a trial goes on only if its value is in the
    /// best `1 / reduction_factor` of the values all trials had at that epoch.
    Asha {
        /// Epochs before the first rung (Optuna: 1 when `auto` finds no data).
        min_resource: usize,
        /// The `η` of successive halving (Optuna: 4).
        reduction_factor: usize,
    },
}

/// The whole `[search]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchSpec {
    /// The `metrics.csv` column the search optimizes (last epoch's value).
    pub metric: String,
    /// Minimize or maximize it.
    pub direction: Direction,
    /// How parameters are drawn.
    pub sampler: SamplerSpec,
    /// When trials are stopped early.
    pub pruner: PrunerSpec,
    /// Seeds the samplers (trial `n` draws with a generator seeded by `seed` and `n`).
    pub seed: u64,
    /// What is searched.
    pub space: SearchSpace,
}

/// A config split into its `[search]` section and the rest.
#[derive(Clone, Debug)]
pub struct SplitConfig {
    /// The config without `[search]`: what every trial starts from.
    pub base: toml::Table,
    /// The search.
    pub spec: SearchSpec,
}

/// Splits a config's text into the run config and its `[search]` section.
///
/// ```
/// let text = r#"
/// epochs = 3
/// [search]
/// metric = "accuracy"
/// [search.params]
/// "optimizer.lr" = { type = "log_uniform", low = 1e-3, high = 1.0 }
/// "#;
/// let split = gradus_tune::split_config(text, "example.toml").unwrap();
/// assert!(!split.base.contains_key("search"));
/// assert_eq!(split.spec.direction, gradus_tune::Direction::Maximize); // accuracy
/// ```
///
/// # Errors
/// The text is not TOML (line and column); `[search]` is missing, or refused (the key named:
/// unknown keys, an unknown sampler or pruner, options out of range, a bad parameter).
pub fn split_config(text: &str, source: &str) -> Result<SplitConfig> {
    let mut base: toml::Table = toml::from_str(text).map_err(|e| TuneError::Toml {
        file: source.to_string(),
        message: e.to_string(),
    })?;
    let section = match base.remove("search") {
        Some(toml::Value::Table(t)) => t,
        Some(_) => {
            return Err(TuneError::Toml {
                file: source.to_string(),
                message: "`search` must be a table ([search])".to_string(),
            })
        }
        None => {
            return Err(TuneError::Toml {
                file: source.to_string(),
                message: "no [search] section: add one naming the parameters to search (see the README's `gradus tune`)".to_string(),
            })
        }
    };
    Ok(SplitConfig {
        base,
        spec: SearchSpec::from_table(&section)?,
    })
}

impl SearchSpec {
    /// Reads the `[search]` table.
    ///
    /// # Errors
    /// As [`split_config`].
    pub fn from_table(t: &toml::Table) -> Result<SearchSpec> {
        const KEYS: [&str; 6] = ["metric", "direction", "sampler", "pruner", "seed", "params"];
        if let Some(extra) = t.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(search(
                extra.clone(),
                format!("unknown key (allowed: {})", KEYS.join(", ")),
            ));
        }
        let metric = match t.get("metric") {
            None => "val_loss".to_string(),
            Some(toml::Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => return Err(search("metric", "must be a metrics.csv column name")),
        };
        let direction = match t.get("direction").map(|v| v.as_str()) {
            Some(Some("minimize")) => Direction::Minimize,
            Some(Some("maximize")) => Direction::Maximize,
            Some(_) => return Err(search("direction", "must be \"minimize\" or \"maximize\"")),
            None => default_direction(&metric).ok_or_else(|| {
                let columns = gradus_train::metrics::metric_columns();
                let hint = match closest(&metric, &columns) {
                    Some(c) => format!(" (or is `metric` misspelt? did you mean `{c}`?)"),
                    None => String::new(),
                };
                search(
                    "direction",
                    format!(
                        "missing: say whether `{metric}` is to be minimized or maximized{hint}"
                    ),
                )
            })?,
        };
        let seed = match t.get("seed") {
            None => 0,
            Some(toml::Value::Integer(i)) if *i >= 0 => *i as u64,
            Some(_) => return Err(search("seed", "must be a non-negative integer")),
        };
        let space = match t.get("params") {
            Some(toml::Value::Table(p)) => SearchSpace::from_table(p)?,
            _ => {
                return Err(search(
                    "params",
                    "missing: a table of the parameters to search",
                ))
            }
        };
        Ok(SearchSpec {
            metric,
            direction,
            sampler: sampler(t.get("sampler"))?,
            pruner: pruner(t.get("pruner"))?,
            seed,
            space,
        })
    }
}

/// The candidate nearest to `word` by edit distance, when it is close (at most a third of the
/// word's length away): the likely intended name of a typo.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let distance = |a: &str, b: &str| {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cur = row[j + 1];
                row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
                prev = cur;
            }
        }
        row[b.len()]
    };
    candidates
        .iter()
        .map(|c| (distance(word, c), *c))
        .min()
        .filter(|(d, _)| *d <= word.chars().count().div_ceil(3))
        .map(|(_, c)| c)
}

/// Minimize for losses and RMSE, maximize for accuracy and R², unknown otherwise.
fn default_direction(metric: &str) -> Option<Direction> {
    match metric {
        "accuracy" | "r2" => Some(Direction::Maximize),
        m if m.ends_with("loss") || m == "rmse" => Some(Direction::Minimize),
        _ => None,
    }
}

/// A `sampler`/`pruner` entry: a name, or a table with `name` and options. Returns the name and
/// the options.
fn named(key: &str, v: Option<&toml::Value>, default: &str) -> Result<(String, toml::Table)> {
    match v {
        None => Ok((default.to_string(), toml::Table::new())),
        Some(toml::Value::String(s)) => Ok((s.clone(), toml::Table::new())),
        Some(toml::Value::Table(t)) => {
            let mut t = t.clone();
            match t.remove("name") {
                Some(toml::Value::String(s)) => Ok((s, t)),
                _ => Err(search(format!("{key}.name"), "missing: a string")),
            }
        }
        Some(_) => Err(search(key, "must be a name or a table with `name`")),
    }
}

/// Takes the option `opt` (an integer of at least `min`) out of `t`, or `default`.
fn take_usize(
    key: &str,
    t: &mut toml::Table,
    opt: &str,
    default: usize,
    min: usize,
) -> Result<usize> {
    match t.remove(opt) {
        None => Ok(default),
        Some(toml::Value::Integer(i)) if i >= min as i64 => Ok(i as usize),
        Some(_) => Err(search(
            format!("{key}.{opt}"),
            format!("must be an integer of at least {min}"),
        )),
    }
}

/// The options each sampler and pruner takes, for the message refusing another.
fn options_of(name: &str) -> &'static [&'static str] {
    match name {
        "grid" => &["points"],
        "gp" => &["n_startup_trials", "n_candidates"],
        "tpe" => &["n_startup_trials", "n_ei_candidates", "prior_weight"],
        "median" => &["n_startup_trials", "n_warmup_steps"],
        "asha" => &["min_resource", "reduction_factor"],
        _ => &[],
    }
}

/// Refuses what options are left in `t`, listing those `name` takes.
fn no_more(key: &str, name: &str, t: &toml::Table) -> Result<()> {
    match t.keys().next() {
        Some(k) => {
            let allowed = match options_of(name) {
                [] => "it takes none".to_string(),
                o => format!("it takes {}", o.join(", ")),
            };
            Err(search(
                format!("{key}.{k}"),
                format!("not an option of the {name} {key} ({allowed})"),
            ))
        }
        None => Ok(()),
    }
}

fn sampler(v: Option<&toml::Value>) -> Result<SamplerSpec> {
    let (name, mut t) = named("sampler", v, "tpe")?;
    let s = match name.as_str() {
        "grid" => SamplerSpec::Grid {
            points: take_usize("sampler", &mut t, "points", 5, 2)?,
        },
        "random" => SamplerSpec::Random,
        "gp" => SamplerSpec::Gp {
            n_startup_trials: take_usize("sampler", &mut t, "n_startup_trials", 10, 0)?,
            n_candidates: take_usize("sampler", &mut t, "n_candidates", 1000, 1)?,
        },
        "tpe" => {
            let d = TpeOptions::default();
            let prior_weight = match t.remove("prior_weight") {
                None => d.prior_weight,
                Some(toml::Value::Float(x)) if x > 0.0 && x.is_finite() => x,
                Some(toml::Value::Integer(i)) if i > 0 => i as f64,
                Some(_) => return Err(search("sampler.prior_weight", "must be above 0")),
            };
            SamplerSpec::Tpe(TpeOptions {
                n_startup_trials: take_usize(
                    "sampler",
                    &mut t,
                    "n_startup_trials",
                    d.n_startup_trials,
                    0,
                )?,
                n_ei_candidates: take_usize(
                    "sampler",
                    &mut t,
                    "n_ei_candidates",
                    d.n_ei_candidates,
                    1,
                )?,
                prior_weight,
            })
        }
        other => {
            return Err(search(
                "sampler",
                format!("unknown sampler `{other}` (expected grid, random, tpe or gp)"),
            ))
        }
    };
    no_more("sampler", &name, &t)?;
    Ok(s)
}

fn pruner(v: Option<&toml::Value>) -> Result<PrunerSpec> {
    let (name, mut t) = named("pruner", v, "none")?;
    let p = match name.as_str() {
        "none" => PrunerSpec::None,
        "median" => PrunerSpec::Median {
            n_startup_trials: take_usize("pruner", &mut t, "n_startup_trials", 5, 0)?,
            n_warmup_steps: take_usize("pruner", &mut t, "n_warmup_steps", 0, 0)?,
        },
        "asha" => PrunerSpec::Asha {
            min_resource: take_usize("pruner", &mut t, "min_resource", 1, 1)?,
            reduction_factor: take_usize("pruner", &mut t, "reduction_factor", 4, 2)?,
        },
        other => {
            return Err(search(
                "pruner",
                format!("unknown pruner `{other}` (expected none, median or asha)"),
            ))
        }
    };
    no_more("pruner", &name, &t)?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: &str =
        "[search.params]\n\"optimizer.lr\" = { type = \"log_uniform\", low = 1e-4, high = 1 }\n";

    fn spec(search: &str) -> Result<SearchSpec> {
        split_config(
            &format!("epochs = 2\n[search]\n{search}\n{PARAMS}"),
            "c.toml",
        )
        .map(|s| s.spec)
    }

    #[test]
    fn defaults_are_optunas() {
        let s = spec("").unwrap();
        assert_eq!(s.metric, "val_loss");
        assert_eq!(s.direction, Direction::Minimize);
        assert_eq!(s.sampler, SamplerSpec::Tpe(TpeOptions::default()));
        assert_eq!(s.pruner, PrunerSpec::None);
        let s = spec("pruner = \"asha\"\nsampler = { name = \"grid\", points = 3 }").unwrap();
        assert_eq!(
            s.pruner,
            PrunerSpec::Asha {
                min_resource: 1,
                reduction_factor: 4
            }
        );
        assert_eq!(s.sampler, SamplerSpec::Grid { points: 3 });
        let s = spec("pruner = { name = \"median\", n_startup_trials = 2 }").unwrap();
        assert_eq!(
            s.pruner,
            PrunerSpec::Median {
                n_startup_trials: 2,
                n_warmup_steps: 0
            }
        );
    }

    #[test]
    fn refusals_name_the_key() {
        let cases = [
            ("samplr = \"tpe\"", "[search] samplr: unknown key"),
            (
                "sampler = \"cmaes\"",
                "[search] sampler: unknown sampler `cmaes`",
            ),
            (
                "sampler = { name = \"tpe\", gamma = 0.2 }",
                "[search] sampler.gamma: not an option of the tpe sampler (it takes n_startup_trials, n_ei_candidates, prior_weight)",
            ),
            (
                "pruner = { name = \"asha\", reduction_factor = 1 }",
                "[search] pruner.reduction_factor: must be an integer of at least 2",
            ),
            (
                "metric = \"f1\"",
                "[search] direction: missing: say whether `f1`",
            ),
            ("direction = \"down\"", "[search] direction: must be"),
            (
                "metric = \"val_los\"",
                "[search] direction: missing: say whether `val_los` is to be minimized or maximized (or is `metric` misspelt? did you mean `val_loss`?)",
            ),
            ("seed = -1", "[search] seed: must be a non-negative integer"),
        ];
        for (text, want) in cases {
            let e = spec(text).unwrap_err().to_string();
            assert!(e.starts_with(want), "{text}: {e}");
        }
        let e = split_config("epochs = 2\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.toml: no [search] section"), "{e}");
        let e = split_config("epochs = \n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.toml: "), "{e}");
    }
}
