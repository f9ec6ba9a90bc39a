//! Direct convolution: the stride-1, one-group `conv2d` of small channel counts as one backend
//! call (`conv2d_direct`, no column matrix), with its backward rule.
//!
//! For input `x` `[n, c_in, h, w]`, weight `w` `[c_out, c_in, kh, kw]`, padding `p`, dilation
//! `d` and output gradient `g` `[n, c_out, oh, ow]`:
//! - `dL/dx[ci, y, x] = sum_{co, i, j} w[co, ci, i, j] * g[co, y + p - i*d, x + p - j*d]` over
//!   the positions inside `g`: one backend call (`conv2d_input_grad`, the forward kernel's
//!   adjoint, which multiplies only `g`'s data, where the forward kernel run on `g` padded by
//!   `d*(k-1) - p` would mostly multiply padding), an op whose gradients are again these
//!   convolutions;
//! - `dL/dw[co, ci, i, j] = sum_{n, y, x} g[n, co, y, x] * x[n, ci, y + i*d - p, x + j*d - p]`:
//!   one backend call (`conv2d_weight_grad`), itself an op whose gradients are again these
//!   convolutions, so the convolution stays differentiable to any order.

use super::conv::{window, Conv2dOptions};
use crate::autodiff::{BackwardOp, Ctx};
use crate::{Result, Tensor};

/// Largest `c_in * kh * kw` (the GEMM's inner length in the im2col lowering) that runs direct.
/// Measured (release, one thread, forward + backward, batch 128, AMD EPYC with AVX2, under
/// heavy load): LeNet's conv1 (patch 25) 31-91 ms direct against 102-177 ms im2col; conv2
/// (patch 150) 99-116 ms direct against 30-45 ms im2col (its direct forward wins, 8-10 against
/// 11-16 ms, its direct backward loses). The bound lies between the two measured points.
const MAX_PATCH: usize = 64;
/// The same where the CPU has AVX-512F, whose kernels hold up to 8 output channels in
/// registers (`kernels::conv_direct_avx512`): LeNet's conv2 (patch 150) then runs direct,
/// measured faster than im2col + GEMM there (Intel Xeon, BENCHMARKS.md); longer patches are not
/// measured.
const MAX_PATCH_AVX512: usize = 150;
/// Largest `c_out` that runs direct.
const MAX_C_OUT: usize = 32;

/// Whether `conv2d` of an input `[n, c_in, h, w]` by a weight `[c_out, c_in, kh, kw]` runs the
/// direct kernel: one group, stride 1, padding at most `dilation * (k - 1)` on each axis (so the
/// input gradient is again such a convolution), `c_in * kh * kw <= 64` (150 with AVX-512) and
/// `c_out <= 32` (few input channels, as LeNet's layers, where the im2col GEMM is too skinny to
/// reach its rate; longer patches keep the GEMM, see `MAX_PATCH`).
pub(crate) fn applies(weight: &[usize], o: &Conv2dOptions) -> bool {
    let fits = |k: usize, p: usize, d: usize| p <= d * (k - 1);
    o.groups == 1
        && o.stride == (1, 1)
        && weight.len() == 4
        && weight[2] > 0
        && weight[3] > 0
        && fits(weight[2], o.padding.0, o.dilation.0)
        && fits(weight[3], o.padding.1, o.dilation.1)
        && weight[1] * weight[2] * weight[3] <= max_patch()
        && weight[0] <= MAX_C_OUT
}

/// [`MAX_PATCH`], or [`MAX_PATCH_AVX512`] on a CPU with AVX-512F.
fn max_patch() -> usize {
    match crate::backend::cpu::simd::widest_level() {
        crate::backend::cpu::simd::Level::Avx512 => MAX_PATCH_AVX512,
        _ => MAX_PATCH,
    }
}

struct DirectConv2dOp(Conv2dOptions);

impl BackwardOp for DirectConv2dOp {
    fn name(&self) -> &'static str {
        "conv2d"
    }

    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let (x, w) = (ctx.input(0), ctx.input(1));
        let gx = match x.requires_grad() {
            true => Some(input_grad(g, w, &self.0, x)?),
            false => None,
        };
        let gw = match w.requires_grad() {
            true => Some(x.conv2d_weight_grad(g, (w.shape()[2], w.shape()[3]), &self.0)?),
            false => None,
        };
        Ok(vec![gx, gw])
    }
}

/// The weight gradient as an op of `x` and `g`; it is bilinear, so for an incoming `h`
/// (`[c_out, c_in, kh, kw]`): `d/dx = input_grad(g, h)` and `d/dg = conv2d(x, h)`.
struct WeightGradOp(Conv2dOptions);

impl BackwardOp for WeightGradOp {
    fn name(&self) -> &'static str {
        "conv2d_weight_grad"
    }

    fn backward(&self, ctx: &Ctx<'_>, h: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let (x, g) = (ctx.input(0), ctx.input(1));
        let gx = match x.requires_grad() {
            true => Some(input_grad(g, h, &self.0, x)?),
            false => None,
        };
        let gg = match g.requires_grad() {
            true => Some(x.conv2d_direct(h, &self.0)?),
            false => None,
        };
        Ok(vec![gx, gg])
    }
}

/// The input gradient (shaped as `x`) of the convolution by `w` whose output gradient is `g`
/// (zeros when `x` is empty: a zero-height image has no window to convolve).
fn input_grad(g: &Tensor, w: &Tensor, o: &Conv2dOptions, x: &Tensor) -> Result<Tensor> {
    if x.numel() == 0 {
        return Ok(x.zeros_like());
    }
    g.conv2d_input_grad(w, x.shape(), o)
}

/// The input gradient as an op of `g` and `w`; it is bilinear, so for an incoming `h` (shaped as
/// the input): `d/dg = conv2d(h, w)` and `d/dw = conv2d_weight_grad(h, g)` (the adjoint of
/// `input_grad(., w)` is the forward convolution by `w`, and `<h, input_grad(g, w)> =
/// <conv2d(h, w), g> = <conv2d_weight_grad(h, g), w>`).
struct InputGradOp(Conv2dOptions);

impl BackwardOp for InputGradOp {
    fn name(&self) -> &'static str {
        "conv2d_input_grad"
    }

    fn backward(&self, ctx: &Ctx<'_>, h: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let (g, w) = (ctx.input(0), ctx.input(1));
        let gg = match g.requires_grad() {
            true => Some(h.conv2d_direct(w, &self.0)?),
            false => None,
        };
        let gw = match w.requires_grad() {
            true => Some(h.conv2d_weight_grad(g, (w.shape()[2], w.shape()[3]), &self.0)?),
            false => None,
        };
        Ok(vec![gg, gw])
    }
}

impl Tensor {
    /// The direct kernel for `conv2d` (shapes and dtypes checked by the caller, geometry by
    /// [`applies`]).
    pub(crate) fn conv2d_direct(&self, weight: &Tensor, o: &Conv2dOptions) -> Result<Tensor> {
        let ws = weight.shape();
        let win = window("conv2d", self.shape(), (ws[2], ws[3]), o)?;
        let (oh, ow) = win.output_size().expect("checked");
        let y = self.storage().conv2d_direct(
            self.layout(),
            (&*weight.storage(), weight.layout()),
            &win,
        )?;
        Ok(Tensor::from_op_storage(
            y,
            &[self.shape()[0], ws[0], oh, ow],
            DirectConv2dOp(*o),
            &[self, weight],
        ))
    }

    /// The input gradient `[n, c_in, h, w]` (`input`, not empty) of [`Tensor::conv2d_direct`]
    /// by `weight` whose output gradient is `self` (`[n, c_out, oh, ow]`): summed only over the
    /// output gradient's data, never over padding (`kernels::conv_input_grad`).
    fn conv2d_input_grad(
        &self,
        weight: &Tensor,
        input: &[usize],
        o: &Conv2dOptions,
    ) -> Result<Tensor> {
        let ws = weight.shape();
        let win = window("conv2d", input, (ws[2], ws[3]), o)?;
        let dx = self.storage().conv2d_input_grad(
            self.layout(),
            (&*weight.storage(), weight.layout()),
            &win,
        )?;
        Ok(Tensor::from_op_storage(
            dx,
            input,
            InputGradOp(*o),
            &[self, weight],
        ))
    }

    /// The weight gradient `[c_out, c_in, kh, kw]` of [`Tensor::conv2d_direct`] of `self`
    /// (`[n, c_in, h, w]`) whose output gradient is `g` (`[n, c_out, oh, ow]`).
    fn conv2d_weight_grad(
        &self,
        g: &Tensor,
        kernel: (usize, usize),
        o: &Conv2dOptions,
    ) -> Result<Tensor> {
        let win = window("conv2d", self.shape(), kernel, o)?;
        let gs = g.shape();
        let dw =
            self.storage()
                .conv2d_weight_grad(self.layout(), (&*g.storage(), g.layout()), &win)?;
        Ok(Tensor::from_op_storage(
            dw,
            &[gs[1], self.shape()[1], kernel.0, kernel.1],
            WeightGradOp(*o),
            &[self, g],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autodiff::grad;
    use crate::{DType, Rng};

    /// Output, input gradient and weight gradient of `sum(conv(x, w) * r)`.
    fn run(x: &Tensor, w: &Tensor, o: &Conv2dOptions, direct: bool) -> [Vec<f64>; 3] {
        let (x, w) = (
            x.detach().requires_grad_(true),
            w.detach().requires_grad_(true),
        );
        let y = match direct {
            true => x.conv2d_direct(&w, o).unwrap(),
            false => x.conv2d_im2col(&w, o).unwrap(),
        };
        let r = Rng::seed(3).uniform(y.shape(), -1.0, 1.0, y.dtype());
        let loss = y.mul(&r).unwrap().sum_all().unwrap();
        let g = grad(&loss, &[&x, &w], None, false).unwrap();
        let f = |t: &Tensor| t.to_dtype(DType::F64).unwrap().to_vec::<f64>().unwrap();
        [f(&y), f(&g[0]), f(&g[1])]
    }

    #[test]
    fn direct_kernel_equals_the_im2col_lowering() {
        // (input shape, weight shape, padding, dilation)
        type Case = ([usize; 4], [usize; 4], (usize, usize), (usize, usize));
        let cases: [Case; 6] = [
            ([3, 1, 28, 28], [6, 1, 5, 5], (2, 2), (1, 1)), // LeNet conv1
            ([2, 6, 14, 14], [16, 6, 5, 5], (0, 0), (1, 1)), // LeNet conv2
            ([1, 6, 14, 14], [16, 6, 5, 5], (0, 0), (1, 1)), // batch 1
            ([2, 3, 9, 7], [5, 3, 3, 3], (1, 1), (1, 1)),   // odd sizes, c_out not a block
            ([1, 2, 11, 10], [3, 2, 3, 2], (2, 1), (2, 3)), // dilation, uneven padding
            ([2, 4, 5, 6], [7, 4, 1, 1], (0, 0), (1, 1)),   // 1x1
        ];
        for (xs, ws, padding, dilation) in cases {
            let o = Conv2dOptions {
                padding,
                dilation,
                ..Default::default()
            };
            for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-4)] {
                let x = Rng::seed(1).normal(&xs, 0.0, 1.0, dtype);
                let w = Rng::seed(2).normal(&ws, 0.0, 0.3, dtype);
                let (a, b) = (run(&x, &w, &o, true), run(&x, &w, &o, false));
                for (k, (u, v)) in a.iter().zip(&b).enumerate() {
                    assert_eq!(u.len(), v.len());
                    let scale = v.iter().fold(1.0f64, |m, t| m.max(t.abs()));
                    let err = u
                        .iter()
                        .zip(v)
                        .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
                    assert!(
                        err <= tol * scale,
                        "{xs:?} {ws:?} {dtype:?} result {k}: {err}"
                    );
                }
            }
        }
    }

    #[test]
    fn strided_grouped_and_overpadded_convolutions_keep_the_im2col_lowering() {
        let w = [6, 1, 5, 5];
        let o = Conv2dOptions::default();
        assert!(applies(&w, &o));
        // patch 150: direct only with AVX-512's kernels
        assert_eq!(applies(&[16, 6, 5, 5], &o), max_patch() == MAX_PATCH_AVX512);
        assert!(!applies(&[16, 7, 5, 5], &o)); // patch 175
        assert!(!applies(
            &w,
            &Conv2dOptions {
                stride: (2, 2),
                ..o
            }
        ));
        assert!(!applies(&[6, 1, 5, 5], &Conv2dOptions { groups: 2, ..o }));
        assert!(!applies(
            &w,
            &Conv2dOptions {
                padding: (5, 0),
                ..o
            }
        ));
        assert!(!applies(&[64, 32, 3, 3], &o)); // wide layers keep the GEMM
    }
}
