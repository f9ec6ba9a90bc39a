//! A run's config as TensorBoard hyperparameters: every key, dotted (`optimizer.lr`), with its
//! value typed as the hparams plugin types them (numbers, strings, booleans; lists as text).

use crate::config::resume::for_each_leaf;
use crate::config::Config;
use gradus_train::tensorboard::HParam;

/// Every key of `config` with its value, sorted by key.
///
/// ```
/// use gradus_run::{hparams::hparams, Config};
/// use gradus_train::tensorboard::HParam;
/// let c = Config::from_toml_str(r#"
///     epochs = 3
///     [data]
///     format = "csv"
///     path = "x.csv"
///     target = "y"
///     task = "regression"
///     [model]
///     kind = "linear"
///     [optimizer]
///     name = "sgd"
///     lr = 0.1
/// "#).unwrap();
/// let hp = hparams(&c);
/// assert!(hp.contains(&("optimizer.lr".to_string(), HParam::Number(0.1))));
/// assert!(hp.contains(&("model.kind".to_string(), HParam::Text("linear".into()))));
/// assert!(hp.contains(&("epochs".to_string(), HParam::Number(3.0))));
/// ```
pub fn hparams(config: &Config) -> Vec<(String, HParam)> {
    let mut out = Vec::new();
    if let Ok(v) = toml::Value::try_from(config) {
        for_each_leaf("", &v, &mut |key, v| {
            let value = match v {
                toml::Value::Integer(i) => HParam::Number(*i as f64),
                toml::Value::Float(f) => HParam::Number(*f),
                toml::Value::Boolean(b) => HParam::Bool(*b),
                toml::Value::String(s) => HParam::Text(s.clone()),
                other => HParam::Text(other.to_string()),
            };
            out.push((key, value));
        });
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
