//! A statically quantized `Conv2d` (PyTorch's `torch.ao.nn.quantized.Conv2d`): int8 weights with
//! per-output-channel scales and an input quantizer fixed by calibration; im2col on the quantized
//! input, then the int8 GEMM, blocks of images in parallel.

use crate::error::{QuantError, Result};
use crate::scheme::{quantize_per_channel, row_sums, ActQuant};
use gradus_tensor::gemm_i8::gemm_u8i8;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Kernel geometry (dilation 1, one group: what gradus's CNNs use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvGeometry {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel (rows, columns).
    pub kernel: (usize, usize),
    /// Step between windows (rows, columns).
    pub stride: (usize, usize),
    /// Zero padding on each side (rows, columns).
    pub padding: (usize, usize),
}

impl ConvGeometry {
    /// Values in one output channel's filter: `in_channels · kh · kw`.
    pub fn patch(&self) -> usize {
        self.in_channels * self.kernel.0 * self.kernel.1
    }

    /// Output height and width for an `h × w` input.
    pub fn output(&self, h: usize, w: usize) -> (usize, usize) {
        let o = |n: usize, k: usize, p: usize, s: usize| (n + 2 * p).saturating_sub(k) / s + 1;
        (
            o(h, self.kernel.0, self.padding.0, self.stride.0),
            o(w, self.kernel.1, self.padding.1, self.stride.1),
        )
    }
}

/// `y = conv(x, W) + b`: `x` `[n, in, h, w]` → `y` `[n, out, oh, ow]`.
#[derive(Clone, Debug)]
pub struct QConv2d {
    /// `[out, in · kh · kw]` (PyTorch's `[out, in, kh, kw]` flattened), in `-127..=127`.
    pub weight: Vec<i8>,
    /// `[out]`.
    pub weight_scale: Vec<f32>,
    /// `[out]`, in f32.
    pub bias: Vec<f32>,
    /// The input quantizer (from calibration).
    pub input: ActQuant,
    /// Kernel geometry.
    pub geometry: ConvGeometry,
    row_sum: Vec<i32>,
}

/// Buffers a forward pass reuses between calls: the quantized input and, per block of images
/// run on one thread, an im2col buffer and the i32 accumulators.
#[derive(Default, Debug)]
pub struct Scratch {
    q: Vec<u8>,
    blocks: Vec<(Vec<u8>, Vec<i32>)>,
}

/// Images per parallel block of a batch of `n`: about two blocks per thread. Each image is
/// computed alone, in integers, so the result does not depend on the split.
pub(crate) fn images_per_block(n: usize) -> usize {
    n.div_ceil(2 * rayon::current_num_threads()).max(1)
}

impl QConv2d {
    /// Quantizes an f32 `weight` (`[out, in, kh, kw]`) and `bias`; the input quantizer starts as
    /// the identity range and is set by calibration.
    ///
    /// # Errors
    /// [`QuantError::Shape`] when the lengths do not match the geometry.
    pub fn quantize(weight: &[f32], bias: Option<&[f32]>, g: ConvGeometry) -> Result<QConv2d> {
        let (q, s) = quantize_per_channel(weight, g.out_channels, g.patch());
        let bias = bias.map_or(vec![0.0; g.out_channels], <[f32]>::to_vec);
        QConv2d::from_parts(q, s, bias, ActQuant::from_range(0.0, 0.0), g)
    }

    /// A layer from its stored parts.
    ///
    /// # Errors
    /// [`QuantError::Shape`] when the lengths do not match the geometry.
    pub fn from_parts(
        weight: Vec<i8>,
        weight_scale: Vec<f32>,
        bias: Vec<f32>,
        input: ActQuant,
        g: ConvGeometry,
    ) -> Result<QConv2d> {
        let (o, p) = (g.out_channels, g.patch());
        if weight.contains(&i8::MIN) {
            return Err(QuantError::Shape(
                "quantized weights must lie in -127..=127 (found -128)".into(),
            ));
        }
        if weight.len() != o * p
            || weight_scale.len() != o
            || bias.len() != o
            || g.stride.0 == 0
            || g.stride.1 == 0
        {
            return Err(QuantError::Shape(format!(
                "QConv2d {g:?}: weight has {} values (want {}), scales {}, bias {} (want {o})",
                weight.len(),
                o * p,
                weight_scale.len(),
                bias.len()
            )));
        }
        let row_sum = row_sums(&weight, p);
        Ok(QConv2d {
            weight,
            weight_scale,
            bias,
            input,
            geometry: g,
            row_sum,
        })
    }

    /// Forward pass of `x` `[n, in, h, w]` into `y` (resized to `[n, out, oh, ow]`); returns
    /// `(oh, ow)`.
    ///
    /// # Errors
    /// [`QuantError::Shape`] when `x` is not `n · in · h · w` long.
    pub fn forward(
        &self,
        x: &[f32],
        (n, h, w): (usize, usize, usize),
        y: &mut Vec<f32>,
        s: &mut Scratch,
    ) -> Result<(usize, usize)> {
        let g = &self.geometry;
        let c = g.in_channels;
        if x.len() != n * c * h * w {
            return Err(QuantError::Shape(format!(
                "QConv2d: input of {} values is not [{n}, {c}, {h}, {w}]",
                x.len()
            )));
        }
        let (oh, ow) = g.output(h, w);
        let (pixels, patch, o) = (oh * ow, g.patch(), g.out_channels);
        self.input.quantize_into(x, &mut s.q);
        y.resize(n * o * pixels, 0.0);
        if n == 0 || o * pixels == 0 {
            return Ok((oh, ow));
        }
        let per = images_per_block(n);
        s.blocks.resize_with(n.div_ceil(per), Default::default);
        let (image, q) = (c * h * w, &s.q);
        y.par_chunks_mut(per * o * pixels)
            .zip(s.blocks.par_iter_mut())
            .enumerate()
            .for_each(|(block, (yb, (cols, acc)))| {
                cols.resize(pixels * patch, 0);
                acc.resize(pixels * o, 0);
                for (i, yi) in yb.chunks_mut(o * pixels).enumerate() {
                    let qi = &q[(block * per + i) * image..][..image];
                    im2col(qi, g, (h, w), (oh, ow), self.input.zero_point, cols);
                    gemm_u8i8(pixels, o, patch, cols, &self.weight, acc);
                    self.dequantize(acc, pixels, yi);
                }
            });
        Ok((oh, ow))
    }

    /// `acc` `[pixels, out]` (i32) to `y` `[out, pixels]` (f32): zero-point correction, scales, bias.
    fn dequantize(&self, acc: &[i32], pixels: usize, y: &mut [f32]) {
        let (o, z) = (self.geometry.out_channels, self.input.zero_point as i32);
        for (ch, yc) in y.chunks_mut(pixels).enumerate() {
            let scale = self.input.scale * self.weight_scale[ch];
            let (bias, zr) = (self.bias[ch], z * self.row_sum[ch]);
            for (v, a) in yc.iter_mut().zip(acc[ch..].iter().step_by(o)) {
                *v = (a - zr) as f32 * scale + bias;
            }
        }
    }
}

/// Patches of one image `[c, h, w]` as rows `[oh · ow, c · kh · kw]`; taps in the padding read
/// `pad` (real 0.0: the zero point of a quantized image, `0.0` in f32).
pub(crate) fn im2col<T: Copy>(
    x: &[T],
    g: &ConvGeometry,
    (h, w): (usize, usize),
    (oh, ow): (usize, usize),
    pad: T,
    cols: &mut [T],
) {
    let (kh, kw) = g.kernel;
    let (patch, (sy, sx), (py, px)) = (g.patch(), g.stride, g.padding);
    if patch == 0 {
        return;
    }
    for oy in 0..oh {
        for ox in 0..ow {
            // taps kx in lo..hi of output column ox read inside the image (column ox·sx + kx - px)
            let lo = px.saturating_sub(ox * sx).min(kw);
            let hi = (w + px).saturating_sub(ox * sx).clamp(lo, kw);
            let row = &mut cols[(oy * ow + ox) * patch..][..patch];
            for (ck, taps) in row.chunks_mut(kw).enumerate() {
                let (ch, ky) = (ck / kh, ck % kh);
                let iy = (oy * sy + ky).wrapping_sub(py); // wraps past h when above the image
                if iy >= h || lo == hi {
                    taps.fill(pad);
                    continue;
                }
                let start = ch * h * w + iy * w + ox * sx + lo - px;
                taps[..lo].fill(pad);
                taps[lo..hi].copy_from_slice(&x[start..start + hi - lo]);
                taps[hi..].fill(pad);
            }
        }
    }
}
