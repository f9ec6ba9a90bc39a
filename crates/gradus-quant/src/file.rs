//! The quantized model file: safetensors with int8 weights (`{layer}.weight`, `I8`), f32
//! per-channel scales (`{layer}.weight_scale`) and biases, each convolution's input quantizer
//! (`{layer}.input_scale` `F32 [1]`, `{layer}.input_zero_point` `U8 [1]`), and metadata: the f32
//! model's spec under `gradus.spec` and, under [`QUANT_KEY`], the scheme and the layer program.

use crate::conv2d::{ConvGeometry, QConv2d};
use crate::error::{QuantError, Result};
use crate::linear::QLinear;
use crate::model::{Act, Op, QuantizedModel};
use crate::scheme::ActQuant;
use gradus_run::{ModelSpec, SPEC_KEY};
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Metadata key of the quantization scheme and layer program.
pub const QUANT_KEY: &str = "gradus.quant";

/// The scheme this crate writes (see [`crate::scheme`]).
pub const SCHEME: &str = "int8 weights symmetric per output channel [-127,127]; linear: dynamic \
per-row u8 activations in [0,127]; conv2d: static u8 activations in [0,127] from min/max calibration; \
i32 accumulation";

#[derive(Serialize, Deserialize)]
struct Header {
    scheme: String,
    input_shape: Vec<usize>,
    ops: Vec<OpDesc>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum OpDesc {
    Linear {
        name: String,
        in_features: usize,
        out_features: usize,
    },
    Conv2d {
        name: String,
        geometry: ConvGeometry,
    },
    Act {
        act: String,
    },
    MaxPool2,
    Flatten,
}

/// The bytes of a quantized model file for `model`, whose quantized layers are called `names`
/// (in order), made from the f32 model described by `spec`.
///
/// # Errors
/// [`QuantError::Shape`] when `names` does not name every quantized layer.
pub fn to_bytes(model: &QuantizedModel, names: &[String], spec: &ModelSpec) -> Result<Vec<u8>> {
    let mut names = names.iter();
    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let i8s = |v: &[i8]| v.iter().map(|&x| x as u8).collect::<Vec<u8>>();
    let mut ops = Vec::new();
    for op in &model.ops {
        let mut next = || {
            names
                .next()
                .cloned()
                .ok_or_else(|| QuantError::Shape("fewer layer names than quantized layers".into()))
        };
        ops.push(match op {
            Op::Linear(l) => {
                let name = next()?;
                let k = |p: &str| key(&name, p);
                tensors.push((
                    k("weight"),
                    Dtype::I8,
                    vec![l.out_features, l.in_features],
                    i8s(&l.weight),
                ));
                tensors.push((
                    k("weight_scale"),
                    Dtype::F32,
                    vec![l.out_features],
                    f32s(&l.weight_scale),
                ));
                tensors.push((k("bias"), Dtype::F32, vec![l.out_features], f32s(&l.bias)));
                OpDesc::Linear {
                    name,
                    in_features: l.in_features,
                    out_features: l.out_features,
                }
            }
            Op::Conv(c) => {
                let name = next()?;
                let k = |p: &str| key(&name, p);
                let g = c.geometry;
                let shape = vec![g.out_channels, g.in_channels, g.kernel.0, g.kernel.1];
                tensors.push((k("weight"), Dtype::I8, shape, i8s(&c.weight)));
                tensors.push((
                    k("weight_scale"),
                    Dtype::F32,
                    vec![g.out_channels],
                    f32s(&c.weight_scale),
                ));
                tensors.push((k("bias"), Dtype::F32, vec![g.out_channels], f32s(&c.bias)));
                tensors.push((
                    k("input_scale"),
                    Dtype::F32,
                    vec![1],
                    f32s(&[c.input.scale]),
                ));
                tensors.push((
                    k("input_zero_point"),
                    Dtype::U8,
                    vec![1],
                    vec![c.input.zero_point],
                ));
                OpDesc::Conv2d { name, geometry: g }
            }
            Op::Act(a) => OpDesc::Act {
                act: a.name().into(),
            },
            Op::MaxPool2 => OpDesc::MaxPool2,
            Op::Flatten => OpDesc::Flatten,
            Op::F32Linear(_) | Op::F32Conv(_) => {
                return Err(QuantError::Unsupported(
                    "an f32 layer in a quantized model file (the file holds int8 layers; save the f32 model with gradus's own checkpoint)".into(),
                ))
            }
        });
    }
    let header = Header {
        scheme: SCHEME.into(),
        input_shape: model.input_shape.clone(),
        ops,
    };
    let meta = HashMap::from([
        (
            SPEC_KEY.to_string(),
            serde_json::to_string(spec).map_err(|e| QuantError::Shape(e.to_string()))?,
        ),
        (
            QUANT_KEY.to_string(),
            serde_json::to_string(&header).map_err(|e| QuantError::Shape(e.to_string()))?,
        ),
    ]);
    let views = tensors
        .iter()
        .map(|(n, d, s, b)| {
            Ok((
                n.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b)
                    .map_err(|e| QuantError::tensor(n, e.to_string()))?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, &Some(meta)).map_err(|e| QuantError::Shape(e.to_string()))
}

fn key(layer: &str, p: &str) -> String {
    if layer.is_empty() {
        p.to_string()
    } else {
        format!("{layer}.{p}")
    }
}

/// Whether the safetensors metadata `meta` marks a quantized model file.
pub fn is_quantized(meta: &std::collections::BTreeMap<String, String>) -> bool {
    meta.contains_key(QUANT_KEY)
}

/// Reads a quantized model file: the model and the spec of the f32 model it was made from.
///
/// # Errors
/// [`QuantError::File`] naming `path` when it cannot be read, is not safetensors or has no or bad
/// quantization metadata, and naming the tensor that is missing or has the wrong dtype or shape.
pub fn load(path: &Path) -> Result<(QuantizedModel, ModelSpec)> {
    let at = |msg: String| QuantError::File {
        path: path.display().to_string(),
        msg,
    };
    let bytes = std::fs::read(path).map_err(|e| at(e.to_string()))?;
    from_bytes(&bytes).map_err(|e| match e {
        QuantError::File { msg, .. } => at(msg),
        other => at(other.to_string()),
    })
}

/// [`load`] from bytes (errors carry an empty path).
///
/// # Errors
/// As [`load`].
pub fn from_bytes(bytes: &[u8]) -> Result<(QuantizedModel, ModelSpec)> {
    let bad = |msg: String| QuantError::File {
        path: String::new(),
        msg,
    };
    let (_, meta) = SafeTensors::read_metadata(bytes)
        .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    let file =
        SafeTensors::deserialize(bytes).map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    let meta = meta.metadata().clone().unwrap_or_default();
    let header: Header = meta
        .get(QUANT_KEY)
        .ok_or_else(|| bad(format!("not a quantized gradus model (no `{QUANT_KEY}` metadata); `gradus quantize` makes one")))
        .and_then(|s| serde_json::from_str(s).map_err(|e| bad(format!("bad `{QUANT_KEY}` metadata: {e}"))))?;
    let spec: ModelSpec = meta
        .get(SPEC_KEY)
        .ok_or_else(|| bad(format!("no `{SPEC_KEY}` metadata")))
        .and_then(|s| {
            serde_json::from_str(s).map_err(|e| bad(format!("bad `{SPEC_KEY}` metadata: {e}")))
        })?;
    let read = |name: String, dtype: Dtype, shape: &[usize]| -> Result<Vec<u8>> {
        let t = file
            .tensor(&name)
            .map_err(|_| QuantError::tensor(&name, "missing from the file"))?;
        if t.dtype() != dtype || t.shape() != shape {
            return Err(QuantError::tensor(
                &name,
                format!(
                    "is {:?} {:?}, expected {dtype:?} {shape:?}",
                    t.dtype(),
                    t.shape()
                ),
            ));
        }
        Ok(t.data().to_vec())
    };
    let f32s = |b: Vec<u8>| {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect::<Vec<f32>>()
    };
    let i8s = |b: Vec<u8>| b.into_iter().map(|x| x as i8).collect::<Vec<i8>>();
    let mut ops = Vec::new();
    for d in header.ops {
        ops.push(match d {
            OpDesc::Linear { name, in_features: k, out_features: n } => {
                let w = i8s(read(key(&name, "weight"), Dtype::I8, &[n, k])?);
                let s = f32s(read(key(&name, "weight_scale"), Dtype::F32, &[n])?);
                let b = f32s(read(key(&name, "bias"), Dtype::F32, &[n])?);
                Op::Linear(QLinear::from_parts(w, s, b, n, k)?)
            }
            OpDesc::Conv2d { name, geometry: g } => {
                let o = g.out_channels;
                let w = i8s(read(key(&name, "weight"), Dtype::I8, &[o, g.in_channels, g.kernel.0, g.kernel.1])?);
                let s = f32s(read(key(&name, "weight_scale"), Dtype::F32, &[o])?);
                let b = f32s(read(key(&name, "bias"), Dtype::F32, &[o])?);
                let scale = f32s(read(key(&name, "input_scale"), Dtype::F32, &[1])?)[0];
                let zero_point = read(key(&name, "input_zero_point"), Dtype::U8, &[1])?[0];
                if !(scale > 0.0 && scale.is_finite()) || zero_point > crate::scheme::ACTIVATION_MAX {
                    return Err(QuantError::tensor(&key(&name, "input_scale"), format!("scale {scale}, zero point {zero_point}: want a positive scale and a zero point in 0..=127")));
                }
                Op::Conv(QConv2d::from_parts(w, s, b, ActQuant { scale, zero_point }, g)?)
            }
            OpDesc::Act { act } => Op::Act(Act::named(Some(&act))?),
            OpDesc::MaxPool2 => Op::MaxPool2,
            OpDesc::Flatten => Op::Flatten,
        });
    }
    Ok((QuantizedModel::new(ops, header.input_shape), spec))
}

/// Reads any gradus model file: a quantized one (marked by [`QUANT_KEY`]) as a
/// [`QuantizedModel`], any other through [`gradus_run::load_model`]. `gradus eval` and
/// `gradus predict` load through here.
///
/// # Errors
/// As [`load`] or [`gradus_run::load_model`], naming the file.
pub fn load_any(path: &Path) -> Result<(Box<dyn gradus_nn::Module>, ModelSpec)> {
    let at = |msg: String| QuantError::File {
        path: path.display().to_string(),
        msg,
    };
    let reader = gradus_nn::safetensors_reader::SafetensorsReader::open(path)
        .map_err(|e| at(e.to_string()))?;
    if is_quantized(&reader.metadata()) {
        let (m, spec) = load(path)?;
        return Ok((Box::new(m), spec));
    }
    // load_model's messages already name the file
    gradus_run::load_model(path).map_err(|e| QuantError::Shape(e.to_string()))
}
