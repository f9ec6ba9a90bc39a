//! One training step of the GPT of `gpt_train_step` (2 layers, width 128, 4 heads, batch 32,
//! context 64, vocabulary 65, tied embeddings, AdamW) in bf16-mixed: forward under
//! `autocast(bf16)` (16-bit matmul-like ops, f32 master weights), backward and the f32 AdamW
//! update, as `[train] precision = "bf16-mixed"` runs it. Prints `gpt_bf16_train_step` and, for
//! the same process and model, `gpt_f32_train_step`. `bench/amp_compare.py` runs it against
//! PyTorch's `torch.autocast("cpu", dtype=torch.bfloat16)`.

use gradus_bench::{median_seconds, report};
use gradus_nn::models::{Gpt, GptConfig};
use gradus_nn::Module;
use gradus_optim::{AdamW, Optimizer};
use gradus_tensor::precision::{autocast::autocast, Half};
use gradus_tensor::{Result, Rng, Tensor};

const BATCH: usize = 32;
const CONTEXT: usize = 64;
const VOCAB: usize = 65;

/// Median seconds of one step, under autocast to `format` (`None`: f32).
fn train_step_seconds(format: Option<Half>) -> Result<f64> {
    let mut rng = Rng::seed(0);
    let config = GptConfig {
        vocab: VOCAB,
        block_size: CONTEXT,
        embed_dim: 128,
        heads: 4,
        layers: 2,
        tie_weights: true,
    };
    let gpt = Gpt::new(config, &mut rng);
    let tokens: Vec<f32> = (0..BATCH * (CONTEXT + 1))
        .map(|_| rng.below(VOCAB) as f32)
        .collect();
    let tokens = Tensor::from_vec(tokens, &[BATCH, CONTEXT + 1])?;
    let x = tokens.narrow(1, 0, CONTEXT)?.contiguous()?;
    let y = tokens
        .narrow(1, 1, CONTEXT)?
        .contiguous()?
        .reshape(&[BATCH * CONTEXT])?;
    let adamw = AdamW::new(3e-3).weight_decay(0.1);
    let mut opt = Optimizer::with_named_params(adamw, &gpt.named_parameters())
        .expect("valid hyperparameters");
    let mut step = || {
        // the loss (cross entropy) runs in f32 on the bf16 logits, as on autocast's f32 list
        let logits = autocast(format, || gpt.forward(&x))
            .unwrap()
            .reshape(&[BATCH * CONTEXT, VOCAB])
            .unwrap();
        logits.cross_entropy(&y, true).unwrap().backward().unwrap();
        opt.step().unwrap();
        opt.zero_grad();
    };
    Ok(median_seconds(3, 20, &mut step))
}

fn main() -> Result<()> {
    gradus_bench::configure_allocator();
    let threads = gradus_bench::threads();
    for (name, format) in [
        ("gpt_bf16_train_step", Some(Half::BF16)),
        ("gpt_f32_train_step", None),
    ] {
        let s = train_step_seconds(format)?;
        let tokens_per_s = (BATCH * CONTEXT) as f64 / s;
        report(
            name,
            s,
            serde_json::json!({"tokens_per_s": tokens_per_s, "threads": threads}),
        );
    }
    Ok(())
}
