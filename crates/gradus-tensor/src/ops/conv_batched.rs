//! `conv2d` (one group) over the whole batch as one matrix product: the columns of every image
//! side by side, `[c_in*kh*kw, n * oh*ow]` (`Window::batch_inner`), so that
//! `y = W [c_out, c_in*kh*kw] @ cols` is one GEMM of `n * oh*ow` columns instead of `n` small
//! ones, and the weight gradient `dW = dy @ colsᵀ` one GEMM summing over the batch, without the
//! `[n, c_out, c_in*kh*kw]` products the per-image lowering sums afterwards (PyTorch's CPU
//! `slow_conv2d` lowers per image; this is the batched im2col of Chellapilla et al. 2006, "High
//! performance convolutional neural networks for document processing").
//!
//! `Tensor::conv2d` takes this path for one group; the per-image path of `conv.rs` stays the
//! reference it is tested against (and runs grouped convolutions).

use super::conv::Window;
use crate::autodiff::{BackwardOp, Ctx};
use crate::{Result, Tensor};

/// `unfold` into the batch-inside layout; its adjoint is [`Tensor::fold_batch_inner`].
struct UnfoldBatchInnerOp(Window);
impl BackwardOp for UnfoldBatchInnerOp {
    fn name(&self) -> &'static str {
        "unfold_batch_inner"
    }
    // linear; the adjoint of im2col is col2im in the same layout
    fn backward(&self, _ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(g.fold_batch_inner(self.0)?)])
    }
}

/// `fold` from the batch-inside layout; its adjoint is [`Tensor::unfold_batch_inner`].
struct FoldBatchInnerOp(Window);
impl BackwardOp for FoldBatchInnerOp {
    fn name(&self) -> &'static str {
        "fold_batch_inner"
    }
    fn backward(&self, _ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(g.unfold_batch_inner(self.0)?)])
    }
}

impl Tensor {
    /// `[n, c, h, w] -> [c*kh*kw, n * oh*ow]` patches (zero padding) for a checked `win`.
    pub(crate) fn unfold_batch_inner(&self, win: Window) -> Result<Tensor> {
        let win = Window {
            batch_inner: true,
            ..win
        };
        let (oh, ow) = win.output_size().expect("checked by the caller");
        let shape = [
            win.channels * win.kernel.0 * win.kernel.1,
            self.shape()[0] * oh * ow,
        ];
        let cols = self.storage().im2col(self.layout(), &win, 0.0)?;
        Ok(Tensor::from_op_storage(
            cols,
            &shape,
            UnfoldBatchInnerOp(win),
            &[self],
        ))
    }

    /// `[c*kh*kw, n * oh*ow]` patches summed back into `[n, c, h, w]` images.
    pub(crate) fn fold_batch_inner(&self, win: Window) -> Result<Tensor> {
        let win = Window {
            batch_inner: true,
            ..win
        };
        let (oh, ow) = win.output_size().expect("checked by the caller");
        let n = self.shape()[1] / (oh * ow).max(1);
        let x = self.storage().col2im(self.layout(), &win)?;
        let shape = [n, win.channels, win.h, win.w];
        Ok(Tensor::from_op_storage(
            x,
            &shape,
            FoldBatchInnerOp(win),
            &[self],
        ))
    }

    /// One-group `conv2d` as one GEMM over the batch (shapes checked by `conv2d`): `weight`
    /// `[c_out, c_in, kh, kw]`, bias `[c_out]`, output `[n, c_out, oh, ow]`.
    pub(crate) fn conv2d_batched(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        win: Window,
    ) -> Result<Tensor> {
        let (n, c_out) = (self.shape()[0], weight.shape()[0]);
        let (oh, ow) = win.output_size().expect("checked by the caller");
        let cols = self.unfold_batch_inner(win)?; // [patch, n*L]
        let w = weight.reshape(&[c_out, cols.shape()[0]])?;
        let y = w.matmul(&cols)?; // [c_out, n*L]
        let y = match bias {
            Some(b) => y.add(&b.reshape(&[c_out, 1])?)?,
            None => y,
        };
        // [c_out, n, oh, ow] -> [n, c_out, oh, ow]: one copy
        y.reshape(&[c_out, n, oh, ow])?
            .permute(&[1, 0, 2, 3])?
            .contiguous()
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::conv::Conv2dOptions;
    use crate::{DType, Tensor};

    /// The per-image reference: `unfold`, one product per image, bias broadcast.
    fn reference(x: &Tensor, w: &Tensor, b: &Tensor, o: &Conv2dOptions) -> Tensor {
        let ws = w.shape().to_vec();
        let cols = x.unfold((ws[2], ws[3]), o).unwrap(); // [n, patch, L]
        let y = w
            .reshape(&[ws[0], ws[1] * ws[2] * ws[3]])
            .unwrap()
            .matmul(&cols)
            .unwrap();
        let (oh, ow) = (
            (x.shape()[2] + 2 * o.padding.0 - o.dilation.0 * (ws[2] - 1) - 1) / o.stride.0 + 1,
            (x.shape()[3] + 2 * o.padding.1 - o.dilation.1 * (ws[3] - 1) - 1) / o.stride.1 + 1,
        );
        y.reshape(&[x.shape()[0], ws[0], oh, ow])
            .unwrap()
            .add(&b.reshape(&[1, ws[0], 1, 1]).unwrap())
            .unwrap()
    }

    fn grads(y: &Tensor, inputs: &[&Tensor], seed: u64) -> Vec<Vec<f64>> {
        let g = Tensor::randn(y.shape(), DType::F64, seed);
        y.mul(&g).unwrap().sum_all().unwrap().backward().unwrap();
        inputs
            .iter()
            .map(|t| {
                let v = t.grad().unwrap().to_vec::<f64>().unwrap();
                t.set_grad(None);
                v
            })
            .collect()
    }

    #[test]
    fn batched_conv_matches_the_per_image_reference_with_gradients() {
        for (cin, cout, hw, k, stride, padding, dilation) in [
            (1, 6, 12, 5, (1, 1), (2, 2), (1, 1)),
            (6, 16, 9, 5, (1, 1), (0, 0), (1, 1)),
            (3, 4, 8, 3, (2, 1), (1, 0), (1, 2)),
        ] {
            let o = Conv2dOptions {
                stride,
                padding,
                dilation,
                groups: 1,
            };
            let x = Tensor::randn(&[3, cin, hw, hw], DType::F64, 1).requires_grad_(true);
            let w = Tensor::randn(&[cout, cin, k, k], DType::F64, 2).requires_grad_(true);
            let b = Tensor::randn(&[cout], DType::F64, 3).requires_grad_(true);
            let fast = x.conv2d(&w, Some(&b), &o).unwrap();
            let slow = reference(&x, &w, &b, &o);
            assert_eq!(fast.shape(), slow.shape());
            let close = |a: &[f64], b: &[f64]| {
                a.len() == b.len() && a.iter().zip(b).all(|(p, q)| (p - q).abs() < 1e-12)
            };
            let (yf, ys) = (fast.to_vec::<f64>().unwrap(), slow.to_vec::<f64>().unwrap());
            assert!(close(&yf, &ys), "forward {o:?}");
            let gf = grads(&fast, &[&x, &w, &b], 4);
            let gs = grads(&slow, &[&x, &w, &b], 4);
            for (i, (a, b)) in gf.iter().zip(&gs).enumerate() {
                assert!(close(a, b), "gradient of input {i}, {o:?}");
            }
        }
    }
}
