//! From a trained f32 model to its quantized program, per model kind.

use crate::conv2d::{ConvGeometry, QConv2d};
use crate::error::{QuantError, Result};
use crate::f32_conv2d::F32Conv2d;
use crate::f32_linear::F32Linear;
use crate::linear::QLinear;
use crate::model::{Act, Op, QuantizedModel};
use gradus_nn::Module;
use gradus_run::ModelSpec;
use gradus_tensor::DType;
use std::collections::BTreeMap;

/// A quantized layer's place in the f32 model: its parameter prefix (`"0"`, `"conv1"`, `""`).
pub type LayerName = String;

/// The quantized program of `model` (built from `spec`) with every `Linear` and `Conv2d` in int8,
/// and the names of those layers in the f32 state dict, in order. Convolutions still need
/// [`QuantizedModel::calibrate`].
///
/// Supported kinds: `linear`, `logistic`, `softmax`, `mlp` (any activation but GELU) and `cnn`
/// (LeNet).
///
/// # Errors
/// [`QuantError::Unsupported`] for other kinds; [`QuantError::Tensor`] naming a parameter that is
/// missing or the wrong size.
pub fn quantize_model(
    model: &dyn Module,
    spec: &ModelSpec,
) -> Result<(QuantizedModel, Vec<LayerName>)> {
    program(model, spec, Precision::Int8)
}

/// What the weighted layers of a program compute in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// [`Op::Linear`] and [`Op::Conv`]: int8 weights.
    Int8,
    /// [`Op::F32Linear`] and [`Op::F32Conv`]: the f32 weights as trained (the
    /// [`Predictor`](crate::predictor::Predictor)'s).
    F32,
}

/// The program of `model` (built from `spec`) with its `Linear` and `Conv2d` layers in
/// `precision`, and the names of those layers in the f32 state dict, in order: the one list of
/// layers per model kind behind both [`quantize_model`] and the f32
/// [`Predictor`](crate::predictor::Predictor).
///
/// # Errors
/// As [`quantize_model`].
pub fn program(
    model: &dyn Module,
    spec: &ModelSpec,
    precision: Precision,
) -> Result<(QuantizedModel, Vec<LayerName>)> {
    let params: BTreeMap<String, Vec<f32>> = model
        .named_parameters()
        .into_iter()
        .map(|(n, p)| {
            let v = p
                .tensor()
                .to_dtype(DType::F32)
                .and_then(|t| t.to_vec::<f32>());
            v.map(|v| (n.clone(), v))
                .map_err(|e| QuantError::tensor(&n, e.to_string()))
        })
        .collect::<Result<_>>()?;
    let linear = |name: &str, inp: usize, out: usize| -> Result<Op> {
        let (w, b) = weight_bias(&params, name, out * inp)?;
        Ok(match precision {
            Precision::Int8 => Op::Linear(QLinear::quantize(w, b, out, inp)?),
            Precision::F32 => Op::F32Linear(F32Linear::new(
                w.to_vec(),
                b.map(<[f32]>::to_vec),
                out,
                inp,
            )?),
        })
    };
    let d: usize = spec.input_shape.iter().product();
    let (mut ops, mut names) = (Vec::new(), Vec::new());
    match spec.model.kind.as_str() {
        "linear" | "logistic" | "softmax" => {
            ops.push(linear("", d, spec.outputs)?);
            names.push(String::new());
        }
        "mlp" => {
            let act = Act::named(spec.model.activation.as_deref())?;
            let sizes: Vec<usize> = std::iter::once(d)
                .chain(spec.model.hidden.iter().copied())
                .chain(std::iter::once(spec.outputs))
                .collect();
            for (i, pair) in sizes.windows(2).enumerate() {
                if i > 0 {
                    ops.push(Op::Act(act));
                }
                let name = (2 * i).to_string(); // nn.Sequential numbering: activations between
                ops.push(linear(&name, pair[0], pair[1])?);
                names.push(name);
            }
        }
        "cnn" => {
            // LeNet (gradus-nn's models/lenet.rs): conv 1→6 5x5 pad 2, pool, conv 6→16 5x5, pool,
            // 400→120→84→classes, ReLU after every layer but the last
            let conv = |name: &str, g: ConvGeometry| -> Result<Op> {
                let (w, b) = weight_bias(&params, name, g.out_channels * g.patch())?;
                Ok(match precision {
                    Precision::Int8 => Op::Conv(QConv2d::quantize(w, b, g)?),
                    Precision::F32 => {
                        Op::F32Conv(F32Conv2d::new(w.to_vec(), b.map(<[f32]>::to_vec), g)?)
                    }
                })
            };
            let g = |i, o, p| ConvGeometry { in_channels: i, out_channels: o, kernel: (5, 5), stride: (1, 1), padding: (p, p) };
            ops.extend([conv("conv1", g(1, 6, 2))?, Op::Act(Act::ReLU), Op::MaxPool2]);
            ops.extend([conv("conv2", g(6, 16, 0))?, Op::Act(Act::ReLU), Op::MaxPool2, Op::Flatten]);
            ops.extend([linear("fc1", 400, 120)?, Op::Act(Act::ReLU), linear("fc2", 120, 84)?, Op::Act(Act::ReLU)]);
            ops.push(linear("fc3", 84, spec.outputs)?);
            names.extend(["conv1", "conv2", "fc1", "fc2", "fc3"].map(String::from));
        }
        other => {
            return Err(QuantError::Unsupported(format!(
                "model kind `{other}` (int8 quantization and the f32 Predictor cover linear, logistic, softmax, mlp and cnn)"
            )))
        }
    }
    Ok((QuantizedModel::new(ops, spec.model_input_shape()), names))
}

fn weight_bias<'a>(
    params: &'a BTreeMap<String, Vec<f32>>,
    layer: &str,
    size: usize,
) -> Result<(&'a [f32], Option<&'a [f32]>)> {
    let key = |p: &str| {
        if layer.is_empty() {
            p.to_string()
        } else {
            format!("{layer}.{p}")
        }
    };
    let wname = key("weight");
    let w = params
        .get(&wname)
        .ok_or_else(|| QuantError::tensor(&wname, "missing from the model"))?;
    if w.len() != size {
        return Err(QuantError::tensor(
            &wname,
            format!("{} values, expected {size}", w.len()),
        ));
    }
    Ok((w, params.get(&key("bias")).map(Vec::as_slice)))
}
