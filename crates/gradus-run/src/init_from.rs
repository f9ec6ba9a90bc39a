//! `model.init_from`: a run that starts from a trained model file instead of fresh weights
//! (fine-tuning), as `model.load_state_dict(torch.load(...))` before training does.
//!
//! The file's [`ModelSpec`] (in its metadata) says what its data looked like: a text run
//! encodes its new text with the file's vocabulary (a character outside it is an error naming
//! the line and column), a tabular run reads the file's columns by name and keeps its feature
//! scaler. The weights must match the configured model by name and shape.

use crate::error::Result;
use crate::model_file::SPEC_KEY;
use crate::setup::ModelSpec;
use gradus_nn::safetensors_reader::SafetensorsReader;
use gradus_nn::Module;
use std::path::Path;

/// The spec stored in the model file at `path`.
///
/// # Errors
/// Naming `model.init_from` and the file: unreadable, not a gradus model file, or one that
/// holds LoRA adapters (a checkpoint of a LoRA run: start from its `model.safetensors`, where
/// they are merged).
pub fn base_spec(path: &str) -> Result<ModelSpec> {
    let at = |e: &dyn std::fmt::Display| format!("model.init_from: {path}: {e}");
    let file = SafetensorsReader::open(Path::new(path)).map_err(|e| at(&e))?;
    let meta = file.metadata();
    let json = meta.get(SPEC_KEY).ok_or_else(|| {
        at(&format!(
            "not a gradus model file (no `{SPEC_KEY}` metadata); `gradus inspect` shows its tensors"
        ))
    })?;
    let spec: ModelSpec =
        serde_json::from_str(json).map_err(|e| at(&format!("bad model metadata: {e}")))?;
    if spec.model.lora.is_some() {
        return Err(at(&"holds LoRA adapters (a checkpoint of a LoRA run); start from that run's model.safetensors, where they are merged").into());
    }
    Ok(spec)
}

/// Checks that the base file's model is of the configured kind.
///
/// # Errors
/// Naming both kinds.
pub fn check_kind(path: &str, base: &ModelSpec, kind: &str) -> Result<()> {
    if base.model.kind != kind {
        return Err(format!(
            "model.init_from: {path} holds a `{}` model, but model.kind is `{kind}`",
            base.model.kind
        )
        .into());
    }
    Ok(())
}

/// Copies the weights of the model file at `path` into `model` (its optimizer tensors, in a
/// checkpoint, are skipped).
///
/// # Errors
/// Naming `model.init_from`, the file and the tensor at fault: missing, unexpected or of
/// another shape (the model's sizes differ from the file's).
pub fn load_weights(model: &dyn Module, path: &str) -> Result<()> {
    let at = |e: &dyn std::fmt::Display| format!("model.init_from: {path}: {e}");
    let mut file = SafetensorsReader::open(Path::new(path)).map_err(|e| at(&e))?;
    let optimizer = |name: &str| name.starts_with(gradus_train::checkpoint_file::OPTIMIZER_PREFIX);
    gradus_nn::state_dict::load_from(model, &mut file, &optimizer).map_err(|e| at(&e))?;
    Ok(())
}
