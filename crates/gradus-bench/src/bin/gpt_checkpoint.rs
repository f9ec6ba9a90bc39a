//! Gradient checkpointing on a GPT (`Gpt::checkpoint_activations`, as `torch.utils.checkpoint`
//! on every block): one training step (forward, backward, AdamW) of a 6-layer, width-128,
//! 4-head GPT with context 256 and batch 8, with and without checkpointed blocks.
//!
//! Prints, for each, the median step time of 3 timed steps (after one untimed step) and the peak
//! activation memory: the most tensor storage alive during a step (`gradus_tensor::memory`)
//! minus what was alive before it (parameters, optimizer state, the batch). The target of
//! issue 12 is at least 3x less activation memory for at most 40% more step time.
//! Accepts `--threads N`.

use gradus_bench::gpt_task::GptTask;
use gradus_bench::{median_seconds, report};
use gradus_tensor::{memory, Result};

/// (median seconds per step, peak activation bytes) with or without checkpointing.
fn measure(checkpoint: bool) -> Result<(f64, usize)> {
    let mut task = GptTask::new(128, 6, 8, 256)?;
    task.gpt.checkpoint_activations = checkpoint;
    // the first step creates the optimizer state: measure memory on the second
    task.step(None)?;
    let before = memory::live_bytes();
    memory::reset_peak();
    task.step(None)?;
    let activations = memory::peak_bytes().saturating_sub(before);
    let seconds = median_seconds(0, 3, || task.step(None).expect("training step"));
    Ok((seconds, activations))
}

fn main() -> Result<()> {
    gradus_bench::configure_allocator();
    let threads = gradus_bench::threads();
    let (plain_s, plain_bytes) = measure(false)?;
    let (ckpt_s, ckpt_bytes) = measure(true)?;
    for (name, s, bytes) in [
        ("gpt_step_plain", plain_s, plain_bytes),
        ("gpt_step_checkpointed", ckpt_s, ckpt_bytes),
    ] {
        report(
            name,
            s,
            serde_json::json!({"peak_activation_bytes": bytes, "threads": threads}),
        );
    }
    println!(
        "activation memory {:.2}x smaller, step time {:+.1}%",
        plain_bytes as f64 / ckpt_bytes.max(1) as f64,
        100.0 * (ckpt_s / plain_s - 1.0)
    );
    Ok(())
}
