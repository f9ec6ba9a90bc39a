//! A small decoder-only GPT: token and position embeddings, causal pre-norm blocks, a final
//! LayerNorm and a language-model head (optionally tied to the token embedding).

use crate::layers::{Embedding, LayerNorm, Linear, TransformerBlock};
use crate::module::Module;
use crate::param::Param;
use gradus_tensor::autodiff::checkpoint;
use gradus_tensor::{DType, Result, Rng, Tensor, TensorError};

/// GPT hyperparameters.
///
/// ```
/// let c = gradus_nn::models::GptConfig { vocab: 50, ..Default::default() };
/// assert_eq!(c.heads, 2);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct GptConfig {
    /// Vocabulary size.
    pub vocab: usize,
    /// Longest sequence (position table size).
    pub block_size: usize,
    /// Model width.
    pub embed_dim: usize,
    /// Attention heads.
    pub heads: usize,
    /// Number of transformer blocks.
    pub layers: usize,
    /// Share `tok_emb.weight` with `head.weight`.
    pub tie_weights: bool,
}

impl Default for GptConfig {
    fn default() -> Self {
        GptConfig {
            vocab: 65,
            block_size: 32,
            embed_dim: 32,
            heads: 2,
            layers: 2,
            tie_weights: true,
        }
    }
}

/// `[batch, seq]` token ids (as floats) to logits `[batch, seq, vocab]`. Parameters:
/// `tok_emb.weight`, `pos_emb.weight`, `blocks.{i}.*`, `ln_f.*`, `head.weight` (the same tensor as
/// `tok_emb.weight` when tied; both names are saved, as PyTorch's state dict does).
///
/// ```
/// use gradus_nn::{models::{Gpt, GptConfig}, Module};
/// use gradus_tensor::{Rng, Tensor};
/// let gpt = Gpt::new(GptConfig { vocab: 11, ..Default::default() }, &mut Rng::seed(0));
/// let ids = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[1, 3]).unwrap();
/// assert_eq!(gpt.forward(&ids).unwrap().shape(), &[1, 3, 11]);
/// ```
pub struct Gpt {
    /// The hyperparameters.
    pub config: GptConfig,
    /// `[vocab, E]`
    pub tok_emb: Embedding,
    /// `[block_size, E]`
    pub pos_emb: Embedding,
    /// Causal blocks.
    pub blocks: Vec<TransformerBlock>,
    /// Final norm.
    pub ln_f: LayerNorm,
    /// `[vocab, E]`, no bias.
    pub head: Linear,
    /// Recompute each block's activations in the backward pass instead of keeping them
    /// (gradient checkpointing, [`gradus_tensor::autodiff::checkpoint`]; false by default): the
    /// same gradients, bit for bit, for about one more forward pass of the blocks.
    pub checkpoint_activations: bool,
}

impl Gpt {
    /// A GPT initialized as GPT-2 and nanoGPT: embeddings and linear weights (the attention's
    /// packed input projection included) from `N(0, 0.02^2)`, the residual projections
    /// (`self_attn.out_proj`, `linear2`) from `N(0, (0.02 / sqrt(2 layers))^2)`, biases zero,
    /// layer norms weight 1 and bias 0. The first loss on `vocab` symbols is then close to
    /// `ln(vocab)`; PyTorch's layer defaults (`N(0, 1)` embeddings tied to the head) started a
    /// 65-symbol model near 38.
    ///
    /// ```
    /// use gradus_nn::models::{Gpt, GptConfig};
    /// use gradus_tensor::Rng;
    /// let gpt = Gpt::new(GptConfig { layers: 3, ..Default::default() }, &mut Rng::seed(0));
    /// assert_eq!(gpt.blocks.len(), 3);
    /// let std = |v: Vec<f64>| (v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64).sqrt();
    /// assert!((std(gpt.tok_emb.weight.tensor().to_vec_f64()) - 0.02).abs() < 0.002);
    /// ```
    pub fn new(config: GptConfig, rng: &mut Rng) -> Gpt {
        let e = config.embed_dim;
        let tok_emb = Embedding::new(config.vocab, e, rng);
        let pos_emb = Embedding::new(config.block_size, e, rng);
        let blocks = (0..config.layers)
            .map(|_| TransformerBlock::new(e, config.heads, 4 * e, true, rng))
            .collect();
        let mut head = Linear::new(e, config.vocab, false, rng);
        if config.tie_weights {
            head.weight = tok_emb.weight.clone();
        }
        let gpt = Gpt {
            config,
            tok_emb,
            pos_emb,
            blocks,
            ln_f: LayerNorm::new(&[e]),
            head,
            checkpoint_activations: false,
        };
        gpt.init_gpt2(rng);
        gpt
    }

    /// Redraws the weights as GPT-2 does (see [`Gpt::new`]).
    fn init_gpt2(&self, rng: &mut Rng) {
        const STD: f64 = 0.02;
        let residual = STD / (2.0 * self.config.layers.max(1) as f64).sqrt();
        let normal = |p: &Param, std: f64, rng: &mut Rng| {
            p.set(rng.normal(&p.shape(), 0.0, std, DType::F32));
        };
        let zero = |p: &Param| p.set(Tensor::zeros(&p.shape(), DType::F32));
        let linear = |l: &Linear, std: f64, rng: &mut Rng| {
            normal(&l.weight, std, rng);
            l.bias.iter().for_each(zero);
        };
        normal(&self.tok_emb.weight, STD, rng);
        normal(&self.pos_emb.weight, STD, rng);
        for block in &self.blocks {
            normal(&block.self_attn.in_proj_weight, STD, rng);
            zero(&block.self_attn.in_proj_bias);
            linear(&block.self_attn.out_proj, residual, rng);
            linear(&block.linear1, STD, rng);
            linear(&block.linear2, residual, rng);
        }
        if !self.config.tie_weights {
            linear(&self.head, STD, rng);
        }
    }
}

impl Module for Gpt {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.rank() != 2 || x.shape()[1] > self.config.block_size {
            let detail = format!(
                "expected [batch, seq <= {}] token ids",
                self.config.block_size
            );
            return Err(TensorError::InvalidShape {
                op: "gpt",
                shape: x.shape().to_vec(),
                detail,
            });
        }
        let t = x.shape()[1];
        let tok = self.tok_emb.forward(x)?;
        // positions 0..t are the table's first t rows: a view, no index tensor to build
        let pos = self.pos_emb.weight.tensor().narrow(0, 0, t)?;
        let mut h = tok.add(&pos)?;
        for block in &self.blocks {
            h = if self.checkpoint_activations {
                let block = block.clone(); // shares the parameters
                checkpoint(move |xs| block.forward(&xs[0]), &[&h])?
            } else {
                block.forward(&h)?
            };
        }
        self.head.forward(&self.ln_f.forward(&h)?)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        let mut out: Vec<(String, &dyn Module)> = vec![
            ("tok_emb".into(), &self.tok_emb),
            ("pos_emb".into(), &self.pos_emb),
        ];
        out.extend(
            self.blocks
                .iter()
                .enumerate()
                .map(|(i, b)| (format!("blocks.{i}"), b as &dyn Module)),
        );
        out.push(("ln_f".into(), &self.ln_f));
        out.push(("head".into(), &self.head));
        out
    }
}
