//! A pre-norm transformer block with residual connections, named like PyTorch's
//! `TransformerEncoderLayer(norm_first=True, batch_first=True)`:
//! `self_attn.*`, `linear1.*`, `linear2.*`, `norm1.*`, `norm2.*`.

use super::{Activation, LayerNorm, Linear, MultiheadAttention};
use crate::module::Module;
use gradus_tensor::{Result, Rng, Tensor};

/// `x + attn(norm1(x))`, then `x + linear2(act(linear1(norm2(x))))`.
///
/// ```
/// use gradus_nn::{layers::TransformerBlock, Module};
/// use gradus_tensor::{DType, Rng, Tensor};
/// let block = TransformerBlock::new(8, 2, 32, true, &mut Rng::seed(0));
/// assert_eq!(block.forward(&Tensor::ones(&[1, 4, 8], DType::F32)).unwrap().shape(), &[1, 4, 8]);
/// assert!(block.named_parameters().iter().any(|(n, _)| n == "norm2.bias"));
/// ```
#[derive(Debug, Clone)]
pub struct TransformerBlock {
    /// Self-attention.
    pub self_attn: MultiheadAttention,
    /// `[ff, E]`
    pub linear1: Linear,
    /// `[E, ff]`
    pub linear2: Linear,
    /// Before attention.
    pub norm1: LayerNorm,
    /// Before the feed-forward network.
    pub norm2: LayerNorm,
    /// The feed-forward activation (GELU by default).
    pub activation: Activation,
}

impl TransformerBlock {
    /// A block of width `embed_dim`, `num_heads` heads and a feed-forward width `ff_dim`.
    ///
    /// ```
    /// use gradus_tensor::Rng;
    /// let b = gradus_nn::layers::TransformerBlock::new(8, 2, 32, false, &mut Rng::seed(0));
    /// assert_eq!(b.linear1.weight.shape(), vec![32, 8]);
    /// ```
    pub fn new(
        embed_dim: usize,
        num_heads: usize,
        ff_dim: usize,
        causal: bool,
        rng: &mut Rng,
    ) -> TransformerBlock {
        TransformerBlock {
            self_attn: MultiheadAttention::new(embed_dim, num_heads, causal, rng),
            linear1: Linear::new(embed_dim, ff_dim, true, rng),
            linear2: Linear::new(ff_dim, embed_dim, true, rng),
            norm1: LayerNorm::new(&[embed_dim]),
            norm2: LayerNorm::new(&[embed_dim]),
            activation: Activation::GELU,
        }
    }

    /// The block with a key padding mask for the attention (see [`MultiheadAttention::attend`]).
    ///
    /// # Errors
    /// On shapes the layers cannot take.
    ///
    /// ```
    /// use gradus_nn::layers::TransformerBlock;
    /// use gradus_tensor::{DType, Rng, Tensor};
    /// let b = TransformerBlock::new(4, 1, 8, false, &mut Rng::seed(0));
    /// let y = b.forward_masked(&Tensor::ones(&[1, 2, 4], DType::F32), Some(&[false, true])).unwrap();
    /// assert_eq!(y.shape(), &[1, 2, 4]);
    /// ```
    pub fn forward_masked(&self, x: &Tensor, key_padding_mask: Option<&[bool]>) -> Result<Tensor> {
        let x = x.add(
            &self
                .self_attn
                .attend(&self.norm1.forward(x)?, key_padding_mask)?,
        )?;
        let ff = self.linear2.forward(
            &self
                .activation
                .forward(&self.linear1.forward(&self.norm2.forward(&x)?)?)?,
        )?;
        x.add(&ff)
    }
}

impl Module for TransformerBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_masked(x, None)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("self_attn".into(), &self.self_attn),
            ("linear1".into(), &self.linear1),
            ("linear2".into(), &self.linear2),
            ("norm1".into(), &self.norm1),
            ("norm2".into(), &self.norm2),
        ]
    }
}
