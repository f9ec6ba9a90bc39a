//! A trained model as an ONNX graph, per model kind: linear, logistic and softmax regression
//! (`Gemm`), the MLP (`Gemm` and activations) and LeNet (`Conv`, `Relu`, `MaxPool`, `Flatten`,
//! `Gemm`), the LSTM classifier (`Transpose`, `LSTM` per layer, `Squeeze`, `Gemm`). The graph computes what gradus's `forward` does: the logits, before any softmax or
//! sigmoid the loss applies.

use super::graph::{elem_type, float, int, ints, GraphBuilder};
use super::proto::{ModelProto, INT64};
use crate::error::{Result, RunError};
use crate::setup::{dtype_of, ModelSpec};
use gradus_nn::Module;
use gradus_tensor::Tensor;
use std::collections::BTreeMap;

/// The model's parameters by name.
pub(super) struct Weights(pub(super) BTreeMap<String, Tensor>);

impl Weights {
    pub(super) fn get(&self, name: &str) -> Result<&Tensor> {
        self.0.get(name).ok_or_else(|| {
            RunError::Setup(format!(
                "ONNX export: the model has no parameter `{name}` (it has {:?})",
                self.0.keys().collect::<Vec<_>>()
            ))
        })
    }
}

/// `y = x W^T + b`: a `Gemm` with `transB = 1` on the layer `prefix` (`prefix.weight`,
/// `prefix.bias`).
fn linear(g: &mut GraphBuilder, w: &Weights, prefix: &str, x: &str) -> Result<String> {
    let weight = g.weight(
        &format!("{prefix}weight"),
        w.get(&format!("{prefix}weight"))?,
    );
    let bias = g.weight(&format!("{prefix}bias"), w.get(&format!("{prefix}bias"))?);
    Ok(g.node("Gemm", &[x, &weight, &bias], vec![int("transB", 1)]))
}

/// The activation `name` (`model.activation`, relu when absent) of `x`.
pub(super) fn activation(g: &mut GraphBuilder, name: Option<&str>, x: &str) -> Result<String> {
    Ok(match name.unwrap_or("relu") {
        "relu" => g.node("Relu", &[x], vec![]),
        "tanh" => g.node("Tanh", &[x], vec![]),
        "sigmoid" => g.node("Sigmoid", &[x], vec![]),
        "leaky_relu" => g.node("LeakyRelu", &[x], vec![float("alpha", 0.01)]),
        "elu" => g.node("Elu", &[x], vec![float("alpha", 1.0)]),
        "silu" => {
            let s = g.node("Sigmoid", &[x], vec![]);
            g.node("Mul", &[x, &s], vec![])
        }
        "gelu" => {
            // exact GELU, x Phi(x) = x (1 + erf(x / sqrt 2)) / 2 (opset 17 has no Gelu)
            let (r, one, half) = (
                g.scalar("gelu_inv_sqrt2", std::f64::consts::FRAC_1_SQRT_2),
                g.scalar("gelu_one", 1.0),
                g.scalar("gelu_half", 0.5),
            );
            let scaled = g.node("Mul", &[x, &r], vec![]);
            let erf = g.node("Erf", &[&scaled], vec![]);
            let plus = g.node("Add", &[&erf, &one], vec![]);
            let xs = g.node("Mul", &[x, &plus], vec![]);
            g.node("Mul", &[&xs, &half], vec![])
        }
        other => {
            return Err(RunError::Setup(format!(
                "ONNX export: activation `{other}` is not supported"
            )))
        }
    })
}

/// The MLP's `Linear` layers, by their index in the `Sequential` (`0.`, `2.`, ...), in order.
fn mlp_layers(w: &Weights) -> Vec<String> {
    let mut idx: Vec<usize> =
        w.0.keys()
            .filter_map(|k| k.strip_suffix(".weight")?.parse().ok())
            .collect();
    idx.sort_unstable();
    idx.into_iter().map(|i| format!("{i}.")).collect()
}

/// `Conv` of the layer `prefix` with LeNet's settings (5x5, stride 1, `pad` on each side).
fn conv(g: &mut GraphBuilder, w: &Weights, prefix: &str, x: &str, pad: i64) -> Result<String> {
    let wt = w.get(&format!("{prefix}.weight"))?;
    let shape: Vec<i64> = wt.shape().iter().map(|&d| d as i64).collect();
    let weight = g.weight(&format!("{prefix}.weight"), wt);
    let bias = g.weight(&format!("{prefix}.bias"), w.get(&format!("{prefix}.bias"))?);
    Ok(g.node(
        "Conv",
        &[x, &weight, &bias],
        vec![
            ints("kernel_shape", &shape[2..]),
            ints("pads", &[pad, pad, pad, pad]),
            ints("strides", &[1, 1]),
        ],
    ))
}

/// PyTorch's LSTM gate blocks (i, f, g, o) in ONNX's order (i, o, f, c): rows
/// `[gates * hidden, ...]` of `t` rearranged.
fn lstm_gates_onnx(t: &Tensor, hidden: usize) -> Vec<f64> {
    // the host boundary of export: the weights are rearranged to be written into the file
    let v = t.to_vec_f64();
    let block = v.len() / 4;
    debug_assert_eq!(block % hidden, 0);
    [0, 3, 1, 2]
        .iter()
        .flat_map(|&b| v[b * block..(b + 1) * block].iter().copied())
        .collect()
}

/// The LSTM classifier: the batch-first input transposed to ONNX's `[seq, batch, features]`,
/// one ONNX `LSTM` per layer (weights in ONNX's gate order, the two biases side by side), the
/// last layer's final hidden state through the `fc` head.
fn lstm(g: &mut GraphBuilder, w: &Weights) -> Result<()> {
    let layers = (0..)
        .take_while(|l| w.0.contains_key(&format!("lstm.weight_ih_l{l}")))
        .count();
    let mut x = g.node("Transpose", &["input"], vec![ints("perm", &[1, 0, 2])]);
    let mut last_h = String::new();
    for l in 0..layers {
        let get = |k: &str| w.get(&format!("lstm.{k}_l{l}"));
        let (w_ih, w_hh) = (get("weight_ih")?, get("weight_hh")?);
        let hidden = w_hh.shape()[1];
        let input = w_ih.shape()[1];
        let wi = g.values(
            &format!("lstm.W_l{l}"),
            &[1, 4 * hidden, input],
            &lstm_gates_onnx(w_ih, hidden),
        );
        let r = g.values(
            &format!("lstm.R_l{l}"),
            &[1, 4 * hidden, hidden],
            &lstm_gates_onnx(w_hh, hidden),
        );
        let mut b = lstm_gates_onnx(get("bias_ih")?, hidden);
        b.extend(lstm_gates_onnx(get("bias_hh")?, hidden));
        let b = g.values(&format!("lstm.B_l{l}"), &[1, 8 * hidden], &b);
        let out = g.node_n(
            "LSTM",
            &[&x, &wi, &r, &b],
            vec![int("hidden_size", hidden as i64)],
            2,
        );
        if l + 1 < layers {
            // Y [seq, 1, batch, hidden] -> [seq, batch, hidden], the next layer's input
            let axis = g.int64s(&format!("lstm.squeeze_l{l}"), &[1]);
            x = g.node("Squeeze", &[&out[0], &axis], vec![]);
        }
        last_h = out[1].clone();
    }
    if layers == 0 {
        return Err(RunError::Setup(
            "ONNX export: the LSTM classifier has no `lstm.weight_ih_l0`".into(),
        ));
    }
    // Y_h [1, batch, hidden] -> [batch, hidden]
    let axis = g.int64s("lstm.squeeze_h", &[0]);
    let h = g.node("Squeeze", &[&last_h, &axis], vec![]);
    linear(g, w, "fc.", &h)?;
    Ok(())
}

/// The ONNX model (opset 17, input `input` of shape `[batch, input shape]`, output `output`
/// of shape `[batch, outputs]`, the weights as initializers) of `model`, built as `spec` says.
///
/// # Errors
/// [`RunError::Setup`] for a model kind that cannot be exported yet (lstm, gpt, mf), an
/// activation or dtype ONNX export does not cover, or parameters that do not match the kind.
pub fn to_onnx(model: &dyn Module, spec: &ModelSpec) -> Result<ModelProto> {
    let ty = elem_type(dtype_of(&spec.dtype)?)?;
    let w = Weights(
        model
            .named_parameters()
            .into_iter()
            .map(|(n, p)| (n, p.tensor()))
            .collect(),
    );
    let mut g = GraphBuilder::new(ty);
    let input_dims = spec.model_input_shape();
    match spec.model.kind.as_str() {
        "linear" | "logistic" | "softmax" => {
            linear(&mut g, &w, "", "input")?;
        }
        "mlp" => {
            let layers = mlp_layers(&w);
            let mut h = "input".to_string();
            for (i, prefix) in layers.iter().enumerate() {
                if i > 0 {
                    h = activation(&mut g, spec.model.activation.as_deref(), &h)?;
                }
                h = linear(&mut g, &w, prefix, &h)?;
            }
        }
        "cnn" => {
            let pool = |g: &mut GraphBuilder, x: &str| {
                g.node(
                    "MaxPool",
                    &[x],
                    vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])],
                )
            };
            let h = conv(&mut g, &w, "conv1", "input", 2)?;
            let h = g.node("Relu", &[&h], vec![]);
            let h = pool(&mut g, &h);
            let h = conv(&mut g, &w, "conv2", &h, 0)?;
            let h = g.node("Relu", &[&h], vec![]);
            let h = pool(&mut g, &h);
            let h = g.node("Flatten", &[&h], vec![int("axis", 1)]);
            let h = linear(&mut g, &w, "fc1.", &h)?;
            let h = g.node("Relu", &[&h], vec![]);
            let h = linear(&mut g, &w, "fc2.", &h)?;
            let h = g.node("Relu", &[&h], vec![]);
            linear(&mut g, &w, "fc3.", &h)?;
        }
        "lstm" => lstm(&mut g, &w)?,
        "gpt" => {
            let t = input_dims[0];
            let heads = spec.model.heads.unwrap_or(4);
            super::gpt::gpt(&mut g, &w, t, heads, spec.model.tie_weights)?;
            let vocab = spec.vocab.as_ref().map_or(spec.outputs, |v| v.len());
            return g.finish(INT64, &input_dims, &[t, vocab]);
        }
        other => {
            return Err(RunError::Setup(format!(
                "ONNX export: model.kind = \"{other}\" cannot be exported yet (linear, logistic, softmax, mlp, cnn, lstm, gpt can)"
            )))
        }
    }
    g.finish(ty, &input_dims, &[spec.outputs])
}
