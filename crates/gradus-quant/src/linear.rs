//! A dynamically quantized `Linear` (PyTorch's `torch.ao.nn.quantized.dynamic.Linear`): int8
//! weights with per-output-channel scales, each input row quantized on the fly with its own range.

use crate::error::{QuantError, Result};
use crate::scheme::{quantize_per_channel, row_sums, ActQuant};
use gradus_tensor::gemm_i8::gemm_u8i8;

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
}

/// Buffers a forward pass reuses between calls.
#[derive(Default, Debug)]
pub struct Scratch {
    q: Vec<u8>,
    acc: Vec<i32>,
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
        Ok(QLinear {
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
        let (k, n) = (self.in_features, self.out_features);
        if x.len() != rows * k {
            return Err(QuantError::Shape(format!(
                "QLinear [{n}, {k}]: input of {} values is not {rows} rows of {k}",
                x.len()
            )));
        }
        s.q.resize(rows * k, 0);
        s.params.clear();
        for (xr, qr) in x.chunks(k.max(1)).zip(s.q.chunks_mut(k.max(1))) {
            let p = ActQuant::of(xr);
            xr.iter().zip(qr).for_each(|(&v, q)| *q = p.quantize(v));
            s.params.push(p);
        }
        s.params.resize(rows, ActQuant::from_range(0.0, 0.0));
        s.acc.resize(rows * n, 0);
        gemm_u8i8(rows, n, k, &s.q, &self.weight, &mut s.acc);
        y.resize(rows * n, 0.0);
        for ((yr, ar), p) in y.chunks_mut(n).zip(s.acc.chunks(n)).zip(&s.params) {
            let z = p.zero_point as i32;
            let per_out = self.row_sum.iter().zip(&self.weight_scale).zip(&self.bias);
            for ((y, &acc), ((&rs, &ws), &b)) in yr.iter_mut().zip(ar).zip(per_out) {
                *y = (acc - z * rs) as f32 * (p.scale * ws) + b;
            }
        }
        Ok(())
    }
}
