//! Softmax and log-softmax over the last axis as one fused op (`Tensor::softmax` and
//! `Tensor::log_softmax` take this path for the last axis).

use super::{run, NnKernel};
use crate::autodiff::{self, BackwardOp, Ctx};
use crate::{Result, Tensor};

struct SoftmaxOp {
    rows: usize,
    n: usize,
    log: bool,
}

impl BackwardOp for SoftmaxOp {
    fn name(&self) -> &'static str {
        if self.log {
            "log_softmax"
        } else {
            "softmax"
        }
    }

    // along the last axis, from the output y: softmax dx = y (g - sum(g y)),
    // log-softmax dx = g - e^y sum(g)
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let x = ctx.input(0);
        if autodiff::is_grad_enabled() {
            let out = x.softmax_composed(-1, self.log)?;
            return autodiff::vjp(&out, ctx.inputs, g, true);
        }
        let k = NnKernel::SoftmaxBackward {
            rows: self.rows,
            n: self.n,
            log: self.log,
        };
        let dx = run(k, &[ctx.output(), g])?.swap_remove(0);
        Ok(vec![Some(Tensor::from_storage(dx, x.shape()))])
    }
}

/// Softmax (`log: false`) or log-softmax over the last axis of a tensor with at least one axis
/// and one element.
pub(crate) fn softmax_last(x: &Tensor, log: bool) -> Result<Tensor> {
    let n = x.shape()[x.rank() - 1];
    let rows = x.numel() / n;
    let y = run(NnKernel::Softmax { rows, n, log }, &[x])?.swap_remove(0);
    Ok(Tensor::from_op_storage(
        y,
        x.shape(),
        SoftmaxOp { rows, n, log },
        &[x],
    ))
}

#[cfg(test)]
mod tests {
    use crate::{gradcheck, gradgradcheck, DType, GradcheckOptions, Tensor};

    #[test]
    fn gradients_match_central_differences() {
        let x = Tensor::randn(&[3, 2, 7], DType::F64, 1);
        for log in [false, true] {
            let f = |xs: &[Tensor]| {
                if log {
                    xs[0].log_softmax(-1)
                } else {
                    xs[0].softmax(-1)
                }
            };
            gradcheck(f, std::slice::from_ref(&x), GradcheckOptions::default()).unwrap();
            gradgradcheck(f, std::slice::from_ref(&x), GradcheckOptions::default()).unwrap();
        }
    }

    #[test]
    fn f32_matches_the_composed_ops() {
        let x = Tensor::randn(&[5, 33], DType::F32, 2)
            .mul_scalar(4.0)
            .unwrap();
        let g = Tensor::randn(&[5, 33], DType::F32, 3);
        for log in [false, true] {
            let x = x.detach().requires_grad_(true);
            let fused = if log {
                x.log_softmax(-1)
            } else {
                x.softmax(-1)
            }
            .unwrap();
            let composed = x.softmax_composed(-1, log).unwrap();
            crate::ops::nn::tests::assert_close(&fused, &composed, 2e-6);
            let a = crate::autodiff::grad(&fused, &[&x], Some(&g), false).unwrap();
            let b = crate::autodiff::grad(&composed, &[&x], Some(&g), false).unwrap();
            crate::ops::nn::tests::assert_close(&a[0], &b[0], 2e-6);
        }
    }

    #[test]
    fn masked_positions_get_zero_weight() {
        let x = Tensor::from_vec(vec![0.0f32, f32::NEG_INFINITY, 0.0], &[1, 3]).unwrap();
        assert_eq!(
            x.softmax(-1).unwrap().to_vec::<f32>().unwrap(),
            vec![0.5, 0.0, 0.5]
        );
    }
}
