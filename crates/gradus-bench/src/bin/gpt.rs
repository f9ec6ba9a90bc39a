//! One training step of a character-level GPT, f32: forward, backward and AdamW. Two sizes, each
//! batch 32, context 64, vocabulary 65, pre-norm blocks with a GELU MLP 4x and tied embeddings:
//! `gpt_train_step` (2 layers, width 128, 4 heads: the model `bench/gpt_peers.py` gives PyTorch
//! and JAX) and `gpt64_train_step` (width 64, the model of `examples/shakespeare-gpt.toml`).

use gradus_bench::{median_seconds, report};
use gradus_nn::models::{Gpt, GptConfig};
use gradus_nn::Module;
use gradus_optim::{AdamW, Optimizer};
use gradus_tensor::{Result, Rng, Tensor};

const BATCH: usize = 32;
const CONTEXT: usize = 64;
const VOCAB: usize = 65;

/// Median seconds of one step of the GPT of width `width`.
fn train_step_seconds(width: usize) -> Result<f64> {
    let mut rng = Rng::seed(0);
    let config = GptConfig {
        vocab: VOCAB,
        block_size: CONTEXT,
        embed_dim: width,
        heads: 4,
        layers: 2,
        tie_weights: true,
    };
    let gpt = Gpt::new(config, &mut rng);
    // random tokens as a data loader would hand them: inputs and next-token targets
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
        let logits = gpt
            .forward(&x)
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
    for (name, width) in [("gpt_train_step", 128), ("gpt64_train_step", 64)] {
        let s = train_step_seconds(width)?;
        let tokens_per_s = (BATCH * CONTEXT) as f64 / s;
        report(
            name,
            s,
            serde_json::json!({"tokens_per_s": tokens_per_s, "threads": threads}),
        );
    }
    Ok(())
}
