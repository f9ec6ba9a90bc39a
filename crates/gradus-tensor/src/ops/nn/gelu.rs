//! Exact GELU `x Φ(x)` as one fused op (`Tensor::gelu`).

use super::{run, NnKernel};
use crate::autodiff::{self, BackwardOp, Ctx};
use crate::{Result, Tensor};

struct GeluOp;

impl BackwardOp for GeluOp {
    fn name(&self) -> &'static str {
        "gelu"
    }

    // d/dx x Φ(x) = Φ(x) + x φ(x)
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let x = ctx.input(0);
        if autodiff::is_grad_enabled() {
            let out = x.gelu_composed()?;
            return autodiff::vjp(&out, ctx.inputs, g, true);
        }
        let dx = run(NnKernel::GeluBackward, &[x, g])?.swap_remove(0);
        Ok(vec![Some(Tensor::from_storage(dx, x.shape()))])
    }
}

/// `x Φ(x)` per element, fused.
pub(crate) fn gelu(x: &Tensor) -> Result<Tensor> {
    let y = run(NnKernel::Gelu, &[x])?.swap_remove(0);
    Ok(Tensor::from_op_storage(y, x.shape(), GeluOp, &[x]))
}

#[cfg(test)]
mod tests {
    use crate::ops::nn::tests::assert_close;
    use crate::{gradcheck, gradgradcheck, DType, GradcheckOptions, Tensor};

    #[test]
    fn gradients_match_central_differences() {
        let x = Tensor::randn(&[3, 5], DType::F64, 1)
            .mul_scalar(2.0)
            .unwrap();
        gradcheck(
            |xs| xs[0].gelu(),
            std::slice::from_ref(&x),
            GradcheckOptions::default(),
        )
        .unwrap();
        gradgradcheck(|xs| xs[0].gelu(), &[x], GradcheckOptions::default()).unwrap();
    }

    #[test]
    fn f32_matches_the_composed_ops() {
        let x = Tensor::randn(&[7, 9], DType::F32, 2)
            .mul_scalar(3.0)
            .unwrap()
            .requires_grad_(true);
        let g = Tensor::randn(&[7, 9], DType::F32, 3);
        let (fused, composed) = (x.gelu().unwrap(), x.gelu_composed().unwrap());
        assert_close(&fused, &composed, 1e-6);
        let a = crate::autodiff::grad(&fused, &[&x], Some(&g), false).unwrap();
        let b = crate::autodiff::grad(&composed, &[&x], Some(&g), false).unwrap();
        assert_close(&a[0], &b[0], 1e-6);
    }
}
