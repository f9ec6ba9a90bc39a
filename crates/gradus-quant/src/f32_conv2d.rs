//! An f32 `Conv2d` for tape-free inference, blocks of images in parallel. Stride 1 (LeNet's
//! layers) runs gradus-tensor's direct convolution ([`gradus_tensor::DirectConv2d`]: each image
//! copied once into zero-padded planes, every tap a contiguous run, outputs held in registers,
//! no column matrix); other strides lower each image to im2col in a reused buffer and
//! gradus-tensor's f32 GEMM ([`gradus_tensor::gemm_f32`]) straight into the `[out, oh · ow]`
//! output plane. The bias (and a following ReLU) is added in one pass over each image's output.

use crate::conv2d::{im2col, images_per_block, ConvGeometry};
use crate::error::{QuantError, Result};
use gradus_tensor::{gemm_f32, DirectConv2d};
use rayon::prelude::*;

/// `y = conv(x, W) + b`: `x` `[n, in, h, w]` → `y` `[n, out, oh, ow]`, in f32 (PyTorch's
/// `nn.Conv2d`, dilation 1, one group).
///
/// ```
/// use gradus_quant::conv2d::ConvGeometry;
/// use gradus_quant::f32_conv2d::{F32Conv2d, Scratch};
/// let g = ConvGeometry { in_channels: 1, out_channels: 1, kernel: (1, 1), stride: (1, 1), padding: (0, 0) };
/// let c = F32Conv2d::new(vec![2.0], Some(vec![1.0]), g).unwrap();
/// let (mut y, mut s) = (Vec::new(), Scratch::default());
/// assert_eq!(c.forward(&[1.0, 2.0, 3.0, 4.0], (1, 2, 2), &mut y, &mut s).unwrap(), (2, 2));
/// assert_eq!(y, vec![3.0, 5.0, 7.0, 9.0]);
/// ```
#[derive(Clone, Debug)]
pub struct F32Conv2d {
    /// `[out, in · kh · kw]` (PyTorch's `[out, in, kh, kw]` flattened).
    pub weight: Vec<f32>,
    /// `[out]`.
    pub bias: Vec<f32>,
    /// Kernel geometry.
    pub geometry: ConvGeometry,
}

/// Buffers a forward pass reuses between calls: one per block of images run on one thread (the
/// padded copy of the direct kernel, or the im2col matrix), and the direct kernel's plans, one
/// per geometry and input size `(h, w)` seen (a model's layers share one `Scratch`).
#[derive(Default, Debug)]
pub struct Scratch {
    blocks: Vec<Vec<f32>>,
    direct: Vec<(ConvGeometry, (usize, usize), Option<DirectConv2d>)>,
}

impl F32Conv2d {
    /// A layer from its `weight` (`[out, in, kh, kw]`) and `bias` `[out]` (zeros if none).
    ///
    /// # Errors
    /// [`QuantError::Shape`] when the lengths do not match the geometry or a stride is 0.
    pub fn new(weight: Vec<f32>, bias: Option<Vec<f32>>, g: ConvGeometry) -> Result<F32Conv2d> {
        let bias = bias.unwrap_or_else(|| vec![0.0; g.out_channels]);
        if weight.len() != g.out_channels * g.patch()
            || bias.len() != g.out_channels
            || g.stride.0 == 0
            || g.stride.1 == 0
        {
            return Err(QuantError::Shape(format!(
                "Conv2d {g:?}: weight has {} values (want {}), bias {} (want {})",
                weight.len(),
                g.out_channels * g.patch(),
                bias.len(),
                g.out_channels
            )));
        }
        Ok(F32Conv2d {
            weight,
            bias,
            geometry: g,
        })
    }

    /// Forward pass of `x` `[n, in, h, w]` into `y` (resized to `[n, out, oh, ow]`; no allocation
    /// once `y` and `s` have grown); returns `(oh, ow)`.
    ///
    /// # Errors
    /// [`QuantError::Shape`] when `x` is not `n · in · h · w` long.
    pub fn forward(
        &self,
        x: &[f32],
        dims: (usize, usize, usize),
        y: &mut Vec<f32>,
        s: &mut Scratch,
    ) -> Result<(usize, usize)> {
        self.forward_act(x, dims, false, y, s)
    }

    /// [`Self::forward`], then ReLU (`max(y, 0)`) if `relu`, in the same pass as the bias.
    ///
    /// # Errors
    /// [`QuantError::Shape`] when `x` is not `n · in · h · w` long.
    pub fn forward_act(
        &self,
        x: &[f32],
        (n, h, w): (usize, usize, usize),
        relu: bool,
        y: &mut Vec<f32>,
        s: &mut Scratch,
    ) -> Result<(usize, usize)> {
        let g = &self.geometry;
        let image = g.in_channels * h * w;
        if x.len() != n * image {
            return Err(QuantError::Shape(format!(
                "Conv2d: input of {} values is not [{n}, {}, {h}, {w}]",
                x.len(),
                g.in_channels
            )));
        }
        let (oh, ow) = g.output(h, w);
        let (pixels, patch, o) = (oh * ow, g.patch(), g.out_channels);
        y.resize(n * o * pixels, 0.0);
        if n == 0 || o * pixels == 0 {
            return Ok((oh, ow));
        }
        let plan = |(pg, size, _): &(ConvGeometry, (usize, usize), Option<DirectConv2d>)| {
            *pg == *g && *size == (h, w)
        };
        if g.stride == (1, 1) && !s.direct.iter().any(plan) {
            let d = DirectConv2d::new(g.in_channels, (h, w), o, g.kernel, g.padding);
            s.direct.push((*g, (h, w), d));
        }
        let direct = match g.stride {
            (1, 1) => s
                .direct
                .iter()
                .find(|&e| plan(e))
                .and_then(|e| e.2.as_ref()),
            _ => None,
        };
        // blocks of images in parallel; each image is computed alone, so its result does not
        // depend on the thread count, nor on the split
        let per = images_per_block(n);
        s.blocks.resize_with(n.div_ceil(per), Vec::new);
        gradus_tensor::threads::warm();
        y.par_chunks_mut(per * o * pixels)
            .zip(s.blocks.par_iter_mut())
            .enumerate()
            .for_each(|(block, (yb, buf))| {
                buf.resize(direct.map_or(pixels * patch, DirectConv2d::padded_len), 0.0);
                for (i, yi) in yb.chunks_mut(o * pixels).enumerate() {
                    let xi = &x[(block * per + i) * image..][..image];
                    match direct {
                        Some(d) => d.run(xi, &self.weight, buf, yi),
                        None => {
                            im2col(xi, g, (h, w), (oh, ow), 0.0, buf);
                            // W [o, patch] · colsᵀ [patch, pixels] (cols is [pixels, patch])
                            gemm_f32(
                                (o, pixels, patch),
                                &self.weight,
                                (patch, 1),
                                buf,
                                (1, patch),
                                yi,
                            );
                        }
                    }
                    for (yc, &b) in yi.chunks_mut(pixels).zip(&self.bias) {
                        match relu {
                            true => yc.iter_mut().for_each(|v| *v = (*v + b).max(0.0)),
                            false => yc.iter_mut().for_each(|v| *v += b),
                        }
                    }
                }
            });
        Ok((oh, ow))
    }
}
