//! `gradus.optim`: gradus's optimizers over Python tensors, configured with PyTorch's
//! hyperparameter names exactly as the `[optimizer]` table of a config (so the same checks and
//! messages apply), and learning-rate schedules as pure functions of the step.

use crate::errors::{run_error, value_error};
use crate::tensor::PyTensor;
use gradus_optim::{Optimizer, Schedule};
use gradus_run::config::{OptimizerConfig, ScheduleConfig};
use gradus_tensor::Tensor;
use pyo3::prelude::*;

type R<T> = PyResult<T>;

/// An optimizer config from its JSON object (`{"name": "adam", "lr": 0.001, ...}`): an unknown
/// key or a value of the wrong type is a `ValueError` naming it.
fn optimizer_config(json: &str) -> R<OptimizerConfig> {
    serde_json::from_str(json).map_err(|e| value_error(format!("optimizer: {e}")))
}

/// A learning-rate schedule: `Schedule(optimizer_json, schedule_json, total_steps)`, the
/// schedule a run of `total_steps` steps would follow (`[schedule]`'s keys; warmup included).
#[pyclass(name = "Schedule", module = "gradus")]
pub struct PySchedule {
    lr: Schedule,
}

#[pymethods]
impl PySchedule {
    #[new]
    fn new(optimizer: &str, schedule: &str, total_steps: u64) -> R<Self> {
        let o = optimizer_config(optimizer)?;
        let s: ScheduleConfig =
            serde_json::from_str(schedule).map_err(|e| value_error(format!("schedule: {e}")))?;
        let (lr, _, _) =
            gradus_run::setup::schedule(&o, Some(&s), total_steps).map_err(run_error)?;
        Ok(PySchedule { lr })
    }

    /// The learning rate at `step` (0-based).
    fn __call__(&self, step: u64) -> f64 {
        self.lr.value(step)
    }
}

/// An optimizer over tensors that require gradients: `Optimizer(params, optimizer_json,
/// schedule_json=None, total_steps=0)`. `step()` updates the tensors in place from their
/// gradients; `zero_grad()` clears the gradients.
#[pyclass(name = "Optimizer", module = "gradus")]
pub struct PyOptimizer {
    opt: Optimizer,
    params: Vec<Tensor>,
    lr: Schedule,
    steps: u64,
}

#[pymethods]
impl PyOptimizer {
    #[new]
    #[pyo3(signature = (params, optimizer, schedule = None, total_steps = 0))]
    fn new(
        params: Vec<PyRef<'_, PyTensor>>,
        optimizer: &str,
        schedule: Option<&str>,
        total_steps: u64,
    ) -> R<Self> {
        let o = optimizer_config(optimizer)?;
        let s: Option<ScheduleConfig> = schedule
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| value_error(format!("schedule: {e}")))?;
        let (lr, _, momentum) =
            gradus_run::setup::schedule(&o, s.as_ref(), total_steps).map_err(run_error)?;
        let params: Vec<Tensor> = params.iter().map(|p| p.t.clone()).collect();
        if let Some(i) = params.iter().position(|p| !p.requires_grad()) {
            return Err(value_error(format!(
                "optimizer: parameter {i} does not require grad (make it with Tensor(..., requires_grad=True))"
            )));
        }
        let t = gradus_run::setup::transform(&o, lr.clone(), momentum, true).map_err(run_error)?;
        let opt = Optimizer::new(t, &params).map_err(value_error)?;
        Ok(PyOptimizer {
            opt,
            params,
            lr,
            steps: 0,
        })
    }

    /// One update of every parameter from its gradient.
    fn step(&mut self) -> R<()> {
        self.opt.step().map_err(value_error)?;
        self.steps += 1;
        Ok(())
    }

    /// Clears every parameter's gradient.
    fn zero_grad(&self) {
        self.opt.zero_grad();
    }

    /// The learning rate the next step takes.
    #[getter]
    fn lr(&self) -> f64 {
        self.lr.value(self.steps)
    }

    /// Steps taken.
    #[getter]
    fn steps(&self) -> u64 {
        self.steps
    }

    /// The parameters, as given.
    #[getter]
    fn params(&self) -> Vec<PyTensor> {
        self.params
            .iter()
            .map(|t| PyTensor { t: t.clone() })
            .collect()
    }
}
