//! The GPT training step the `gpt`, `gpt_amp` and `gpt_checkpoint` benchmarks time: a
//! [`Gpt`] with tied embeddings, one batch of random next-token windows and AdamW (lr 3e-3,
//! weight decay 0.1); a step is forward, cross-entropy, backward and the update.

use gradus_nn::models::{Gpt, GptConfig};
use gradus_nn::Module;
use gradus_optim::{AdamW, Optimizer};
use gradus_tensor::precision::{autocast::autocast, Half};
use gradus_tensor::{Result, Rng, Tensor};

/// Vocabulary of the benchmarks' GPTs (tiny Shakespeare's 65 characters).
pub const VOCAB: usize = 65;

/// A GPT, its batch and its optimizer.
pub struct GptTask {
    /// The model (set `checkpoint_activations` before stepping to time checkpointing).
    pub gpt: Gpt,
    x: Tensor,
    y: Tensor,
    opt: Optimizer,
}

impl GptTask {
    /// A GPT of `layers` blocks of width `width` (4 heads) over `batch` windows of `context`
    /// tokens, seeded with 0.
    ///
    /// # Errors
    /// On a tensor error (not expected).
    pub fn new(width: usize, layers: usize, batch: usize, context: usize) -> Result<GptTask> {
        let mut rng = Rng::seed(0);
        let config = GptConfig {
            vocab: VOCAB,
            block_size: context,
            embed_dim: width,
            heads: 4,
            layers,
            tie_weights: true,
        };
        let gpt = Gpt::new(config, &mut rng);
        // random tokens as a data loader would hand them: inputs and next-token targets
        let tokens: Vec<f32> = (0..batch * (context + 1))
            .map(|_| rng.below(VOCAB) as f32)
            .collect();
        let tokens = Tensor::from_vec(tokens, &[batch, context + 1])?;
        let x = tokens.narrow(1, 0, context)?.contiguous()?;
        let y = tokens
            .narrow(1, 1, context)?
            .contiguous()?
            .reshape(&[batch * context])?;
        let adamw = AdamW::new(3e-3).weight_decay(0.1);
        let opt = Optimizer::with_named_params(adamw, &gpt.named_parameters())
            .expect("valid hyperparameters");
        Ok(GptTask { gpt, x, y, opt })
    }

    /// Tokens in one step's batch.
    pub fn tokens(&self) -> usize {
        self.y.numel()
    }

    /// One training step; the forward pass under `autocast(format)` (`None`: f32). The loss
    /// (cross-entropy) runs in f32 on the logits, as on autocast's f32 list.
    ///
    /// # Errors
    /// On a tensor error (not expected).
    pub fn step(&mut self, format: Option<Half>) -> Result<()> {
        let rows = self.tokens();
        let logits = autocast(format, || self.gpt.forward(&self.x))?.reshape(&[rows, VOCAB])?;
        logits.cross_entropy(&self.y, true)?.backward()?;
        self.opt.step().expect("adamw step");
        self.opt.zero_grad();
        Ok(())
    }
}
