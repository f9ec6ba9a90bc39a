//! `Engine`: what a scikit-learn estimator of `gradus.sklearn` holds. `Engine.fit` builds a run
//! from a config (as `gradus train` does, through [`gradus_run::RunBuilder`], with the samples
//! given by [`RunBuilder::data`]) and trains it, writing the run directory and showing the
//! CLI's progress unless quiet; `predict` gives the model's raw outputs; `partial_fit` trains
//! the same model and optimizer on more samples; `to_bytes` / `from_bytes` carry a trained model
//! through pickle.

use crate::arrays;
use crate::errors::{run_error, value_error};
use gradus_data::{Dataset, Targets};
use gradus_nn::Module;
use gradus_run::{Config, ModelSpec, Run, RunBuilder};
use gradus_tensor::autodiff::no_grad;
use gradus_tensor::{DType, Rng};
use numpy::{PyArrayDyn, PyReadonlyArray1, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

type R<T> = PyResult<T>;

/// A trained model: the run that trained it (so that `partial_fit` goes on with its
/// optimizer), or a model read back from bytes.
enum Held {
    Run(Box<Run>),
    Model(Box<dyn Module>, Box<ModelSpec>),
}

/// A trained gradus model and, after `fit`, its run.
#[pyclass(module = "gradus._gradus", unsendable)]
pub struct Engine {
    held: Held,
    warnings: Vec<String>,
    summary: String,
}

/// Samples as a gradus data set: features `x [n, ...]`, and either class `labels [n]` in
/// `0..classes` or regression `values [n, outputs]`.
fn dataset(
    x: &PyReadonlyArrayDyn<'_, f32>,
    labels: Option<PyReadonlyArray1<'_, i64>>,
    classes: usize,
    values: Option<PyReadonlyArrayDyn<'_, f32>>,
) -> R<Dataset> {
    let (features, shape) = arrays::to_vec(x);
    if shape.len() < 2 {
        return Err(value_error(format!(
            "X must have a samples axis and features, got shape {shape:?}"
        )));
    }
    let targets = match (labels, values) {
        (Some(l), None) => {
            let labels = l
                .as_array()
                .iter()
                .map(|&v| u32::try_from(v).ok().filter(|&v| (v as usize) < classes))
                .collect::<Option<Vec<u32>>>()
                .ok_or_else(|| value_error(format!("labels must lie in 0..{classes}")))?;
            Targets::Classes {
                labels,
                num_classes: classes,
            }
        }
        (None, Some(v)) => {
            let (values, shape) = arrays::to_vec(&v);
            let [_, dim] = shape[..] else {
                return Err(value_error(format!(
                    "values must be [samples, outputs], got shape {shape:?}"
                )));
            };
            Targets::Values { values, dim }
        }
        _ => return Err(value_error("give either labels or values")),
    };
    Dataset::new(features, shape[1..].to_vec(), targets).map_err(value_error)
}

impl Engine {
    fn model(&self) -> &dyn Module {
        match &self.held {
            Held::Run(r) => r.trainer.model.as_ref(),
            Held::Model(m, _) => m.as_ref(),
        }
    }

    fn spec(&self) -> &ModelSpec {
        match &self.held {
            Held::Run(r) => &r.spec,
            Held::Model(_, s) => s,
        }
    }
}

#[pymethods]
impl Engine {
    /// Builds the run `config` (TOML, as for `gradus train`; `[data]` gives the task,
    /// `validation` and `standardize`) on these samples, trains it into `out_dir`, and returns
    /// the trained engine.
    ///
    /// # Errors
    /// `ValueError` with the config checker's message for a bad setting, or naming the shapes
    /// for data that do not fit; `RuntimeError` when training fails (divergence: the step and
    /// the layer).
    #[staticmethod]
    #[pyo3(signature = (config, x, labels, classes, values, out_dir, quiet = true))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        config: &str,
        x: PyReadonlyArrayDyn<'_, f32>,
        labels: Option<PyReadonlyArray1<'_, i64>>,
        classes: usize,
        values: Option<PyReadonlyArrayDyn<'_, f32>>,
        out_dir: &str,
        quiet: bool,
    ) -> R<Engine> {
        let config = Config::from_toml_str(config).map_err(run_error)?;
        let train = dataset(&x, labels, classes, values)?;
        let mut run = RunBuilder::new(config)
            .data(train, None)
            .out_dir(out_dir)
            .quiet(quiet)
            .build()
            .map_err(run_error)?;
        let outcome = run.train().map_err(run_error)?;
        let summary = serde_json::to_string(&outcome.summary).map_err(value_error)?;
        Ok(Engine {
            warnings: std::mem::take(&mut run.warnings),
            held: Held::Run(Box::new(run)),
            summary,
        })
    }

    /// Trains the model `epochs` more epochs on these samples, with the optimizer (and its
    /// state) of the run; the run directory's files are rewritten.
    ///
    /// # Errors
    /// As `fit`; `ValueError` for an engine read back from bytes (it has no optimizer).
    #[pyo3(signature = (x, labels, classes, values, epochs = 1))]
    fn partial_fit(
        &mut self,
        x: PyReadonlyArrayDyn<'_, f32>,
        labels: Option<PyReadonlyArray1<'_, i64>>,
        classes: usize,
        values: Option<PyReadonlyArrayDyn<'_, f32>>,
        epochs: usize,
    ) -> R<()> {
        let Held::Run(run) = &mut self.held else {
            return Err(value_error("partial_fit: this model was read back from a pickle and has no optimizer state; call fit"));
        };
        let mut data = dataset(&x, labels, classes, values)?;
        if let Some(s) = &run.spec.scaler {
            s.transform(&mut data).map_err(value_error)?;
        }
        run.train = gradus_run::setup::reshape_for_model(data, &run.spec.model_input_shape())
            .map_err(run_error)?;
        run.val = None;
        run.trainer.options.epochs = epochs;
        let outcome = run.train().map_err(run_error)?;
        self.summary = serde_json::to_string(&outcome.summary).map_err(value_error)?;
        Ok(())
    }

    /// The model's raw outputs (logits for classifiers) for samples `x [n, features...]`,
    /// standardized as in training, as float32 `[n, outputs]`.
    ///
    /// # Errors
    /// `ValueError` naming the shapes when `x` does not fit the model.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArrayDyn<'py, f32>,
    ) -> R<Bound<'py, PyArrayDyn<f32>>> {
        let (features, shape) = arrays::to_vec(&x);
        let rows = shape.first().copied().unwrap_or(0);
        let spec = self.spec();
        let input = spec.input_tensor(features, rows).map_err(run_error)?;
        let model = self.model();
        model.eval();
        let out = no_grad(|| model.forward(&input))
            .map_err(value_error)?
            .to_dtype(DType::F32)
            .map_err(value_error)?;
        let out_shape = out.shape().to_vec();
        arrays::from_vec(py, out.to_vec::<f32>().map_err(value_error)?, &out_shape)
    }

    /// Warnings the run raised while it was built (schedule lengths and the like).
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    /// The run's summary (`summary.json`'s fields) as JSON.
    #[getter]
    fn summary(&self) -> String {
        self.summary.clone()
    }

    /// The model as `(spec_json, safetensors_bytes)`, for pickling.
    fn to_bytes<'py>(&self, py: Python<'py>) -> R<(String, Bound<'py, PyBytes>)> {
        let spec = serde_json::to_string(self.spec()).map_err(value_error)?;
        let bytes = gradus_nn::state_dict::to_bytes(self.model()).map_err(value_error)?;
        Ok((spec, PyBytes::new(py, &bytes)))
    }

    /// A model read back from `to_bytes`' output (it predicts; it cannot `partial_fit`).
    ///
    /// # Errors
    /// `ValueError` when the spec or the weights do not fit together.
    #[staticmethod]
    fn from_bytes(spec: &str, weights: &[u8], summary: &str) -> R<Engine> {
        let spec: ModelSpec = serde_json::from_str(spec).map_err(value_error)?;
        let model = spec.build(&mut Rng::seed(0)).map_err(run_error)?;
        gradus_nn::state_dict::from_bytes(model.as_ref(), weights).map_err(value_error)?;
        model.eval();
        Ok(Engine {
            held: Held::Model(model, Box::new(spec)),
            warnings: Vec::new(),
            summary: summary.to_string(),
        })
    }
}
