//! Cross-entropy of logits against class indices as one fused op: log-softmax and the negative
//! log-likelihood in one pass (`torch.nn.functional.cross_entropy` without weights, ignored
//! index or label smoothing).

use super::{run, NnKernel};
use crate::autodiff::{self, BackwardOp, Ctx};
use crate::{Result, Tensor, TensorError};

struct CrossEntropyOp {
    rows: usize,
    n: usize,
    scale: f64,
    /// `[rows]`: the log-sum-exp of each row of logits.
    lse: Tensor,
}

impl BackwardOp for CrossEntropyOp {
    fn name(&self) -> &'static str {
        "cross_entropy"
    }

    // loss = scale sum_i (lse_i - x_i[t_i]): dx_ij = g scale (softmax(x_i)_j - [j = t_i])
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let (logits, targets) = (ctx.input(0), ctx.input(1));
        if autodiff::is_grad_enabled() {
            let out = composed(logits, targets, self.scale)?;
            return autodiff::vjp(&out, ctx.inputs, g, true);
        }
        let k = NnKernel::CrossEntropyBackward {
            rows: self.rows,
            n: self.n,
            scale: self.scale,
        };
        let dx = run(k, &[logits, targets, &self.lse, g])?.swap_remove(0);
        Ok(vec![Some(Tensor::from_storage(dx, logits.shape())), None])
    }
}

/// `scale * sum_i -log_softmax(x)_i[t_i]` from primitive ops.
fn composed(logits: &Tensor, targets: &Tensor, scale: f64) -> Result<Tensor> {
    let n = logits.shape()[0];
    logits
        .softmax_composed(1, true)?
        .gather(1, &targets.reshape(&[n, 1])?)?
        .sum_all()?
        .mul_scalar(-scale)
}

impl Tensor {
    /// Cross-entropy of logits `[N, C]` against class indices `targets [N]` (as floats), averaged
    /// over the rows when `mean`, else summed: `F.cross_entropy(x, t, reduction="mean" | "sum")`,
    /// in one fused pass (no `[N, C]` log-probabilities are kept).
    ///
    /// # Errors
    /// On shapes other than the above, and [`TensorError::InvalidIndex`] naming
    /// `cross_entropy` on a target that is not a class index.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let logits = Tensor::from_vec(vec![0.0f64, 0.0, 5.0, 5.0], &[2, 2]).unwrap();
    /// let targets = Tensor::from_vec(vec![0.0f64, 1.0], &[2]).unwrap();
    /// let loss = logits.cross_entropy(&targets, true).unwrap().item().unwrap();
    /// assert!((loss - 2f64.ln()).abs() < 1e-15);
    /// ```
    pub fn cross_entropy(&self, targets: &Tensor, mean: bool) -> Result<Tensor> {
        let s = self.shape();
        if s.len() != 2 || targets.shape() != [s[0]] {
            return Err(TensorError::InvalidShape {
                op: "cross_entropy",
                shape: s.to_vec(),
                detail: format!(
                    "expected [N, C] logits and [N] targets, got targets of shape {:?}",
                    targets.shape()
                ),
            });
        }
        let targets = targets.detach().to_dtype(self.dtype())?;
        let (rows, n) = (s[0], s[1]);
        let scale = if mean { 1.0 / rows as f64 } else { 1.0 };
        if rows == 0 || n == 0 {
            return composed(self, &targets, scale);
        }
        let mut out = run(NnKernel::CrossEntropy { rows, n, scale }, &[self, &targets])?;
        let lse = Tensor::from_storage(out.swap_remove(1), &[rows]);
        let op = CrossEntropyOp {
            rows,
            n,
            scale,
            lse,
        };
        Ok(Tensor::from_op_storage(
            out.swap_remove(0),
            &[],
            op,
            &[self, &targets],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::composed;
    use crate::ops::nn::tests::assert_close;
    use crate::{gradcheck, gradgradcheck, DType, GradcheckOptions, Tensor};

    fn targets(dtype: DType) -> Tensor {
        Tensor::from_vec(vec![0.0f64, 4.0, 2.0, 2.0, 1.0], &[5])
            .unwrap()
            .to_dtype(dtype)
            .unwrap()
    }

    #[test]
    fn gradients_match_central_differences() {
        let x = Tensor::randn(&[5, 6], DType::F64, 1);
        let t = targets(DType::F64);
        for mean in [true, false] {
            let f = |xs: &[Tensor]| xs[0].cross_entropy(&t, mean);
            gradcheck(f, std::slice::from_ref(&x), GradcheckOptions::default()).unwrap();
            gradgradcheck(f, std::slice::from_ref(&x), GradcheckOptions::default()).unwrap();
        }
    }

    #[test]
    fn f32_matches_the_composed_ops() {
        let x = Tensor::randn(&[5, 65], DType::F32, 2)
            .mul_scalar(5.0)
            .unwrap()
            .requires_grad_(true);
        let t = targets(DType::F32);
        let fused = x.cross_entropy(&t, true).unwrap();
        let reference = composed(&x, &t, 0.2).unwrap();
        assert_close(&fused, &reference, 1e-6);
        let a = crate::autodiff::grad(&fused, &[&x], None, false).unwrap();
        let b = crate::autodiff::grad(&reference, &[&x], None, false).unwrap();
        assert_close(&a[0], &b[0], 1e-6);
    }

    #[test]
    fn bad_targets_are_named() {
        let x = Tensor::randn(&[2, 3], DType::F32, 1);
        let bad = Tensor::from_vec(vec![0.0f32, 3.0], &[2]).unwrap();
        let err = x.cross_entropy(&bad, true).unwrap_err().to_string();
        assert!(
            err.contains("cross_entropy") && err.contains("[1]"),
            "{err}"
        );
        let frac = Tensor::from_vec(vec![0.5f32, 1.0], &[2]).unwrap();
        assert!(x.cross_entropy(&frac, true).is_err());
        assert!(x
            .cross_entropy(&bad.reshape(&[1, 2]).unwrap(), true)
            .is_err());
    }
}
