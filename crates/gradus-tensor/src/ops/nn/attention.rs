//! Multi-head scaled dot-product self-attention on packed projections as one fused op: the heads
//! of `softmax(q k^T / sqrt(D) + mask) v`, merged, without a `[seq, seq]` tensor per head.

use super::{run, AttentionDims, NnKernel};
use crate::autodiff::{self, BackwardOp, Ctx};
use crate::{Result, Tensor, TensorError};

struct AttentionOp {
    dims: AttentionDims,
    /// `[batch, heads, seq]`: the log-sum-exp of every score row.
    lse: Tensor,
}

impl BackwardOp for AttentionOp {
    fn name(&self) -> &'static str {
        "scaled_dot_product_attention"
    }

    // with p = softmax(s), s = q k^T / sqrt(D): dv = p^T g, dp = g v^T,
    // ds = p (dp - rowsum(g o)), dq = ds k / sqrt(D), dk = ds^T q / sqrt(D)
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let qkv = ctx.input(0);
        if autodiff::is_grad_enabled() {
            let out = composed(qkv, self.dims.heads, self.dims.causal)?;
            return autodiff::vjp(&out, ctx.inputs, g, true);
        }
        let k = NnKernel::AttentionBackward(self.dims);
        let d = run(k, &[qkv, ctx.output(), &self.lse, g])?.swap_remove(0);
        Ok(vec![Some(Tensor::from_storage(d, qkv.shape()))])
    }
}

/// The same attention from primitive ops (every order of derivative; the reference in tests).
pub(crate) fn composed(qkv: &Tensor, heads: usize, causal: bool) -> Result<Tensor> {
    let (b, t, e) = (qkv.shape()[0], qkv.shape()[1], qkv.shape()[2] / 3);
    let d = e / heads;
    let split = |k: usize| {
        qkv.narrow(2, k * e, e)?
            .reshape(&[b, t, heads, d])?
            .permute(&[0, 2, 1, 3])
    };
    let (q, k, v) = (split(0)?, split(1)?, split(2)?);
    let mut scores = q
        .matmul(&k.transpose(-1, -2)?)?
        .mul_scalar(1.0 / (d as f64).sqrt())?;
    if causal {
        let mask: Vec<f64> = (0..t * t)
            .map(|i| {
                if i % t > i / t {
                    f64::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        scores = scores.add(&Tensor::from_vec(mask, &[t, t])?.to_dtype(qkv.dtype())?)?;
    }
    let ctx = scores.softmax_composed(-1, false)?.matmul(&v)?;
    ctx.permute(&[0, 2, 1, 3])?.reshape(&[b, t, e])
}

impl Tensor {
    /// Multi-head scaled dot-product self-attention on packed projections: `self` is
    /// `[batch, seq, 3E]`, the query, key and value projections side by side (what
    /// `MultiheadAttention`'s `in_proj` gives); each of `heads` heads of width `D = E / heads`
    /// computes `softmax(q k^T / sqrt(D)) v` (`F.scaled_dot_product_attention`, with
    /// `is_causal` as `causal`: position `i` attends to `j <= i`), and the heads are merged back to
    /// `[batch, seq, E]`. One fused op: the score rows live in cache, and the backward recomputes
    /// them from the saved log-sum-exp (FlashAttention, Dao et al. 2022).
    ///
    /// # Errors
    /// When `self` is not `[batch, seq, 3E]` with `heads` dividing `E`.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// // one position: the output is its value
    /// let qkv = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[1, 1, 6]).unwrap();
    /// let out = qkv.scaled_dot_product_attention_qkv(2, true).unwrap();
    /// assert_eq!(out.to_vec::<f64>().unwrap(), vec![5.0, 6.0]);
    /// ```
    pub fn scaled_dot_product_attention_qkv(&self, heads: usize, causal: bool) -> Result<Tensor> {
        // under autocast: one 16-bit op, input and output rounded (see `precision::autocast`)
        if crate::precision::autocast::format_for(&[self]).is_some() {
            return crate::precision::autocast::lower_precision(&[self], |t| {
                t[0].scaled_dot_product_attention_qkv(heads, causal)
            });
        }
        let s = self.shape();
        if s.len() != 3
            || !s[2].is_multiple_of(3)
            || heads == 0
            || !(s[2] / 3).is_multiple_of(heads)
        {
            return Err(TensorError::InvalidShape {
                op: "scaled_dot_product_attention",
                shape: s.to_vec(),
                detail: format!("expected [batch, seq, 3E] with {heads} heads dividing E"),
            });
        }
        let dims = AttentionDims {
            batch: s[0],
            seq: s[1],
            heads,
            head_dim: s[2] / 3 / heads,
            causal,
        };
        if self.numel() == 0 {
            return composed(self, heads, causal);
        }
        let mut out = run(NnKernel::Attention(dims), &[self])?;
        let lse = Tensor::from_storage(out.swap_remove(1), &[s[0], heads, s[1]]);
        let shape = [s[0], s[1], s[2] / 3];
        let op = AttentionOp { dims, lse };
        Ok(Tensor::from_op_storage(
            out.swap_remove(0),
            &shape,
            op,
            &[self],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::composed;
    use crate::ops::nn::tests::assert_close;
    use crate::{gradcheck, gradgradcheck, DType, GradcheckOptions, Tensor};

    #[test]
    fn gradients_match_central_differences() {
        let qkv = Tensor::randn(&[2, 4, 12], DType::F64, 1);
        for causal in [true, false] {
            let f = |xs: &[Tensor]| xs[0].scaled_dot_product_attention_qkv(2, causal);
            gradcheck(f, std::slice::from_ref(&qkv), GradcheckOptions::default()).unwrap();
            gradgradcheck(f, std::slice::from_ref(&qkv), GradcheckOptions::default()).unwrap();
        }
    }

    #[test]
    fn f32_matches_the_composed_ops() {
        let qkv = Tensor::randn(&[3, 17, 3 * 24], DType::F32, 2)
            .mul_scalar(2.0)
            .unwrap()
            .requires_grad_(true);
        let g = Tensor::randn(&[3, 17, 24], DType::F32, 3);
        for causal in [true, false] {
            let fused = qkv.scaled_dot_product_attention_qkv(4, causal).unwrap();
            let reference = composed(&qkv, 4, causal).unwrap();
            assert_close(&fused, &reference, 1e-5);
            let a = crate::autodiff::grad(&fused, &[&qkv], Some(&g), false).unwrap();
            let b = crate::autodiff::grad(&reference, &[&qkv], Some(&g), false).unwrap();
            assert_close(&a[0], &b[0], 1e-4);
        }
    }

    /// Enough heads to run in parallel: the same bits on one thread and on three.
    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let qkv = Tensor::randn(&[4, 33, 3 * 32], DType::F32, 4).requires_grad_(true);
        let g = Tensor::randn(&[4, 33, 32], DType::F32, 5);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let out = qkv.scaled_dot_product_attention_qkv(4, true).unwrap();
                let dqkv = crate::autodiff::grad(&out, &[&qkv], Some(&g), false).unwrap();
                let mut all = out.to_vec::<f32>().unwrap();
                all.extend(dqkv[0].to_vec::<f32>().unwrap());
                all
            })
        };
        let one = run(1);
        assert!(one.iter().all(|v| v.is_finite()));
        assert_eq!(one, run(3));
    }

    #[test]
    fn shapes_are_checked() {
        let qkv = Tensor::zeros(&[1, 2, 12], DType::F32);
        assert!(qkv.scaled_dot_product_attention_qkv(3, true).is_err());
        assert!(qkv
            .reshape(&[2, 12])
            .unwrap()
            .scaled_dot_product_attention_qkv(2, true)
            .is_err());
    }
}
