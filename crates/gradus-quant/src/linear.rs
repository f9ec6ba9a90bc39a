//! A dynamically quantized `Linear` (PyTorch's `torch.ao.nn.quantized.dynamic.Linear`): int8
//! weights with per-output-channel scales, each input row quantized on the fly with its own range.

use crate::error::{QuantError, Result};
use crate::packed_gemm::{self, PackedWeights, Sink, MR, NR};
use crate::scheme::{quantize_per_channel, quantize_rows, row_sums, ActQuant};
use gradus_tensor::gemm_i8::Int8Path;

/// `y = x · Wᵀ + b` with `W` in int8: `x` `[rows, in_features]` → `y` `[rows, out_features]`.
#[derive(Clone, Debug)]
pub struct QLinear {
    /// `[out_features, in_features]`, in `-127..=127`.
    pub weight: Vec<i8>,
    /// `[out_features]`: real value of one weight step per output.
    pub weight_scale: Vec<f32>,
    /// `[out_features]`, kept in f32.
    pub bias: Vec<f32>,
    /// Input width.
    pub in_features: usize,
    /// Output width.
    pub out_features: usize,
    /// `[out_features]`: sums of the int8 weight rows (zero-point correction).
    row_sum: Vec<i32>,
    /// `weight` in the GEMM micro-kernel's layout, packed once here.
    packed: PackedWeights,
}

/// Buffers a forward pass reuses between calls.
#[derive(Default, Debug)]
pub struct Scratch {
    q: Vec<u8>,
    params: Vec<ActQuant>,
}

impl QLinear {
    /// Quantizes an f32 `weight` `[out, in]` (PyTorch layout) and `bias` `[out]` (zeros if none).
    ///
    /// # Errors
    /// [`QuantError::Shape`] when the lengths do not match `[out, in]`.
    pub fn quantize(
        weight: &[f32],
        bias: Option<&[f32]>,
        out: usize,
        inp: usize,
    ) -> Result<QLinear> {
        let (q, s) = quantize_per_channel(weight, out, inp);
        QLinear::from_parts(q, s, bias.map_or(vec![0.0; out], <[f32]>::to_vec), out, inp)
    }

    /// A layer from its stored parts (as read from a quantized model file).
    ///
    /// # Errors
    /// [`QuantError::Shape`] when the lengths do not match `[out, in]`.
    pub fn from_parts(
        weight: Vec<i8>,
        weight_scale: Vec<f32>,
        bias: Vec<f32>,
        out: usize,
        inp: usize,
    ) -> Result<QLinear> {
        if weight.contains(&i8::MIN) {
            return Err(QuantError::Shape(
                "quantized weights must lie in -127..=127 (found -128)".into(),
            ));
        }
        if weight.len() != out * inp || weight_scale.len() != out || bias.len() != out {
            return Err(QuantError::Shape(format!(
                "QLinear [{out}, {inp}]: weight has {} values, scales {}, bias {}",
                weight.len(),
                weight_scale.len(),
                bias.len()
            )));
        }
        let row_sum = row_sums(&weight, inp);
        let packed = PackedWeights::pack(&weight, out, inp);
        Ok(QLinear {
            packed,
            weight,
            weight_scale,
            bias,
            in_features: inp,
            out_features: out,
            row_sum,
        })
    }

    /// Forward pass of `rows` rows of `x` into `y` (resized), each row quantized with its own
    /// range.
    ///
    /// # Errors
    /// [`QuantError::Shape`] when `x` is not `rows · in_features` long.
    pub fn forward(&self, x: &[f32], rows: usize, y: &mut Vec<f32>, s: &mut Scratch) -> Result<()> {
        self.forward_with(Int8Path::best(), x, rows, false, y, s)
    }

    /// [`Self::forward`] followed by ReLU (`max(y, 0)`), fused into the GEMM's epilogue.
    ///
    /// # Errors
    /// [`QuantError::Shape`] when `x` is not `rows · in_features` long.
    pub fn forward_relu(
        &self,
        x: &[f32],
        rows: usize,
        y: &mut Vec<f32>,
        s: &mut Scratch,
    ) -> Result<()> {
        self.forward_with(Int8Path::best(), x, rows, true, y, s)
    }

    /// [`Self::forward`] (then ReLU if `relu`) with the int8 products on `path` (tests compare
    /// paths; an unavailable one falls back to the portable loops).
    ///
    /// # Errors
    /// [`QuantError::Shape`] when `x` is not `rows · in_features` long.
    pub fn forward_with(
        &self,
        path: Int8Path,
        x: &[f32],
        rows: usize,
        relu: bool,
        y: &mut Vec<f32>,
        s: &mut Scratch,
    ) -> Result<()> {
        let (k, n) = (self.in_features, self.out_features);
        if x.len() != rows * k {
            return Err(QuantError::Shape(format!(
                "QLinear [{n}, {k}]: input of {} values is not {rows} rows of {k}",
                x.len()
            )));
        }
        let kp = self.packed.k_padded();
        s.q.resize(rows * kp, 0);
        s.params.resize(rows, ActQuant::from_range(0.0, 0.0));
        quantize_rows(x, k, &mut s.q, kp, &mut s.params);
        y.resize(rows * n, 0.0);
        let sink = Epilogue {
            y: y.as_mut_ptr(),
            layer: self,
            params: &s.params,
            relu,
        };
        packed_gemm::gemm(path, rows, &s.q, kp, &self.packed, &sink);
        Ok(())
    }
}

/// Dequantize, add the bias and (if `relu`) clamp at 0, straight from the GEMM's registers:
/// `y[i][j] = (acc - z_i · Σ_p w[j][p]) · (s_i · s_j) + b[j]` in f32, in this order (the same
/// bits as dequantizing a stored i32 product).
struct Epilogue<'a> {
    /// `[rows, out_features]`.
    y: *mut f32,
    layer: &'a QLinear,
    /// `[rows]`: each input row's quantizer.
    params: &'a [ActQuant],
    relu: bool,
}

// SAFETY: concurrent `tile` calls write disjoint tiles of `y` (the `Sink` contract).
unsafe impl Sync for Epilogue<'_> {}

impl Epilogue<'_> {
    /// One row's `cols` outputs from its sums.
    #[inline(always)]
    fn row(&self, p: &ActQuant, acc: &[i32], j: usize, out: &mut [f32]) {
        let l = self.layer;
        let cols = out.len();
        let z = p.zero_point as i32;
        let per_out = l.row_sum[j..j + cols]
            .iter()
            .zip(&l.weight_scale[j..j + cols])
            .zip(&l.bias[j..j + cols]);
        for ((y, &acc), ((&rs, &ws), &b)) in out.iter_mut().zip(acc).zip(per_out) {
            let v = (acc - z * rs) as f32 * (p.scale * ws) + b;
            *y = if self.relu { v.max(0.0) } else { v };
        }
    }

    /// [`Self::row`] on a whole panel: fixed-length arrays and the ReLU test hoisted, so that it
    /// vectorizes (the same operations, element by element).
    #[inline(always)]
    fn full_row(&self, p: &ActQuant, acc: &[i32; NR], j: usize, out: &mut [f32; NR]) {
        let l = self.layer;
        let z = p.zero_point as i32;
        let rs: &[i32; NR] = l.row_sum[j..j + NR].try_into().expect("NR sums");
        let ws: &[f32; NR] = l.weight_scale[j..j + NR].try_into().expect("NR scales");
        let b: &[f32; NR] = l.bias[j..j + NR].try_into().expect("NR biases");
        let mut v = [0f32; NR];
        for ((v, (&acc, &rs)), (&ws, &b)) in
            v.iter_mut().zip(acc.iter().zip(rs)).zip(ws.iter().zip(b))
        {
            *v = (acc - z * rs) as f32 * (p.scale * ws) + b;
        }
        if self.relu {
            for (o, v) in out.iter_mut().zip(v) {
                *o = v.max(0.0);
            }
        } else {
            *out = v;
        }
    }
}

impl Sink for Epilogue<'_> {
    #[inline(always)]
    unsafe fn tile(&self, i: usize, j: usize, rows: usize, cols: usize, acc: &[[i32; NR]; MR]) {
        let n = self.layer.out_features;
        for (r, accr) in acc.iter().enumerate().take(rows) {
            // SAFETY: row `i + r`, columns `j..j + cols` lie in `y` `[rows, n]` and are this
            // tile's alone.
            let out = std::slice::from_raw_parts_mut(self.y.add((i + r) * n + j), cols);
            let p = &self.params[i + r];
            if cols == NR {
                let out: &mut [f32; NR] = out.try_into().expect("NR columns");
                self.full_row(p, accr, j, out);
            } else {
                self.row(p, &accr[..cols], j, out);
            }
        }
    }
}
