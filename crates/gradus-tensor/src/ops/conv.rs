//! Convolution as im2col + matrix product: `unfold` (patches to columns), its adjoint `fold`,
//! and `conv2d` (stride, padding, dilation, groups) composed from them.
//!
//! The data movement is two backend calls: `im2col` for `unfold` and `col2im` for `fold` (not one
//! fused convolution call): the product is the backend's `matmul`, and pooling reuses `im2col`,
//! so every device gets convolution, its gradients of any order, and pooling from those two.

use crate::autodiff::{BackwardOp, Ctx};
use crate::{Result, Tensor, TensorError};

/// Geometry of a 2-D sliding window over `[channels, h, w]` images (what `im2col` and `col2im`
/// need beyond the buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) channels: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) kernel: (usize, usize),
    pub(crate) stride: (usize, usize),
    pub(crate) padding: (usize, usize),
    pub(crate) dilation: (usize, usize),
}

impl Window {
    /// Output height and width, or `None` when the kernel does not fit.
    pub(crate) fn output_size(&self) -> Option<(usize, usize)> {
        let out = |size: usize, k: usize, s: usize, p: usize, d: usize| {
            let span = d * (k - 1) + 1;
            (size + 2 * p).checked_sub(span).map(|r| r / s + 1)
        };
        Some((
            out(
                self.h,
                self.kernel.0,
                self.stride.0,
                self.padding.0,
                self.dilation.0,
            )?,
            out(
                self.w,
                self.kernel.1,
                self.stride.1,
                self.padding.1,
                self.dilation.1,
            )?,
        ))
    }
}

/// Geometry of a 2-D convolution or pooling window, as in PyTorch's `Conv2d` arguments.
///
/// ```
/// use gradus_tensor::ops::conv::Conv2dOptions;
/// let o = Conv2dOptions { padding: (1, 1), ..Conv2dOptions::default() };
/// assert_eq!(o.stride, (1, 1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dOptions {
    /// Step between windows (rows, columns).
    pub stride: (usize, usize),
    /// Zero padding on each side (rows, columns).
    pub padding: (usize, usize),
    /// Spacing between kernel taps (rows, columns).
    pub dilation: (usize, usize),
    /// Channel groups: input and output channels are split into this many independent blocks.
    pub groups: usize,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Conv2dOptions {
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
        }
    }
}

pub(crate) fn window(
    op: &'static str,
    shape: &[usize],
    kernel: (usize, usize),
    o: &Conv2dOptions,
) -> Result<Window> {
    if shape.len() != 4 {
        return Err(TensorError::InvalidShape {
            op,
            shape: shape.to_vec(),
            detail: "expected [batch, channels, height, width]".into(),
        });
    }
    if kernel.0 == 0
        || kernel.1 == 0
        || o.stride.0 == 0
        || o.stride.1 == 0
        || o.dilation.0 == 0
        || o.dilation.1 == 0
    {
        return Err(TensorError::InvalidArgument {
            op,
            detail: format!(
                "kernel {kernel:?}, stride {:?} and dilation {:?} must be positive",
                o.stride, o.dilation
            ),
        });
    }
    let win = Window {
        channels: shape[1],
        h: shape[2],
        w: shape[3],
        kernel,
        stride: o.stride,
        padding: o.padding,
        dilation: o.dilation,
    };
    if win.output_size().is_none() {
        return Err(TensorError::InvalidShape {
            op,
            shape: shape.to_vec(),
            detail: format!(
                "kernel {kernel:?} (dilation {:?}) does not fit the padded input",
                o.dilation
            ),
        });
    }
    Ok(win)
}

struct UnfoldOp(Window, Conv2dOptions);
impl BackwardOp for UnfoldOp {
    fn name(&self) -> &'static str {
        "unfold"
    }
    // unfold is linear; its adjoint is fold
    fn backward(&self, _ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(g.fold(
            (self.0.h, self.0.w),
            self.0.kernel,
            &self.1,
        )?)])
    }
}

struct FoldOp(Window, Conv2dOptions);
impl BackwardOp for FoldOp {
    fn name(&self) -> &'static str {
        "fold"
    }
    // fold is linear; its adjoint is unfold
    fn backward(&self, _ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(g.unfold(self.0.kernel, &self.1)?)])
    }
}

impl Tensor {
    /// Extracts sliding patches: `[n, c, h, w] -> [n, c*kh*kw, oh*ow]` (`torch.nn.functional.unfold`).
    ///
    /// # Errors
    /// On a non-4-D input or a window that does not fit.
    ///
    /// ```
    /// use gradus_tensor::{ops::conv::Conv2dOptions, DType, Tensor};
    /// let x = Tensor::ones(&[1, 2, 4, 4], DType::F32);
    /// let cols = x.unfold((3, 3), &Conv2dOptions::default()).unwrap();
    /// assert_eq!(cols.shape(), &[1, 18, 4]);
    /// ```
    pub fn unfold(&self, kernel: (usize, usize), options: &Conv2dOptions) -> Result<Tensor> {
        self.unfold_padded(kernel, options, 0.0)
    }

    /// `unfold` reading `pad_value` outside the image (max pooling pads with -inf).
    pub(crate) fn unfold_padded(
        &self,
        kernel: (usize, usize),
        options: &Conv2dOptions,
        pad_value: f64,
    ) -> Result<Tensor> {
        let win = window("unfold", self.shape(), kernel, options)?;
        let (oh, ow) = win.output_size().expect("checked");
        let n = self.shape()[0];
        let shape = [n, win.channels * kernel.0 * kernel.1, oh * ow];
        let cols = self.storage().im2col(self.layout(), &win, pad_value)?;
        Ok(Tensor::from_op_storage(
            cols,
            &shape,
            UnfoldOp(win, *options),
            &[self],
        ))
    }

    /// Sums patches back into images: `[n, c*kh*kw, L] -> [n, c, h, w]`, the adjoint of
    /// [`Tensor::unfold`] (`torch.nn.functional.fold`).
    ///
    /// # Errors
    /// When the column shape does not match the window geometry.
    ///
    /// ```
    /// use gradus_tensor::{ops::conv::Conv2dOptions, DType, Tensor};
    /// let cols = Tensor::ones(&[1, 9, 4], DType::F64);
    /// let x = cols.fold((4, 4), (3, 3), &Conv2dOptions::default()).unwrap();
    /// assert_eq!(x.shape(), &[1, 1, 4, 4]);
    /// assert_eq!(x.sum_all().unwrap().item().unwrap(), 36.0);
    /// ```
    pub fn fold(
        &self,
        output_size: (usize, usize),
        kernel: (usize, usize),
        options: &Conv2dOptions,
    ) -> Result<Tensor> {
        let bad = || TensorError::InvalidShape {
            op: "fold",
            shape: self.shape().to_vec(),
            detail: format!("does not match kernel {kernel:?} over output {output_size:?}"),
        };
        if self.rank() != 3
            || kernel.0 * kernel.1 == 0
            || !self.shape()[1].is_multiple_of(kernel.0 * kernel.1)
        {
            return Err(bad());
        }
        let (n, c) = (self.shape()[0], self.shape()[1] / (kernel.0 * kernel.1));
        let win = window(
            "fold",
            &[n, c, output_size.0, output_size.1],
            kernel,
            options,
        )?;
        let (oh, ow) = win.output_size().expect("checked");
        if self.shape()[2] != oh * ow {
            return Err(bad());
        }
        let x = self.storage().col2im(self.layout(), &win)?;
        let shape = [n, c, output_size.0, output_size.1];
        Ok(Tensor::from_op_storage(
            x,
            &shape,
            FoldOp(win, *options),
            &[self],
        ))
    }

    /// 2-D convolution (cross-correlation, as `torch.nn.functional.conv2d`): input
    /// `[n, c_in, h, w]`, weight `[c_out, c_in / groups, kh, kw]`, optional bias `[c_out]`.
    ///
    /// # Errors
    /// On shapes that do not fit together (channel counts, groups, window size).
    ///
    /// ```
    /// use gradus_tensor::{ops::conv::Conv2dOptions, DType, Tensor};
    /// let x = Tensor::ones(&[2, 3, 8, 8], DType::F32);
    /// let w = Tensor::ones(&[4, 3, 3, 3], DType::F32);
    /// let y = x.conv2d(&w, None, &Conv2dOptions { padding: (1, 1), ..Default::default() }).unwrap();
    /// assert_eq!(y.shape(), &[2, 4, 8, 8]);
    /// ```
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        options: &Conv2dOptions,
    ) -> Result<Tensor> {
        // under autocast: one 16-bit op, inputs and output rounded (see `precision::autocast`)
        let inputs: Vec<&Tensor> = [Some(self), Some(weight), bias]
            .into_iter()
            .flatten()
            .collect();
        if crate::precision::autocast::format_for(&inputs).is_some() {
            return crate::precision::autocast::lower_precision(&inputs, |t| {
                t[0].conv2d(&t[1], t.get(2), options)
            });
        }
        let ws = weight.shape();
        let g = options.groups;
        let mismatch = |detail: String| TensorError::ShapeMismatch {
            op: "conv2d",
            lhs: self.shape().to_vec(),
            rhs: ws.to_vec(),
            detail,
        };
        if ws.len() != 4 || self.rank() != 4 {
            return Err(mismatch(
                ": input must be [n, c, h, w] and weight [c_out, c_in/groups, kh, kw]".into(),
            ));
        }
        if g == 0 || self.shape()[1] != ws[1] * g || !ws[0].is_multiple_of(g) {
            return Err(mismatch(format!(" (input channels must equal weight.shape[1] * groups = {} * {g}, and c_out divide by groups)", ws[1])));
        }
        // the rule choosing the lowering: `conv_direct::applies`
        let y = if super::conv_direct::applies(ws, options) {
            self.check_same("conv2d", weight)?;
            self.conv2d_direct(weight, options)?
        } else {
            self.conv2d_im2col(weight, options)?
        };
        match bias {
            Some(b) if b.shape() != [ws[0]] => Err(TensorError::ShapeMismatch {
                op: "conv2d",
                lhs: vec![ws[0]],
                rhs: b.shape().to_vec(),
                detail: ": bias must have c_out elements".into(),
            }),
            Some(b) => y.add(&b.reshape(&[1, ws[0], 1, 1])?),
            None => Ok(y),
        }
    }

    /// `conv2d` without bias as im2col + matrix product (shapes checked by the caller): the
    /// lowering of every geometry, and the reference the direct kernel is tested against.
    pub(crate) fn conv2d_im2col(&self, weight: &Tensor, options: &Conv2dOptions) -> Result<Tensor> {
        let (ws, g) = (weight.shape(), options.groups);
        let cols = self.unfold((ws[2], ws[3]), options)?; // [n, c*kh*kw, L]
        let (n, l) = (self.shape()[0], cols.shape()[2]);
        let (oh, ow) = window("conv2d", self.shape(), (ws[2], ws[3]), options)?
            .output_size()
            .expect("checked");
        let patch = ws[1] * ws[2] * ws[3];
        let cols = cols.reshape(&[n, g, patch, l])?;
        let w = weight.reshape(&[g, ws[0] / g, patch])?;
        w.matmul(&cols)?.reshape(&[n, ws[0], oh, ow])
    }
}
