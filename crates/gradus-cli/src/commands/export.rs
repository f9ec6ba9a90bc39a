//! `gradus export MODEL --onnx out.onnx [--sample N]`: a trained model as an ONNX file.

use gradus_run::{load_model, onnx};
use prost::Message;
use std::path::{Path, PathBuf};

/// Runs `gradus export`.
pub fn run(model_path: &Path, out: &Path, sample: Option<usize>) -> Result<(), String> {
    let (model, spec) = load_model(model_path).map_err(|e| e.to_string())?;
    let proto = onnx::to_onnx(model.as_ref(), &spec)
        .map_err(|e| format!("{}: {e}", model_path.display()))?;
    let write = |path: &Path, bytes: &[u8]| {
        gradus_train::checkpoint::write_atomic(path, bytes)
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    write(out, &proto.encode_to_vec())?;
    println!(
        "wrote {} (ONNX opset {}, {} model, input [batch, {}])",
        out.display(),
        onnx::graph::OPSET,
        spec.model.kind,
        spec.model_input_shape()
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(rows) = sample {
        let (x, y) = onnx::sample::sample(model.as_ref(), &spec, rows, 0)
            .map_err(|e| format!("{}: {e}", model_path.display()))?;
        let bytes = onnx::sample::to_safetensors(&x, &y).map_err(|e| e.to_string())?;
        let path = sample_path(out);
        write(&path, &bytes)?;
        println!(
            "wrote {} ({rows} inputs and gradus's outputs for them)",
            path.display()
        );
    }
    Ok(())
}

/// `out.onnx` -> `out.sample.safetensors`.
fn sample_path(out: &Path) -> PathBuf {
    out.with_extension("sample.safetensors")
}
