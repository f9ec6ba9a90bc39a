//! `gradus sample MODEL --prompt TEXT`: text from a trained character-level GPT, drawn with
//! temperature and top-k from a seed (see `gradus_run::generate`).

use gradus_run::generate::{generate, SampleOptions};
use std::path::Path;

/// Runs `gradus sample`: prints the prompt and its continuation on standard output.
pub fn run(model: &Path, prompt: &str, options: &SampleOptions) -> Result<(), String> {
    let (module, spec) = gradus_run::load_model(model).map_err(|e| e.to_string())?;
    let text = generate(module.as_ref(), &spec, prompt, options)
        .map_err(|e| format!("{}: {e}", model.display()))?;
    println!("{prompt}{text}");
    Ok(())
}
