//! A statically quantized `Conv2d` (PyTorch's `torch.ao.nn.quantized.Conv2d`): int8 weights with
//! per-output-channel scales and an input quantizer fixed by calibration. Per image: the input
//! quantized once into zero-point-padded planes, im2col rows from those planes (no bounds logic:
//! fixed-length copies), then the packed int8 GEMM ([`packed_gemm`], weights packed once when the
//! layer is made) with dequantization, bias and ReLU done on each register tile as it leaves the
//! kernel, written straight into the `[out, oh · ow]` output plane; blocks of images in parallel.

use crate::error::{QuantError, Result};
use crate::packed_gemm::{self, PackedWeights, Sink, MR, NR};
use crate::scheme::{quantize_per_channel, row_sums, ActQuant};
use gradus_tensor::gemm_i8::Int8Path;
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
    /// `[out]`: sums of the int8 filters (zero-point correction).
    row_sum: Vec<i32>,
    /// `weight` in the GEMM micro-kernel's layout, packed once here.
    packed: PackedWeights,
}

/// Buffers a forward pass reuses between calls, per block of images run on one thread: the
/// quantized, padded planes of one image and its im2col rows.
#[derive(Default, Debug)]
pub struct Scratch {
    blocks: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Bytes past the planes and the im2col rows that a copy of up to this many bytes may touch: a
/// kernel row of at most `SLACK` taps is copied as one fixed-length move.
const SLACK: usize = 8;

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
        let packed = PackedWeights::pack(&weight, o, p);
        Ok(QConv2d {
            packed,
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
    /// [`QuantError::Shape`] when `x` is not `n · in · h · w` long or the kernel is larger than
    /// the padded input.
    pub fn forward(
        &self,
        x: &[f32],
        dims: (usize, usize, usize),
        y: &mut Vec<f32>,
        s: &mut Scratch,
    ) -> Result<(usize, usize)> {
        self.forward_with(Int8Path::best(), x, dims, false, y, s)
    }

    /// [`Self::forward`] (then ReLU, `max(y, 0)`, if `relu`, in the GEMM's epilogue) with the
    /// int8 products on `path` (tests compare paths; an unavailable one falls back to the
    /// portable loops). No allocation once `y` and `s` have grown.
    ///
    /// # Errors
    /// As [`Self::forward`].
    pub fn forward_with(
        &self,
        path: Int8Path,
        x: &[f32],
        (n, h, w): (usize, usize, usize),
        relu: bool,
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
        let (hp, wp) = (h + 2 * g.padding.0, w + 2 * g.padding.1);
        if hp < g.kernel.0 || wp < g.kernel.1 {
            return Err(QuantError::Shape(format!(
                "QConv2d: kernel {:?} is larger than the input {h}x{w} padded by {:?}",
                g.kernel, g.padding
            )));
        }
        let (oh, ow) = g.output(h, w);
        let (pixels, o, kp) = (oh * ow, g.out_channels, self.packed.k_padded());
        y.resize(n * o * pixels, 0.0);
        if n == 0 || o * pixels == 0 {
            return Ok((oh, ow));
        }
        let per = images_per_block(n);
        s.blocks.resize_with(n.div_ceil(per), Default::default);
        let image = c * h * w;
        gradus_tensor::threads::warm();
        y.par_chunks_mut(per * o * pixels)
            .zip(s.blocks.par_iter_mut())
            .enumerate()
            .for_each(|(block, (yb, (planes, cols)))| {
                planes.resize(c * hp * wp + SLACK, 0);
                cols.resize(pixels * kp + SLACK, 0);
                for (i, yi) in yb.chunks_mut(o * pixels).enumerate() {
                    let xi = &x[(block * per + i) * image..][..image];
                    self.quantize_padded(xi, (h, w), planes);
                    im2col_padded(planes, g, (hp, wp), (oh, ow), kp, cols);
                    let sink = Epilogue {
                        y: yi.as_mut_ptr(),
                        layer: self,
                        pixels,
                        relu,
                    };
                    packed_gemm::gemm(path, pixels, cols, kp, &self.packed, &sink);
                }
            });
        Ok((oh, ow))
    }

    /// One image `x` `[c, h, w]` quantized into zero-padded planes `[c, hp, wp]` (the padding
    /// holds the zero point: real 0.0).
    fn quantize_padded(&self, x: &[f32], (h, w): (usize, usize), planes: &mut [u8]) {
        let (q, (py, px)) = (&self.input, self.geometry.padding);
        let wp = w + 2 * px;
        let plane = (h + 2 * py) * wp;
        planes[..self.geometry.in_channels * plane].fill(q.zero_point);
        if h * w == 0 {
            return;
        }
        for (ch, xc) in x.chunks_exact(h * w).enumerate() {
            for (row, xr) in xc.chunks_exact(w).enumerate() {
                let at = ch * plane + (row + py) * wp + px;
                for (d, &v) in planes[at..at + w].iter_mut().zip(xr) {
                    *d = q.quantize(v);
                }
            }
        }
    }
}

/// Dequantize, add the bias and (if `relu`) clamp at 0, straight from the GEMM's registers into
/// one image's output `[out, pixels]`: `y[j][i] = (acc - z · Σ_p w[j][p]) · (s_x · s_j) + b[j]`
/// in f32, in this order.
struct Epilogue<'a> {
    /// `[out, pixels]`.
    y: *mut f32,
    layer: &'a QConv2d,
    pixels: usize,
    relu: bool,
}

// SAFETY: concurrent `tile` calls write disjoint tiles of `y` (the `Sink` contract).
unsafe impl Sync for Epilogue<'_> {}

impl Sink for Epilogue<'_> {
    #[inline(always)]
    unsafe fn tile(&self, i: usize, j: usize, rows: usize, cols: usize, acc: &[[i32; NR]; MR]) {
        let l = self.layer;
        let z = l.input.zero_point as i32;
        for c in 0..cols {
            let ch = j + c;
            let scale = l.input.scale * l.weight_scale[ch];
            let (bias, zr) = (l.bias[ch], z * l.row_sum[ch]);
            // SAFETY: pixels `i..i + rows` of channel `ch` lie in `y` `[out, pixels]` and are
            // this tile's alone.
            let out = std::slice::from_raw_parts_mut(self.y.add(ch * self.pixels + i), rows);
            for (v, accr) in out.iter_mut().zip(acc) {
                let v0 = (accr[c] - zr) as f32 * scale + bias;
                *v = if self.relu { v0.max(0.0) } else { v0 };
            }
        }
    }
}

/// im2col rows `[oh · ow, kp]` (the first `c · kh · kw` bytes of each row used; what lies after
/// meets zero weights) from padded planes `[c, hp, wp]` (with [`SLACK`] bytes after them):
/// every kernel row of every patch is one contiguous run, copied as one `SLACK`-byte move when
/// it is at most that long (the extra bytes land past the run, where later runs, the row's
/// padding or `cols`'s own slack take them).
fn im2col_padded(
    planes: &[u8],
    g: &ConvGeometry,
    (hp, wp): (usize, usize),
    (oh, ow): (usize, usize),
    kp: usize,
    cols: &mut [u8],
) {
    let ((kh, kw), (sy, sx)) = (g.kernel, g.stride);
    let plane = hp * wp;
    for oy in 0..oh {
        for ox in 0..ow {
            let mut d = (oy * ow + ox) * kp;
            let base = oy * sy * wp + ox * sx;
            for ch in 0..g.in_channels {
                for ky in 0..kh {
                    let src = ch * plane + base + ky * wp;
                    if kw <= SLACK {
                        cols[d..d + SLACK].copy_from_slice(&planes[src..src + SLACK]);
                    } else {
                        cols[d..d + kw].copy_from_slice(&planes[src..src + kw]);
                    }
                    d += kw;
                }
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
