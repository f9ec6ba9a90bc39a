//! The Euclidean norm over axes, with PyTorch's gradient at a zero vector.

use super::binary::keep_where;
use super::reduce::{normalize_axes, reduced_shape};
use crate::autodiff::{no_grad, BackwardOp, Ctx};
use crate::{Result, Tensor};

struct NormOp {
    keep_shape: Vec<usize>,
}
impl BackwardOp for NormOp {
    fn name(&self) -> &'static str {
        "norm"
    }
    // d |x| = x / |x|, and 0 where |x| = 0: PyTorch's `g * (x / |x|).masked_fill(|x| == 0, 0)`,
    // not 0 / 0 = NaN. The division uses |x| + [|x| = 0] so that second derivatives stay finite.
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let x = ctx.input(0);
        let (norm, g) = (
            ctx.output().reshape(&self.keep_shape)?,
            g.reshape(&self.keep_shape)?,
        );
        let zero = norm.detach().eq_elem(&Tensor::zeros(&[], norm.dtype()))?;
        let direction = keep_where(&zero.affine(-1.0, 1.0)?, &x.div(&norm.add(&zero)?)?)?;
        Ok(vec![Some(g.mul(&direction)?)])
    }
}

impl Tensor {
    /// The Euclidean (L2) norm over `axes`, `sqrt(sum x^2)`, as `torch.linalg.vector_norm`.
    /// Its gradient at a zero vector is 0, as in PyTorch (the composed `x.mul(x).sum().sqrt()`
    /// gives 0 * inf = NaN there).
    ///
    /// # Errors
    /// On an axis out of range.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![3.0f64, 4.0], &[2]).unwrap().requires_grad_(true);
    /// let n = x.norm(&[0], false).unwrap();
    /// assert_eq!(n.item().unwrap(), 5.0);
    /// n.backward().unwrap();
    /// assert_eq!(x.grad().unwrap().to_vec::<f64>().unwrap(), vec![0.6, 0.8]);
    /// ```
    pub fn norm(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let norm_axes = normalize_axes("norm", axes, self.shape())?;
        let keep_shape = reduced_shape(self.shape(), &norm_axes, true);
        let value = no_grad(|| self.mul(self)?.sum(axes, keepdim)?.sqrt())?;
        let op = NormOp { keep_shape };
        Ok(Tensor::from_op(
            value.0.storage.clone(),
            value.layout().clone(),
            op,
            &[self],
        ))
    }
}
