//! Fused ops of the transformer path: softmax and log-softmax over the last axis, layer norm,
//! exact GELU, cross-entropy on class indices and multi-head scaled dot-product attention. Each
//! is one op whose backward (next to its forward, one file each) is one fused kernel too; under
//! `create_graph` the backward differentiates the same function composed from primitive ops, so
//! every order of derivative stays exact. The kernels are in `backend/cpu/kernels/nn/`.

pub mod attention;
pub mod cross_entropy;
pub mod gelu;
pub mod layer_norm;
pub mod linear;
pub mod softmax;

use crate::{Result, Storage, Tensor};

/// A fused kernel and its sizes: what a backend runs (see `BackendStorage::nn_kernel`).
#[derive(Clone, Copy, Debug)]
pub(crate) enum NnKernel {
    /// In `x [rows, n]`; out `y`.
    Softmax { rows: usize, n: usize, log: bool },
    /// In the forward's `y` and its gradient `g`; out `dx`.
    SoftmaxBackward { rows: usize, n: usize, log: bool },
    /// In `x [rows, n]`, `weight [n]`, `bias [n]`; out `y`, `mean [rows]`, `rstd [rows]`.
    LayerNorm { rows: usize, n: usize, eps: f64 },
    /// In `g`, `x`, `weight`, `mean`, `rstd`; out `dx`, `dweight`, `dbias`.
    LayerNormBackward { rows: usize, n: usize },
    /// In `x`; out `x Φ(x)`.
    Gelu,
    /// In `x`, `g`; out `dx`.
    GeluBackward,
    /// In `logits [rows, n]`, `targets [rows]`; out the loss `[1]` (the sum times `scale`) and
    /// `lse [rows]`.
    CrossEntropy { rows: usize, n: usize, scale: f64 },
    /// In `logits`, `targets`, `lse`, `g [1]`; out `dlogits`.
    CrossEntropyBackward { rows: usize, n: usize, scale: f64 },
    /// In `qkv [batch, seq, 3E]`; out `[batch, seq, E]` and `lse [batch, heads, seq]`.
    Attention(AttentionDims),
    /// In `qkv`, `out`, `lse`, `g`; out `dqkv`.
    AttentionBackward(AttentionDims),
    /// In `x [rows, in]`, `weight [out, in]` and, with a bias, `bias [out]`; out `x W^T + b`.
    Linear(LinearDims),
    /// In `g [rows, out]`, `x`, `weight`; out `dx`, `dweight`, `dbias`, each empty unless `want`
    /// asks for it.
    LinearBackward { dims: LinearDims, want: [bool; 3] },
}

impl NnKernel {
    /// Whether output `output` is a statistic kept for the backward (layer norm's mean and
    /// inverse deviation, a log-sum-exp), which stays f32 when the inputs are 16-bit, as in
    /// PyTorch; the other outputs take the inputs' dtype.
    pub(crate) fn keeps_f32(&self, output: usize) -> bool {
        match self {
            NnKernel::LayerNorm { .. } => output > 0,
            NnKernel::CrossEntropy { .. } | NnKernel::Attention(_) => output == 1,
            _ => false,
        }
    }
}

/// The sizes of a linear layer's product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LinearDims {
    /// Rows of `x`: the product of its leading axes.
    pub(crate) rows: usize,
    /// Input features.
    pub(crate) inp: usize,
    /// Output features.
    pub(crate) out: usize,
    /// Whether a bias is added.
    pub(crate) bias: bool,
}

/// The sizes of a multi-head attention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AttentionDims {
    pub(crate) batch: usize,
    pub(crate) seq: usize,
    pub(crate) heads: usize,
    /// `D = E / heads`.
    pub(crate) head_dim: usize,
    /// Position `i` attends to `j <= i` only.
    pub(crate) causal: bool,
}

impl AttentionDims {
    /// `batch * seq`.
    pub(crate) fn tokens(&self) -> usize {
        self.batch * self.seq
    }

    /// `1 / sqrt(D)`.
    pub(crate) fn scale(&self) -> f64 {
        1.0 / (self.head_dim as f64).sqrt()
    }
}

/// Runs `kernel` on the tensors `inputs` (one dtype and device).
pub(crate) fn run(kernel: NnKernel, inputs: &[&Tensor]) -> Result<Vec<Storage>> {
    let s = Tensor::read_storages(inputs);
    let args: Vec<_> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| (s.get(i), t.layout()))
        .collect();
    Storage::nn_kernel(&kernel, &args)
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::Tensor;

    /// Same shape, and every element within `tol (1 + |want|)`.
    pub(crate) fn assert_close(got: &Tensor, want: &Tensor, tol: f64) {
        assert_eq!(got.shape(), want.shape());
        for (i, (x, y)) in got.to_vec_f64().iter().zip(want.to_vec_f64()).enumerate() {
            assert!((x - y).abs() <= tol * (1.0 + y.abs()), "[{i}] {x} vs {y}");
        }
    }
}
