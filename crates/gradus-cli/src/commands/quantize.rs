//! `gradus quantize MODEL --calibrate DATA --out FILE`: post-training int8 quantization.

use gradus_data::mnist::Split;
use gradus_quant::observer::Observer;
use gradus_quant::{convert::quantize_model, file};
use gradus_run::{load_model, ModelSpec};
use std::path::Path;

/// Options of `gradus quantize`.
pub struct Options<'a> {
    /// Calibration data (a data file or folder in the model's format; mnist: the training split).
    pub calibrate: Option<&'a str>,
    /// Calibration batches.
    pub batches: usize,
    /// Samples per calibration batch.
    pub batch_size: usize,
    /// How a convolution's input range is set from the calibration data.
    pub observer: Observer,
}

/// `--observer`'s values.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ObserverName {
    /// The full range seen.
    Minmax,
    /// Percentiles of the values seen (`--percentile`).
    Percentile,
}

impl ObserverName {
    /// The observer, with `percentile` for `Percentile`.
    pub fn with(self, percentile: f64) -> Observer {
        match self {
            ObserverName::Minmax => Observer::MinMax,
            ObserverName::Percentile => Observer::Percentile(percentile),
        }
    }
}

/// Runs `gradus quantize`.
pub fn run(model_path: &Path, out: &Path, o: &Options) -> Result<(), String> {
    o.observer
        .check()
        .map_err(|e| format!("--percentile: {e}"))?;
    let (model, spec) = load_model(model_path).map_err(|e| e.to_string())?;
    let (mut q, names) = quantize_model(model.as_ref(), &spec)
        .map_err(|e| format!("{}: {e}", model_path.display()))?;
    let has_conv = q
        .ops
        .iter()
        .any(|op| matches!(op, gradus_quant::model::Op::Conv(_)));
    match (o.calibrate, has_conv) {
        (Some(path), _) => {
            let batches = calibration_batches(&spec, path, o.batches, o.batch_size)?;
            q.calibrate_with(&batches, o.observer)
                .map_err(|e| format!("{path}: {e}"))?;
        }
        (None, true) => {
            return Err(format!("{}: a {} model has convolutions, whose inputs are quantized statically: give --calibrate DATA (a few batches of training data)", model_path.display(), spec.model.kind))
        }
        (None, false) => {}
    }
    let bytes = file::to_bytes(&q, &names, &spec).map_err(|e| e.to_string())?;
    gradus_train::checkpoint::write_atomic(out, &bytes)
        .map_err(|e| format!("{}: {e}", out.display()))?;
    let f32_bytes: usize = model
        .parameters()
        .iter()
        .map(|p| p.tensor().shape().iter().product::<usize>() * 4)
        .sum();
    println!(
        "wrote {} ({} model, {} int8 layers: {} bytes of weights, f32 {} bytes, {:.2}x smaller)",
        out.display(),
        spec.model.kind,
        names.len(),
        q.weight_bytes(),
        f32_bytes,
        f32_bytes as f64 / q.weight_bytes().max(1) as f64
    );
    Ok(())
}

/// The first `batches · batch_size` samples of `path`, as the model takes them.
fn calibration_batches(
    spec: &ModelSpec,
    path: &str,
    batches: usize,
    batch_size: usize,
) -> Result<Vec<(Vec<f32>, usize)>, String> {
    if batches == 0 || batch_size == 0 {
        return Err("--batches and --batch-size must be at least 1".into());
    }
    let (ds, _, _) = gradus_run::setup::read(&spec.data, path, Split::Train, spec.like())
        .map_err(|e| e.to_string())?;
    let rows = ds.len().min(batches * batch_size);
    if rows == 0 {
        return Err(format!("{path}: no samples to calibrate on"));
    }
    let ds = ds.subset(&(0..rows).collect::<Vec<_>>());
    let (features, _, _) = ds.into_parts();
    let x = spec
        .input_tensor(features, rows)
        .map_err(|e| format!("{path}: {e}"))?;
    let values = x
        .to_dtype(gradus_tensor::DType::F32)
        .and_then(|t| t.to_vec::<f32>())
        .map_err(|e| e.to_string())?;
    let per = values.len() / rows;
    Ok(values
        .chunks(batch_size * per)
        .map(|c| (c.to_vec(), c.len() / per))
        .collect())
}
