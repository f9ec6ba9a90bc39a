//! Runs on data already in memory (NumPy arrays from the Python package, a Rust program's own
//! samples): the [`ModelSpec`] that [`setup::load_data`](crate::setup::load_data) derives from
//! files, derived from datasets instead. The config's `[data]` table still gives the task, the
//! validation fraction and standardization; its `format` and `path` are not read.

use crate::config::Config;
use crate::error::Result;
use crate::setup::{ModelSpec, RunData};
use gradus_data::{Dataset, Standardizer, Targets, Validation};

/// Splits off the validation part (`data.validation`, unless `val` is given), standardizes with
/// the training part's statistics when `data.standardize`, and describes the model the config
/// asks for on these samples.
///
/// # Errors
/// A validation fraction the data cannot honour, a `binary` task on more than two classes, a
/// scaler that cannot be fitted; each message names the config key.
///
/// ```
/// use gradus_data::{Dataset, Targets};
/// let config = gradus_run::Config::from_toml_str(
///     "[data]\nformat = \"csv\"\npath = \"arrays\"\ntarget = \"y\"\ntask = \"binary\"\n\
///      [model]\nkind = \"logistic\"\n[optimizer]\nname = \"sgd\"\nlr = 0.1\n",
/// )?;
/// let targets = Targets::Classes { labels: vec![0, 1, 1], num_classes: 2 };
/// let train = Dataset::new(vec![0.0, 1.0, 2.0], vec![1], targets)?;
/// let (data, spec) = gradus_run::arrays::spec_for(&config, train, None)?;
/// assert_eq!((spec.outputs, spec.input_shape.clone(), data.train.len()), (1, vec![1], 3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn spec_for(c: &Config, train: Dataset, val: Option<Dataset>) -> Result<(RunData, ModelSpec)> {
    let d = &c.data;
    let (mut train, mut val) = match (val, d.validation) {
        (Some(v), _) => (train, Some(v)),
        (None, Some(fraction)) => gradus_data::split_dataset(
            train,
            Validation::Holdout {
                fraction,
                seed: c.seed,
            },
        )
        .map_err(|e| format!("data.validation: {e}"))?,
        (None, None) => (train, None),
    };
    let scaler = if d.standardize {
        let s = Standardizer::fit(&train).map_err(|e| format!("data.standardize: {e}"))?;
        for ds in std::iter::once(&mut train).chain(val.as_mut()) {
            s.transform(ds)
                .map_err(|e| format!("data.standardize: {e}"))?;
        }
        Some(s)
    } else {
        None
    };
    let task = d.task().to_string();
    let outputs = match train.targets() {
        t @ Targets::Classes { .. } if task == "binary" => crate::setup::binary_outputs(t)?,
        Targets::Classes { num_classes, .. } => *num_classes,
        Targets::Values { dim, .. } => *dim,
    };
    let spec = ModelSpec {
        data: d.clone(),
        model: c.model.clone(),
        task,
        outputs,
        input_shape: train.feature_shape().to_vec(),
        dtype: c.dtype.clone(),
        features: Vec::new(),
        target: d.target.clone(),
        vocab: None,
        scaler,
        users_items: None,
    };
    Ok((
        RunData {
            train,
            val,
            test: None,
        },
        spec,
    ))
}
