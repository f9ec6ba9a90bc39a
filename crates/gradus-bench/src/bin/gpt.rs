//! One training step of a character-level GPT, f32: forward, backward and AdamW. Two sizes, each
//! batch 32, context 64, vocabulary 65, pre-norm blocks with a GELU MLP 4x and tied embeddings:
//! `gpt_train_step` (2 layers, width 128, 4 heads: the model `bench/gpt_peers.py` gives PyTorch
//! and JAX) and `gpt64_train_step` (width 64, the model of `examples/shakespeare-gpt.toml`).

use gradus_bench::gpt_task::GptTask;
use gradus_bench::{median_seconds, report};
use gradus_tensor::Result;

fn main() -> Result<()> {
    gradus_bench::configure_allocator();
    let threads = gradus_bench::threads();
    for (name, width) in [("gpt_train_step", 128), ("gpt64_train_step", 64)] {
        let mut task = GptTask::new(width, 2, 32, 64)?;
        let s = median_seconds(3, 20, || task.step(None).expect("training step"));
        let tokens_per_s = task.tokens() as f64 / s;
        report(
            name,
            s,
            serde_json::json!({"tokens_per_s": tokens_per_s, "threads": threads}),
        );
    }
    Ok(())
}
