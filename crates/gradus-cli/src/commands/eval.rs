//! `gradus eval MODEL [--data PATH]`: loss and metrics of a saved model.

use crate::commands::load_model;
use crate::setup::{read, reshape_for_model};
use gradus_data::mnist::Split;
use gradus_tensor::autodiff::no_grad;
use std::path::Path;

/// Runs `gradus eval`.
pub fn run(model_path: &Path, data: Option<&str>) -> Result<(), String> {
    let (model, spec) = load_model(model_path)?;
    let d = &spec.data;
    let (path, split) = match (data, &d.test_path) {
        (Some(p), _) => (p.to_string(), Split::Test),
        (None, Some(t)) if d.format == "mnist" && t == "test" => (d.path.clone(), Split::Test),
        (None, Some(t)) => (t.clone(), Split::Test),
        (None, None) => {
            return Err("no --data given and the model's config names no test data".into())
        }
    };
    let (mut ds, _, _) = read(d, &path, split)?;
    if let Some(s) = &spec.scaler {
        s.transform(&mut ds).map_err(|e| e.to_string())?;
    }
    let ds = reshape_for_model(ds, &spec.model_input_shape())?;
    let task = spec.task();
    let dtype = crate::setup::dtype_of(&spec.dtype)?;
    let (loss, metrics) = no_grad(|| -> Result<_, String> {
        let idx: Vec<usize> = (0..ds.len()).collect();
        let b = ds.batch(&idx);
        let x = gradus_tensor::Tensor::from_vec(b.x, &b.x_shape)
            .and_then(|x| x.to_dtype(dtype))
            .map_err(|e| e.to_string())?;
        let out = model.forward(&x).map_err(|e| e.to_string())?;
        let y = match b.y {
            gradus_data::Targets::Classes { labels, .. } => {
                gradus_train::task::Targets::Classes(labels.iter().map(|&l| l as usize).collect())
            }
            gradus_data::Targets::Values { values, dim }
                if matches!(task, gradus_train::task::Task::Classification { .. }) =>
            {
                let _ = dim;
                gradus_train::task::Targets::Classes(values.iter().map(|&v| v as usize).collect())
            }
            gradus_data::Targets::Values { values, dim } => gradus_train::task::Targets::Values(
                gradus_tensor::Tensor::from_vec(values, &[idx.len(), dim])
                    .and_then(|t| t.to_dtype(dtype))
                    .map_err(|e| e.to_string())?,
            ),
        };
        let loss = task
            .loss(&out, &y)
            .and_then(|l| l.item())
            .map_err(|e| e.to_string())?;
        Ok((loss, task.metrics(&out, &y).map_err(|e| e.to_string())?))
    })?;
    println!(
        "samples {}  loss {loss:.6}{}",
        ds.len(),
        metrics
            .iter()
            .map(|(k, v)| format!("  {k} {v:.4}"))
            .collect::<String>()
    );
    Ok(())
}
