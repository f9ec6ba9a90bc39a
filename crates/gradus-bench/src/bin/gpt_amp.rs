//! One training step of the GPT of `gpt_train_step` (2 layers, width 128, 4 heads, batch 32,
//! context 64, vocabulary 65, tied embeddings, AdamW) in bf16-mixed: forward under
//! `autocast(bf16)` (16-bit matmul-like ops, f32 master weights), backward and the f32 AdamW
//! update, as `[train] precision = "bf16-mixed"` runs it. Prints `gpt_bf16_train_step` and, for
//! the same process and model, `gpt_f32_train_step`. `bench/amp_compare.py` runs it against
//! PyTorch's `torch.autocast("cpu", dtype=torch.bfloat16)`.

use gradus_bench::gpt_task::GptTask;
use gradus_bench::{median_seconds, report};
use gradus_tensor::precision::Half;
use gradus_tensor::Result;

fn main() -> Result<()> {
    gradus_bench::configure_allocator();
    let threads = gradus_bench::threads();
    for (name, format) in [
        ("gpt_bf16_train_step", Some(Half::BF16)),
        ("gpt_f32_train_step", None),
    ] {
        let mut task = GptTask::new(128, 2, 32, 64)?;
        let s = median_seconds(3, 20, || task.step(format).expect("training step"));
        let tokens_per_s = task.tokens() as f64 / s;
        report(
            name,
            s,
            serde_json::json!({"tokens_per_s": tokens_per_s, "threads": threads}),
        );
    }
    Ok(())
}
