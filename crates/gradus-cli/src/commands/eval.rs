//! `gradus eval MODEL [--data PATH]`: loss and metrics of a saved model.

use gradus_data::mnist::Split;
use gradus_run::setup::read;
use gradus_tensor::autodiff::no_grad;
use std::path::Path;

/// Runs `gradus eval`.
pub fn run(model_path: &Path, data: Option<&str>) -> Result<(), String> {
    let (model, spec) = gradus_quant::file::load_any(model_path).map_err(|e| e.to_string())?;
    let d = &spec.data;
    let (path, split) = match (data, &d.test_path) {
        (Some(p), _) => (p.to_string(), Split::Test),
        (None, Some(t)) if d.format == "mnist" && t == "test" => (d.path.clone(), Split::Test),
        (None, Some(t)) => (t.clone(), Split::Test),
        (None, None) => {
            return Err("no --data given and the model's config names no test data".into())
        }
    };
    // the model's columns by name, in the order it was trained on; its vocabulary and width
    let (ds, _, _) = read(d, &path, split, spec.like()).map_err(|e| e.to_string())?;
    let rows = ds.len();
    let (features, _, targets) = ds.into_parts();
    let task = spec.task();
    let dtype = gradus_run::setup::dtype_of(&spec.dtype).map_err(|e| e.to_string())?;
    let (loss, metrics) = no_grad(|| -> Result<_, String> {
        let x = spec
            .input_tensor(features, rows)
            .map_err(|e| e.to_string())?;
        let out = model.forward(&x).map_err(|e| e.to_string())?;
        let y = gradus_train::batch::targets_to_device(&targets, &task, dtype)
            .map_err(|e| e.to_string())?;
        let loss = task
            .loss(&out, &y)
            .and_then(|l| l.item())
            .map_err(|e| e.to_string())?;
        Ok((loss, task.metrics(&out, &y).map_err(|e| e.to_string())?))
    })?;
    println!(
        "samples {rows}  loss {loss:.6}{}",
        metrics
            .iter()
            .map(|(k, v)| format!("  {k} {v:.4}"))
            .collect::<String>()
    );
    Ok(())
}
