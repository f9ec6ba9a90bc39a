//! `Engine`: what a scikit-learn estimator of `gradus.sklearn` holds. `Engine.fit` builds a run
//! from a config (as `gradus train` does, through [`gradus_run::RunBuilder`], with the samples
//! given by [`RunBuilder::data`]) and trains it, writing the run directory and showing the
//! CLI's progress unless quiet; `predict` gives the model's raw outputs; `partial_fit` trains
//! the same model and optimizer on more samples; `to_bytes` / `from_bytes` carry a trained model
//! through pickle.

use crate::arrays;
use crate::errors::{run_error, value_error};
use crate::interrupt::{Interrupt, SignalWatch};
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
/// optimizer), or a model read back from bytes, with what rebuilds its run when it was pickled
/// after training.
enum Held {
    Run(Box<Run>),
    Model(Box<dyn Module>, Box<ModelSpec>, Option<Saved>),
}

/// What a pickle keeps of a run besides its model: the config it was built from and a
/// checkpoint (weights and optimizer state, as `gradus train --resume` reads).
struct Saved {
    config: String,
    checkpoint: Vec<u8>,
}

/// A trained gradus model and, after `fit`, its run.
#[pyclass(module = "gradus._gradus")]
pub struct Engine {
    held: Held,
    warnings: Vec<String>,
    summary: String,
    interrupt: Interrupt,
    /// The config of the run (TOML), kept for pickling; empty for a model read back bare.
    config: String,
}

/// Trains `run` with the GIL released (other Python threads run meanwhile), checking Python's
/// signals as it goes ([`crate::interrupt`]). A run stopped by a signal handler's exception
/// (KeyboardInterrupt) returns that exception, after the trainer stopped at a step boundary.
fn train_detached(py: Python<'_>, run: &mut Run, interrupt: &Interrupt) -> R<gradus_run::Outcome> {
    interrupt.reset();
    run.trainer.options.interrupt = Some(interrupt.flag.clone());
    let outcome = py.detach(|| run.train()).map_err(run_error)?;
    match interrupt.take() {
        Some(e) if outcome.interrupted() => Err(e),
        _ => Ok(outcome),
    }
}

/// Samples as a gradus data set: features `x [n, ...]`, either class `labels [n]` in
/// `0..classes` or regression `values [n, outputs]`, and optional loss `weights [n]`.
fn dataset(
    x: &PyReadonlyArrayDyn<'_, f32>,
    labels: Option<PyReadonlyArray1<'_, i64>>,
    classes: usize,
    values: Option<PyReadonlyArrayDyn<'_, f32>>,
    weights: Option<PyReadonlyArray1<'_, f32>>,
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
    let data = Dataset::new(features, shape[1..].to_vec(), targets).map_err(value_error)?;
    match weights {
        Some(w) => data
            .with_sample_weights(w.as_array().iter().copied().collect())
            .map_err(value_error),
        None => Ok(data),
    }
}

impl Engine {
    fn model(&self) -> &dyn Module {
        match &self.held {
            Held::Run(r) => r.trainer.model.as_ref(),
            Held::Model(m, ..) => m.as_ref(),
        }
    }

    fn spec(&self) -> &ModelSpec {
        match &self.held {
            Held::Run(r) => &r.spec,
            Held::Model(_, s, _) => s,
        }
    }
}

#[pymethods]
impl Engine {
    /// Builds the run `config` (TOML, as for `gradus train`; `[data]` gives the task,
    /// `validation` and `standardize`) on these samples (with per-sample loss `weights [n]`
    /// when given), trains it into `out_dir`, and returns the trained engine.
    ///
    /// # Errors
    /// `ValueError` with the config checker's message for a bad setting, or naming the shapes
    /// for data that do not fit; `RuntimeError` when training fails (divergence: the step and
    /// the layer).
    #[staticmethod]
    #[pyo3(signature = (config, x, labels, classes, values, weights, out_dir, quiet = true))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        config: &str,
        x: PyReadonlyArrayDyn<'_, f32>,
        labels: Option<PyReadonlyArray1<'_, i64>>,
        classes: usize,
        values: Option<PyReadonlyArrayDyn<'_, f32>>,
        weights: Option<PyReadonlyArray1<'_, f32>>,
        out_dir: &str,
        quiet: bool,
    ) -> R<Engine> {
        let text = config.to_string();
        let config = Config::from_toml_str(config).map_err(run_error)?;
        let train = dataset(&x, labels, classes, values, weights)?;
        let mut run = RunBuilder::new(config)
            .data(train, None)
            .out_dir(out_dir)
            .quiet(quiet)
            .build()
            .map_err(run_error)?;
        let interrupt = Interrupt::default();
        run.trainer
            .add_observer(SignalWatch::new(interrupt.clone()));
        let outcome = train_detached(py, &mut run, &interrupt)?;
        let summary = serde_json::to_string(&outcome.summary).map_err(value_error)?;
        Ok(Engine {
            warnings: std::mem::take(&mut run.warnings),
            held: Held::Run(Box::new(run)),
            summary,
            interrupt,
            config: text,
        })
    }

    /// Trains the model `epochs` more epochs on these samples, with the optimizer (and its
    /// state) of the run; the run directory's files are rewritten. An engine read back from a
    /// pickle of a trained one first rebuilds its run from the pickled config and checkpoint
    /// (optimizer state included, as scikit-learn's pickled `MLPClassifier` keeps its
    /// optimizer), writing into `out_dir`.
    ///
    /// # Errors
    /// As `fit`; `ValueError` for an engine read back from bytes without its run (it has no
    /// optimizer). An interrupted call leaves the model with the steps it finished.
    #[pyo3(signature = (x, labels, classes, values, weights, epochs = 1, out_dir = None, quiet = true))]
    #[allow(clippy::too_many_arguments)]
    fn partial_fit(
        &mut self,
        py: Python<'_>,
        x: PyReadonlyArrayDyn<'_, f32>,
        labels: Option<PyReadonlyArray1<'_, i64>>,
        classes: usize,
        values: Option<PyReadonlyArrayDyn<'_, f32>>,
        weights: Option<PyReadonlyArray1<'_, f32>>,
        epochs: usize,
        out_dir: Option<&str>,
        quiet: bool,
    ) -> R<()> {
        let mut data = dataset(&x, labels, classes, values, weights)?;
        if let Held::Model(_, spec, Some(saved)) = &self.held {
            let out = out_dir
                .ok_or_else(|| value_error("partial_fit: a pickled engine needs out_dir"))?;
            let run = revive(spec, saved, data.clone(), out, quiet, &self.interrupt)?;
            self.held = Held::Run(Box::new(run));
        }
        let Held::Run(run) = &mut self.held else {
            return Err(value_error("partial_fit: this model was read back from a pickle and has no optimizer state; call fit"));
        };
        if let Some(s) = &run.spec.scaler {
            s.transform(&mut data).map_err(value_error)?;
        }
        run.train = gradus_run::setup::reshape_for_model(data, &run.spec.model_input_shape())
            .map_err(run_error)?;
        run.val = None;
        run.trainer.options.epochs = epochs;
        let outcome = train_detached(py, run, &self.interrupt)?;
        self.summary = serde_json::to_string(&outcome.summary).map_err(value_error)?;
        Ok(())
    }

    /// The model's raw outputs (logits for classifiers) for samples `x [n, features...]`,
    /// standardized as in training, as float32 `[n, outputs]`; computed with the GIL released.
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
        let (out, out_shape) = py
            .detach(|| {
                let out = no_grad(|| model.forward(&input))?.to_dtype(DType::F32)?;
                let shape = out.shape().to_vec();
                Ok::<_, gradus_tensor::TensorError>((out.to_vec::<f32>()?, shape))
            })
            .map_err(value_error)?;
        arrays::from_vec(py, out, &out_shape)
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

    /// The model as `(spec_json, safetensors_bytes, run)`, for pickling: `run` is
    /// `(config_toml, checkpoint_bytes)` (weights and optimizer state) for an engine that
    /// trained or was rebuilt from one, else `None`.
    ///
    /// # Errors
    /// `ValueError` when the model or the checkpoint cannot be written.
    #[allow(clippy::type_complexity)]
    fn to_bytes<'py>(
        &self,
        py: Python<'py>,
    ) -> R<(
        String,
        Bound<'py, PyBytes>,
        Option<(String, Bound<'py, PyBytes>)>,
    )> {
        let spec = serde_json::to_string(self.spec()).map_err(value_error)?;
        let bytes = gradus_nn::state_dict::to_bytes(self.model()).map_err(value_error)?;
        let run = match &self.held {
            Held::Run(run) => Some((self.config.clone(), checkpoint_bytes(run)?)),
            Held::Model(_, _, Some(saved)) => {
                Some((saved.config.clone(), saved.checkpoint.clone()))
            }
            Held::Model(_, _, None) => None,
        };
        let run = run.map(|(c, b)| (c, PyBytes::new(py, &b)));
        Ok((spec, PyBytes::new(py, &bytes), run))
    }

    /// A model read back from `to_bytes`' output: it predicts, and with `run` it can
    /// `partial_fit` (its run is rebuilt then).
    ///
    /// # Errors
    /// `ValueError` when the spec or the weights do not fit together.
    #[staticmethod]
    #[pyo3(signature = (spec, weights, summary, run = None))]
    fn from_bytes(
        spec: &str,
        weights: &[u8],
        summary: &str,
        run: Option<(String, Vec<u8>)>,
    ) -> R<Engine> {
        let spec: ModelSpec = serde_json::from_str(spec).map_err(value_error)?;
        let model = spec.build(&mut Rng::seed(0)).map_err(run_error)?;
        gradus_nn::state_dict::from_bytes(model.as_ref(), weights).map_err(value_error)?;
        model.eval();
        let saved = run.map(|(config, checkpoint)| Saved { config, checkpoint });
        Ok(Engine {
            config: saved.as_ref().map(|s| s.config.clone()).unwrap_or_default(),
            held: Held::Model(model, Box::new(spec), saved),
            warnings: Vec::new(),
            summary: summary.to_string(),
            interrupt: Interrupt::default(),
        })
    }
}

/// The run's checkpoint file as bytes: weights, optimizer state and plateau scheduler, written
/// through a temporary file (the checkpoint writer streams to a path).
fn checkpoint_bytes(run: &Run) -> R<Vec<u8>> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("gradus-pickle-{}-{n}.ckpt", std::process::id()));
    let t = &run.trainer;
    let state = gradus_train::checkpoint::RunState::default();
    let written = gradus_train::checkpoint::save(
        &path,
        t.model.as_ref(),
        &t.optimizer,
        t.plateau.as_ref(),
        &state,
    )
    .map_err(|e| value_error(format!("pickling the run's checkpoint: {e}")))
    .and_then(|()| {
        std::fs::read(&path).map_err(|e| value_error(format!("{}: {e}", path.display())))
    });
    let _ = std::fs::remove_file(&path);
    written
}

/// Rebuilds the run of a pickled engine on `data`: the same config (without standardization:
/// the pickled scaler is kept), then the pickled checkpoint's weights and optimizer state.
fn revive(
    spec: &ModelSpec,
    saved: &Saved,
    data: Dataset,
    out_dir: &str,
    quiet: bool,
    interrupt: &Interrupt,
) -> R<Run> {
    let mut config = Config::from_toml_str(&saved.config).map_err(run_error)?;
    config.data.standardize = false;
    let mut run = RunBuilder::new(config)
        .data(data, None)
        .out_dir(out_dir)
        .quiet(quiet)
        .build()
        .map_err(run_error)?;
    run.spec = spec.clone();
    let t = &mut run.trainer;
    let reader = std::io::Cursor::new(&saved.checkpoint);
    gradus_train::checkpoint::load_from_reader(
        std::path::Path::new("pickled estimator"),
        reader,
        t.model.as_ref(),
        &mut t.optimizer,
        t.plateau.as_mut(),
    )
    .map_err(|e| value_error(e.to_string()))?;
    t.add_observer(SignalWatch::new(interrupt.clone()));
    Ok(run)
}
