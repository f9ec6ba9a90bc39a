//! `MultiheadAttention` (batch-first self-attention) with PyTorch's packed parameters:
//! `in_proj_weight [3E, E]`, `in_proj_bias [3E]`, `out_proj.weight [E, E]`, `out_proj.bias [E]`.

use super::linear::Linear;
use super::lora::{LoraSlot, LoraTarget};
use crate::init;
use crate::module::Module;
use crate::param::Param;
use gradus_tensor::{DType, Result, Rng, Tensor, TensorError};

/// Multi-head self-attention over `[batch, seq, embed]` (`torch.nn.MultiheadAttention` with
/// `batch_first=True`, query = key = value). With `causal`, position `i` attends to `j <= i`.
///
/// ```
/// use gradus_nn::{layers::MultiheadAttention, Module};
/// use gradus_tensor::{DType, Rng, Tensor};
/// let mha = MultiheadAttention::new(8, 2, true, &mut Rng::seed(0));
/// let y = mha.forward(&Tensor::ones(&[2, 5, 8], DType::F32)).unwrap();
/// assert_eq!(y.shape(), &[2, 5, 8]);
/// assert_eq!(mha.named_parameters()[2].0, "out_proj.weight");
/// ```
#[derive(Debug, Clone)]
pub struct MultiheadAttention {
    /// Model width `E`.
    pub embed_dim: usize,
    /// Number of heads (divides `E`).
    pub num_heads: usize,
    /// Mask future positions.
    pub causal: bool,
    /// `[3E, E]`: query, key and value projections stacked.
    pub in_proj_weight: Param,
    /// `[3E]`
    pub in_proj_bias: Param,
    /// The output projection `[E, E]`.
    pub out_proj: Linear,
    /// A LoRA adapter on `in_proj_weight` (target name `in_proj`), when one is attached.
    pub in_proj_lora: LoraSlot,
}

impl MultiheadAttention {
    /// PyTorch's init: `in_proj_weight` Xavier uniform, biases zero, `out_proj.weight` Linear default.
    ///
    /// # Panics
    /// When `num_heads` does not divide `embed_dim`.
    ///
    /// ```
    /// use gradus_tensor::Rng;
    /// let mha = gradus_nn::layers::MultiheadAttention::new(8, 4, false, &mut Rng::seed(0));
    /// assert_eq!(mha.in_proj_weight.shape(), vec![24, 8]);
    /// ```
    pub fn new(
        embed_dim: usize,
        num_heads: usize,
        causal: bool,
        rng: &mut Rng,
    ) -> MultiheadAttention {
        assert!(
            num_heads > 0 && embed_dim.is_multiple_of(num_heads),
            "num_heads must divide embed_dim"
        );
        let in_proj_weight = Param::new(init::xavier_uniform(
            &[3 * embed_dim, embed_dim],
            1.0,
            DType::F32,
            rng,
        ));
        let in_proj_bias = Param::new(Tensor::zeros(&[3 * embed_dim], DType::F32));
        let out_w = init::default_weight(&[embed_dim, embed_dim], DType::F32, rng);
        let out_proj = Linear::from_tensors(out_w, Some(Tensor::zeros(&[embed_dim], DType::F32)));
        MultiheadAttention {
            embed_dim,
            num_heads,
            causal,
            in_proj_weight,
            in_proj_bias,
            out_proj,
            in_proj_lora: LoraSlot::default(),
        }
    }

    /// Self-attention with an optional key padding mask (`[batch * seq]`, row-major, `true` =
    /// ignore that key, as PyTorch's `key_padding_mask`).
    ///
    /// # Errors
    /// On an input that is not `[batch, seq, E]` or a mask of the wrong length.
    ///
    /// ```
    /// use gradus_nn::layers::MultiheadAttention;
    /// use gradus_tensor::{DType, Rng, Tensor};
    /// let mha = MultiheadAttention::new(4, 2, false, &mut Rng::seed(0));
    /// let x = Rng::seed(1).normal(&[1, 3, 4], 0.0, 1.0, DType::F64);
    /// mha.cast(DType::F64).unwrap();
    /// // masking the last key changes the output; the mask must have batch * seq entries
    /// let masked = mha.attend(&x, Some(&[false, false, true])).unwrap();
    /// assert_ne!(masked.to_vec_f64(), mha.attend(&x, None).unwrap().to_vec_f64());
    /// assert!(mha.attend(&x, Some(&[false])).is_err());
    /// # use gradus_nn::Module;
    /// ```
    pub fn attend(&self, x: &Tensor, key_padding_mask: Option<&[bool]>) -> Result<Tensor> {
        let s = x.shape();
        if s.len() != 3 || s[2] != self.embed_dim {
            return Err(TensorError::InvalidShape {
                op: "multihead_attention",
                shape: s.to_vec(),
                detail: format!("expected [batch, seq, {}]", self.embed_dim),
            });
        }
        let (b, t, e, h) = (s[0], s[1], s[2], self.num_heads);
        let d = e / h;
        let (w, bias) = (self.in_proj_weight.tensor(), self.in_proj_bias.tensor());
        let qkv = super::linear::linear(x, &w, Some(&bias))?;
        let qkv = self.in_proj_lora.apply(x, qkv)?;
        if key_padding_mask.is_none() {
            // the fused attention: no [b, h, t, t] scores, no permuted copies of the heads
            let merged = qkv.scaled_dot_product_attention_qkv(h, self.causal)?;
            return self.out_proj.forward(&merged);
        }
        // [b, t, e] -> [b, h, t, d]
        let heads = |k: usize| {
            qkv.narrow(2, k * e, e)?
                .reshape(&[b, t, h, d])?
                .permute(&[0, 2, 1, 3])
        };
        let (q, k, v) = (heads(0)?, heads(1)?, heads(2)?);
        let mut scores = q
            .matmul(&k.transpose(-1, -2)?)?
            .mul_scalar(1.0 / (d as f64).sqrt())?;
        if let Some(mask) = self.additive_mask(b, t, key_padding_mask, x.dtype())? {
            scores = scores.add(&mask)?;
        }
        let ctx = scores.softmax(-1)?.matmul(&v)?; // [b, h, t, d]
        let merged = ctx.permute(&[0, 2, 1, 3])?.reshape(&[b, t, e])?;
        self.out_proj.forward(&merged)
    }

    /// `-inf` where attention is not allowed, broadcastable to `[b, h, t, t]`.
    fn additive_mask(
        &self,
        b: usize,
        t: usize,
        padding: Option<&[bool]>,
        dtype: DType,
    ) -> Result<Option<Tensor>> {
        if !self.causal && padding.is_none() {
            return Ok(None);
        }
        if let Some(p) = padding {
            if p.len() != b * t {
                return Err(TensorError::InvalidArgument {
                    op: "multihead_attention",
                    detail: format!(
                        "key padding mask has {} entries, expected {}",
                        p.len(),
                        b * t
                    ),
                });
            }
        }
        let data: Vec<f64> = (0..b * t * t)
            .map(|idx| {
                let (batch, i, j) = (idx / (t * t), (idx / t) % t, idx % t);
                let blocked = (self.causal && j > i) || padding.is_some_and(|p| p[batch * t + j]);
                if blocked {
                    f64::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        Ok(Some(
            Tensor::from_vec(data, &[b, 1, t, t])?.to_dtype(dtype)?,
        ))
    }
}

impl Module for MultiheadAttention {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.attend(x, None)
    }

    fn own_params(&self) -> Vec<(String, Param)> {
        vec![
            ("in_proj_weight".into(), self.in_proj_weight.clone()),
            ("in_proj_bias".into(), self.in_proj_bias.clone()),
        ]
        .into_iter()
        .chain(self.in_proj_lora.named_params("in_proj"))
        .collect()
    }

    fn own_lora_targets(&self) -> Vec<(String, LoraTarget<'_>)> {
        vec![(
            "in_proj".into(),
            LoraTarget {
                weight: &self.in_proj_weight,
                slot: &self.in_proj_lora,
            },
        )]
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("out_proj".into(), &self.out_proj)]
    }
}
