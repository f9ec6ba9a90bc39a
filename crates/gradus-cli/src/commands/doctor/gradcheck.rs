//! A gradient check of the config's own model: autodiff against central differences on a few
//! parameter coordinates, on one small batch, in f64.
//!
//! The model is cast to f64 for the check and back afterwards (f32 → f64 → f32 is exact, so the
//! weights are unchanged); dropout is off (evaluation mode). Tolerances are torch.autograd's
//! `gradcheck`: step 1e-6, a coordinate passes when `|autodiff − numeric| ≤ 1e-5 + 1e-3·|numeric|`.
//! A central difference straddling a ReLU kink can fail a correct gradient; the finding names the
//! coordinate so that it can be checked again.

use super::{trainable, Finding, Severity};
use gradus_run::Run;
use gradus_tensor::{autodiff::no_grad, DType, Tensor};
use gradus_train::batch::{to_device, DeviceBatch};

/// Samples in the checked batch.
pub const SAMPLES: usize = 16;
/// Parameter coordinates checked.
pub const COORDINATES: usize = 12;
const EPS: f64 = 1e-6;
const ATOL: f64 = 1e-5;
const RTOL: f64 = 1e-3;

/// One checked coordinate: parameter name, flat index, autodiff and numeric derivatives.
struct Checked {
    name: String,
    index: usize,
    analytic: f64,
    numeric: f64,
}

impl Checked {
    fn error(&self) -> f64 {
        (self.analytic - self.numeric).abs()
    }
    fn passes(&self) -> bool {
        self.error() <= ATOL + RTOL * self.numeric.abs()
    }
}

/// The gradient check's finding.
///
/// # Errors
/// When the model cannot be cast or run in f64 (the caller reports the check as skipped).
pub fn check(run: &Run) -> Result<Finding, String> {
    let model = run.trainer.model.as_ref();
    let dtype = run.trainer.options.dtype;
    model.cast(DType::F64).map_err(|e| e.to_string())?;
    let checked = compare(run);
    model.cast(dtype).map_err(|e| e.to_string())?;
    model.zero_grad();
    let checked = checked?;
    let worst = checked
        .iter()
        .max_by(|a, b| a.error().total_cmp(&b.error()))
        .ok_or("the model has no trainable parameter")?;
    let failed: Vec<&Checked> = checked.iter().filter(|c| !c.passes()).collect();
    let n = checked.len();
    let samples = run.train.len().min(SAMPLES);
    if failed.is_empty() {
        return Ok(Finding::ok(
            "gradient_check",
            format!(
                "{n} parameter coordinates on {samples} samples in f64: autodiff matches central differences (largest difference {:.1e} at `{}`[{}]; tolerance 1e-5 + 1e-3·|numeric|)",
                worst.error(), worst.name, worst.index
            ),
        ));
    }
    let f = failed[0];
    Ok(Finding::problem(
        "gradient_check",
        Severity::Serious,
        format!(
            "{} of {n} coordinates disagree: `{}`[{}] autodiff {:.6e}, central differences {:.6e}",
            failed.len(),
            f.name,
            f.index,
            f.analytic,
            f.numeric
        ),
        "a wrong gradient is a bug in the model code, not in the config: report it with this \
         config (a single disagreement next to a ReLU kink can be a false alarm: rerun with \
         another seed)",
    ))
}

/// Autodiff against central differences on [`COORDINATES`] coordinates (every parameter once,
/// then random ones), the model in f64.
fn compare(run: &Run) -> Result<Vec<Checked>, String> {
    let model = run.trainer.model.as_ref();
    let task = &run.trainer.task;
    model.eval();
    model.zero_grad();
    let idx: Vec<usize> = (0..run.train.len().min(SAMPLES)).collect();
    if idx.is_empty() {
        return Err("no training sample".into());
    }
    let batch: DeviceBatch =
        to_device(&run.train, &idx, task, DType::F64).map_err(|e| e.to_string())?;
    let loss_of = |b: &DeviceBatch| -> Result<Tensor, String> {
        let out = model.forward(&b.x).map_err(|e| e.to_string())?;
        task.loss(&out, &b.y).map_err(|e| e.to_string())
    };
    loss_of(&batch)?.backward().map_err(|e| e.to_string())?;
    let params: Vec<_> = trainable(run)
        .into_iter()
        .filter(|(_, p)| p.numel() > 0)
        .collect();
    if params.is_empty() {
        return Err("the model has no trainable parameter".into());
    }
    let mut state = run.config.seed ^ 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        // splitmix64
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut out = Vec::new();
    for k in 0..COORDINATES {
        let which = if k < params.len() {
            k
        } else {
            (next() % params.len() as u64) as usize
        };
        let (name, p) = &params[which];
        let t = p.tensor();
        let index = (next() % t.numel() as u64) as usize;
        let analytic = p.grad().map(|g| g.to_vec_f64()[index]).unwrap_or(0.0);
        let base = t.to_vec_f64();
        let at = |delta: f64| -> Result<f64, String> {
            let mut v = base.clone();
            v[index] += delta;
            let moved = Tensor::from_vec(v, t.shape()).map_err(|e| e.to_string())?;
            t.copy_from(&moved).map_err(|e| e.to_string())?;
            no_grad(|| loss_of(&batch))?
                .item()
                .map_err(|e| e.to_string())
        };
        let (plus, minus) = (at(EPS), at(-EPS));
        at(0.0)?;
        let numeric = (plus? - minus?) / (2.0 * EPS);
        out.push(Checked {
            name: name.clone(),
            index,
            analytic,
            numeric,
        });
    }
    Ok(out)
}
