//! A trained model read back from its file: the [`ModelSpec`] stored in the metadata under
//! [`SPEC_KEY`], then the weights.

use crate::error::{Result, RunError};
use crate::setup::ModelSpec;
use gradus_nn::safetensors_reader::SafetensorsReader;
use gradus_nn::Module;
use gradus_tensor::Rng;
use std::path::Path;

/// The metadata key holding a model file's [`ModelSpec`].
pub const SPEC_KEY: &str = "gradus.spec";

/// Rebuilds a trained model from its file (a `model.safetensors` or a checkpoint written by a
/// run): the spec from the metadata, then the weights; the model is in evaluation mode, with
/// the LoRA adapters of a LoRA run's checkpoint merged into its weights (and the spec's
/// `model.lora` cleared).
///
/// # Errors
/// [`RunError::Setup`] naming the file: unreadable, not a gradus model file (no spec), bad
/// metadata, or tensors that do not match the model.
pub fn load_model(path: &Path) -> Result<(Box<dyn Module>, ModelSpec)> {
    let at = |e: &dyn std::fmt::Display| RunError::Setup(format!("{}: {e}", path.display()));
    // streamed: the header first, then each tensor straight into its parameter
    let mut file = SafetensorsReader::open(path).map_err(|e| at(&e))?;
    let meta = file.metadata();
    let spec_json = meta.get(SPEC_KEY).ok_or_else(|| format!("{}: not a gradus model file (no `{SPEC_KEY}` metadata); `gradus inspect` shows its tensors", path.display()))?;
    let mut spec: ModelSpec = serde_json::from_str(spec_json)
        .map_err(|e| format!("{}: bad model metadata: {e}", path.display()))?;
    let model = spec.build(&mut Rng::seed(0))?;
    // a checkpoint is a model file too: its optimizer tensors are skipped
    let optimizer = |name: &str| name.starts_with(gradus_train::checkpoint_file::OPTIMIZER_PREFIX);
    gradus_nn::state_dict::load_from(model.as_ref(), &mut file, &optimizer).map_err(|e| at(&e))?;
    model.eval();
    if spec.model.lora.take().is_some() {
        // a checkpoint of a LoRA run: the adapters folded in, for a plain model to evaluate
        gradus_nn::layers::merge_lora(model.as_ref()).map_err(|e| at(&e))?;
    }
    Ok((model, spec))
}
