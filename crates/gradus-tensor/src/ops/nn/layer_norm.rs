//! Layer normalization over the trailing axes with an elementwise affine, as one fused op
//! (`torch.nn.functional.layer_norm`).

use super::{run, NnKernel};
use crate::autodiff::{self, BackwardOp, Ctx};
use crate::{Result, Tensor, TensorError};

struct LayerNormOp {
    rows: usize,
    n: usize,
    eps: f64,
    /// `[rows]` each: the row means and `1 / sqrt(var + eps)`.
    mean: Tensor,
    rstd: Tensor,
}

impl BackwardOp for LayerNormOp {
    fn name(&self) -> &'static str {
        "layer_norm"
    }

    // x̂ = (x - mean) rstd, y = x̂ w + b:
    // dx = rstd (g w - mean(g w) - x̂ mean(g w x̂)), dw = sum_rows g x̂, db = sum_rows g
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let [x, w, b] = [0, 1, 2].map(|i| ctx.input(i));
        if autodiff::is_grad_enabled() {
            let out = composed(x, w, b, self.eps)?;
            return autodiff::vjp(&out, ctx.inputs, g, true);
        }
        let k = NnKernel::LayerNormBackward {
            rows: self.rows,
            n: self.n,
        };
        let mut grads = run(k, &[g, x, w, &self.mean, &self.rstd])?.into_iter();
        let mut next = |t: &Tensor| grads.next().map(|s| Tensor::from_storage(s, t.shape()));
        Ok(vec![next(x), next(w), next(b)])
    }
}

/// `(x - mean) / sqrt(var + eps) * weight + bias` from primitive ops (every order of derivative).
fn composed(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    let axes: Vec<isize> = (1..=weight.rank() as isize).map(|a| -a).collect();
    let mean = x.mean(&axes, true)?;
    let inv_std = x.var(&axes, 0, true)?.add_scalar(eps)?.powf(-0.5)?;
    x.sub(&mean)?.mul(&inv_std)?.mul(weight)?.add(bias)
}

impl Tensor {
    /// Layer normalization over the trailing axes of the shape of `weight` (`bias` has the same
    /// shape): `(x - mean) / sqrt(var + eps) * weight + bias` with the biased variance, as
    /// `torch.nn.functional.layer_norm`. One fused pass per row, forward and backward.
    ///
    /// # Errors
    /// When `weight` and `bias` differ in shape, are not the trailing shape of `self`, or differ
    /// in dtype from it.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let x = Tensor::from_vec(vec![1.0f64, 3.0], &[1, 2]).unwrap();
    /// let (w, b) = (Tensor::ones(&[2], DType::F64), Tensor::zeros(&[2], DType::F64));
    /// let y = x.layer_norm(&w, &b, 0.0).unwrap().to_vec::<f64>().unwrap();
    /// assert_eq!(y, vec![-1.0, 1.0]);
    /// ```
    pub fn layer_norm(&self, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
        let (s, k) = (self.shape(), weight.rank());
        if bias.shape() != weight.shape() || s.len() < k || s[s.len() - k..] != *weight.shape() {
            return Err(TensorError::InvalidShape {
                op: "layer_norm",
                shape: s.to_vec(),
                detail: format!(
                    "weight {:?} and bias {:?} must both be the trailing shape of the input",
                    weight.shape(),
                    bias.shape()
                ),
            });
        }
        self.check_same("layer_norm", weight)?;
        self.check_same("layer_norm", bias)?;
        let n = weight.numel();
        if n == 0 || self.numel() == 0 {
            return composed(self, weight, bias, eps);
        }
        let rows = self.numel() / n;
        let [y, mean, rstd] = <[_; 3]>::try_from(run(
            NnKernel::LayerNorm { rows, n, eps },
            &[self, weight, bias],
        )?)
        .map_err(|_| TensorError::InvalidArgument {
            op: "layer_norm",
            detail: "the backend returned a wrong number of outputs".into(),
        })?;
        let op = LayerNormOp {
            rows,
            n,
            eps,
            mean: Tensor::from_storage(mean, &[rows]),
            rstd: Tensor::from_storage(rstd, &[rows]),
        };
        Ok(Tensor::from_op_storage(y, s, op, &[self, weight, bias]))
    }
}

#[cfg(test)]
mod tests {
    use super::composed;
    use crate::ops::nn::tests::assert_close;
    use crate::{gradcheck, gradgradcheck, DType, GradcheckOptions, Tensor};

    fn inputs(dtype: DType) -> [Tensor; 3] {
        [
            Tensor::randn(&[4, 3, 6], dtype, 1).mul_scalar(3.0).unwrap(),
            Tensor::randn(&[6], dtype, 2),
            Tensor::randn(&[6], dtype, 3),
        ]
    }

    #[test]
    fn gradients_match_central_differences() {
        let f = |xs: &[Tensor]| xs[0].layer_norm(&xs[1], &xs[2], 1e-5);
        gradcheck(f, &inputs(DType::F64), GradcheckOptions::default()).unwrap();
        gradgradcheck(f, &inputs(DType::F64), GradcheckOptions::default()).unwrap();
    }

    #[test]
    fn f32_matches_the_composed_ops() {
        let x = inputs(DType::F32).map(|t| t.requires_grad_(true));
        let g = Tensor::randn(&[4, 3, 6], DType::F32, 4);
        let fused = x[0].layer_norm(&x[1], &x[2], 1e-5).unwrap();
        let reference = composed(&x[0], &x[1], &x[2], 1e-5).unwrap();
        assert_close(&fused, &reference, 1e-5);
        let a = crate::autodiff::grad(&fused, &x.each_ref(), Some(&g), false).unwrap();
        let b = crate::autodiff::grad(&reference, &x.each_ref(), Some(&g), false).unwrap();
        for (a, b) in a.iter().zip(&b) {
            assert_close(a, b, 1e-4);
        }
    }

    #[test]
    fn shapes_are_checked() {
        let [x, w, b] = inputs(DType::F64);
        let err = x
            .layer_norm(&w.narrow(0, 0, 5).unwrap(), &b, 1e-5)
            .unwrap_err();
        assert!(err.to_string().contains("trailing shape"), "{err}");
    }
}
