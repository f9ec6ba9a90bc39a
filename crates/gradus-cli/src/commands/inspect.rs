//! `gradus inspect MODEL`: tensors, shapes, parameter count and training metadata.

use gradus_run::SPEC_KEY;
use gradus_train::model_file::{read_metadata, tensor_infos};
use std::path::Path;

/// Runs `gradus inspect`.
pub fn run(path: &Path) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let infos = tensor_infos(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let meta = read_metadata(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("{}", path.display());
    let width = infos
        .iter()
        .map(|(n, _, _)| n.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "  {:width$}  {:5}  {:>16}  {:>10}",
        "name", "dtype", "shape", "count"
    );
    let mut total = 0usize;
    for (name, dtype, shape) in &infos {
        let count: usize = shape.iter().product();
        if dtype.starts_with('F') || dtype.starts_with("BF") {
            total += count;
        }
        println!(
            "  {name:width$}  {dtype:5}  {:>16}  {count:>10}",
            format!("{shape:?}")
        );
    }
    println!(
        "  {} tensors, {total} parameters and float buffers",
        infos.len()
    );
    if let Some(spec) = meta
        .get(SPEC_KEY)
        .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
    {
        println!("  model: {}", spec["model"]);
        println!(
            "  task: {} ({} outputs), input shape {}",
            spec["task"], spec["outputs"], spec["input_shape"]
        );
    }
    Ok(())
}
