//! The model at initialization: dead ReLU units (hidden units never active on a batch) and
//! per-layer gradient norms against the run's vanishing/exploding thresholds (the ones its
//! warnings and `layers.csv` in the report use: `trainer.options.watch`).

use super::{trainable, Finding, Severity};
use gradus_data::Batcher;
use gradus_run::Run;
use gradus_tensor::capture;
use gradus_train::batch::to_device;
use gradus_train::diagnostics::{layer_of, GradNorms};

/// Samples the dead-unit count looks at.
pub const DEAD_SAMPLES: usize = 256;
/// A layer with more dead units than this share is a warning...
pub const DEAD_WARNING: f64 = 0.1;
/// ...and with more than this share, serious.
pub const DEAD_SERIOUS: f64 = 0.5;

/// Dead ReLU units of an MLP with ReLU activations, per hidden layer: units whose output is 0
/// for every one of the first [`DEAD_SAMPLES`] training samples (dropout off). Other models:
/// no finding.
///
/// # Errors
/// When the forward pass fails.
pub fn dead_relu(run: &Run) -> Result<Vec<Finding>, String> {
    let m = &run.config.model;
    if m.kind != "mlp" || m.activation.as_deref().unwrap_or("relu") != "relu" {
        return Ok(Vec::new());
    }
    let model = run.trainer.model.as_ref();
    model.eval();
    let idx: Vec<usize> = (0..run.train.len().min(DEAD_SAMPLES)).collect();
    let batch = to_device(
        &run.train,
        &idx,
        &run.trainer.task,
        run.trainer.options.dtype,
    )
    .map_err(|e| e.to_string())?;
    // the Linear layers' inputs: those after the first are the ReLU outputs of the layer before
    let was = capture::is_active();
    capture::enable(true);
    let out = model.forward(&batch.x);
    let captures = capture::take();
    capture::enable(was);
    out.map_err(|e| e.to_string())?;
    let names = model.named_parameters();
    let layer_name = |id| {
        names
            .iter()
            .find(|(_, p)| p.tensor().id() == id)
            .map_or("?".to_string(), |(n, _)| layer_of(n).to_string())
    };
    let mut findings = Vec::new();
    let mut total = (0, 0);
    for pair in captures.windows(2) {
        let inputs = &pair[1].inputs;
        let (rows, units) = (inputs.shape()[0], inputs.shape()[1]);
        let v = inputs.to_vec_f64();
        let dead = (0..units)
            .filter(|&j| (0..rows).all(|i| v[i * units + j] <= 0.0))
            .count();
        total = (total.0 + dead, total.1 + units);
        let share = dead as f64 / units.max(1) as f64;
        if share > DEAD_WARNING {
            let severity = if share > DEAD_SERIOUS {
                Severity::Serious
            } else {
                Severity::Warning
            };
            findings.push(Finding::problem(
                "dead_relu",
                severity,
                format!(
                    "layer `{}`: {dead} of {units} ReLU units ({:.0}%) are 0 on all {rows} samples at initialization",
                    layer_name(pair[0].weight),
                    100.0 * share
                ),
                "standardize the inputs ([data] standardize = true), use model.activation = \
                 \"leaky_relu\" or \"gelu\", or a lower optimizer.lr so that units do not die in \
                 training either",
            ));
        }
    }
    if findings.is_empty() && total.1 > 0 {
        findings.push(Finding::ok(
            "dead_relu",
            format!(
                "{} of {} hidden ReLU units are 0 on all {} samples at initialization (limit {:.0}% per layer)",
                total.0,
                total.1,
                idx.len(),
                100.0 * DEAD_WARNING
            ),
        ));
    }
    Ok(findings)
}

/// Per-layer gradient norms of the loss on the first training batch at initialization, against
/// the run's vanishing and exploding thresholds.
///
/// # Errors
/// When the forward or backward pass fails.
pub fn gradient_norms(run: &Run) -> Result<Vec<Finding>, String> {
    let model = run.trainer.model.as_ref();
    let task = &run.trainer.task;
    let options = &run.trainer.options;
    let batcher = Batcher::new(run.train.len(), options.batch).map_err(|e| e.to_string())?;
    let idx = batcher
        .epoch(0)
        .into_iter()
        .next()
        .ok_or("no training batch")?;
    let batch = to_device(&run.train, &idx, task, options.dtype).map_err(|e| e.to_string())?;
    model.train(true);
    model.zero_grad();
    let out = model.forward(&batch.x).map_err(|e| e.to_string())?;
    let loss = task.loss(&out, &batch.y).map_err(|e| e.to_string())?;
    let backward = loss.backward();
    let norms = GradNorms::measure(&trainable(run)).map_err(|e| e.to_string());
    model.zero_grad();
    backward.map_err(|e| e.to_string())?;
    Ok(judge(
        &norms?,
        options.watch.vanishing_below,
        options.watch.exploding_above,
    ))
}

/// The findings for these per-layer norms and thresholds.
pub fn judge(norms: &GradNorms, vanishing_below: f64, exploding_above: f64) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (layer, n) in &norms.per_layer {
        if !n.is_finite() || *n > exploding_above {
            findings.push(Finding::problem(
                "gradient_norms",
                Severity::Serious,
                format!("layer `{layer}`: gradient norm {n:.3e} at initialization exceeds {exploding_above:.0e} (the run's exploding-gradient threshold)"),
                "standardize the features ([data] standardize = true), lower optimizer.lr, or \
                 clip gradients (optimizer.clip_grad_norm = 1.0)",
            ));
        } else if *n < vanishing_below {
            findings.push(Finding::problem(
                "gradient_norms",
                Severity::Warning,
                format!("layer `{layer}`: gradient norm {n:.3e} at initialization is below {vanishing_below:.0e} (the run's vanishing-gradient threshold)"),
                "use model.activation = \"relu\" or \"gelu\" instead of sigmoid/tanh, fewer \
                 layers, or normalization layers; check that the layer is used by the loss",
            ));
        }
    }
    if findings.is_empty() {
        let lo = norms.per_layer.iter().min_by(|a, b| a.1.total_cmp(&b.1));
        let hi = norms.per_layer.iter().max_by(|a, b| a.1.total_cmp(&b.1));
        if let (Some(lo), Some(hi)) = (lo, hi) {
            findings.push(Finding::ok(
                "gradient_norms",
                format!(
                    "per-layer gradient norms at initialization from {:.3e} (`{}`) to {:.3e} (`{}`), within [{vanishing_below:.0e}, {exploding_above:.0e}]",
                    lo.1, lo.0, hi.1, hi.0
                ),
            ));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norms_outside_the_thresholds_are_named() {
        let norms = GradNorms::from_squares(["a.weight", "b.weight"], &[1e10, 1e-20]);
        let f = judge(&norms, 1e-7, 1e4);
        assert_eq!(f.len(), 2);
        assert!(f[0].severity == Severity::Serious && f[0].message.contains("`a`"));
        assert!(f[1].severity == Severity::Warning && f[1].message.contains("`b`"));
        let ok = judge(&GradNorms::from_squares(["a.weight"], &[1.0]), 1e-7, 1e4);
        assert_eq!(ok[0].severity, Severity::Ok);
    }
}
