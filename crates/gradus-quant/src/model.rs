//! A quantized model: a straight line of quantized layers and f32 glue (activations, pooling,
//! flatten), run on plain buffers with no autodiff tape; the buffers are kept between calls.

use crate::conv2d::{self, QConv2d};
use crate::error::{QuantError, Result};
use crate::linear::{self, QLinear};
use crate::observer::MinMaxObserver;
use std::sync::Mutex;

/// An elementwise activation, applied in f32 (the names of `[model] activation`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    /// `max(x, 0)`.
    ReLU,
    /// `tanh x`.
    Tanh,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `x · sigmoid(x)`.
    SiLU,
    /// `x` or `0.01 x` below 0.
    LeakyReLU,
    /// `x` or `e^x - 1` below 0.
    ELU,
}

impl Act {
    /// The activation named `name` (`relu` when `None`).
    ///
    /// # Errors
    /// [`QuantError::Unsupported`] for other names (GELU needs erf: not done here).
    pub fn named(name: Option<&str>) -> Result<Act> {
        Ok(match name.unwrap_or("relu") {
            "relu" => Act::ReLU,
            "tanh" => Act::Tanh,
            "sigmoid" => Act::Sigmoid,
            "silu" => Act::SiLU,
            "leaky_relu" => Act::LeakyReLU,
            "elu" => Act::ELU,
            other => return Err(QuantError::Unsupported(format!("activation `{other}`"))),
        })
    }

    /// The config name (`relu`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Act::ReLU => "relu",
            Act::Tanh => "tanh",
            Act::Sigmoid => "sigmoid",
            Act::SiLU => "silu",
            Act::LeakyReLU => "leaky_relu",
            Act::ELU => "elu",
        }
    }

    fn apply(self, x: &mut [f32]) {
        let sig = |v: f32| 1.0 / (1.0 + (-v).exp());
        match self {
            Act::ReLU => x.iter_mut().for_each(|v| *v = v.max(0.0)),
            Act::Tanh => x.iter_mut().for_each(|v| *v = v.tanh()),
            Act::Sigmoid => x.iter_mut().for_each(|v| *v = sig(*v)),
            Act::SiLU => x.iter_mut().for_each(|v| *v *= sig(*v)),
            Act::LeakyReLU => x
                .iter_mut()
                .for_each(|v| *v = if *v < 0.0 { 0.01 * *v } else { *v }),
            Act::ELU => x
                .iter_mut()
                .for_each(|v| *v = if *v < 0.0 { v.exp_m1() } else { *v }),
        }
    }
}

/// One step of a [`QuantizedModel`].
#[derive(Clone, Debug)]
pub enum Op {
    /// A dynamically quantized linear layer, on `[n, features]`.
    Linear(QLinear),
    /// A statically quantized convolution, on `[n, c, h, w]`.
    Conv(QConv2d),
    /// An activation, in f32.
    Act(Act),
    /// 2x2 max pooling with stride 2, in f32.
    MaxPool2,
    /// `[n, c, h, w]` → `[n, c · h · w]`.
    Flatten,
}

/// Reused buffers of a forward pass.
#[derive(Default, Debug)]
pub(crate) struct Buffers {
    a: Vec<f32>,
    b: Vec<f32>,
    linear: linear::Scratch,
    conv: conv2d::Scratch,
}

/// A quantized model: its layers in order and the f32 model's spec (JSON) it was made from.
#[derive(Debug)]
pub struct QuantizedModel {
    /// The layers, in order.
    pub ops: Vec<Op>,
    /// Per-sample input shape (`[features]` or `[c, h, w]`).
    pub input_shape: Vec<usize>,
    pub(crate) buffers: Mutex<Buffers>,
}

impl QuantizedModel {
    /// A model from its layers.
    pub fn new(ops: Vec<Op>, input_shape: Vec<usize>) -> QuantizedModel {
        QuantizedModel {
            ops,
            input_shape,
            buffers: Mutex::default(),
        }
    }

    /// Forward pass of `rows` samples (row-major, each of [`Self::input_shape`]) into `out`
    /// (resized): `[rows, outputs]`. No tape, no allocation once the buffers have grown.
    ///
    /// # Errors
    /// [`QuantError::Shape`] when `x` does not hold `rows` samples.
    pub fn predict_into(&self, x: &[f32], rows: usize, out: &mut Vec<f32>) -> Result<()> {
        let mut guard = self.buffers.lock().unwrap_or_else(|e| e.into_inner());
        let bufs = &mut *guard;
        let per: usize = self.input_shape.iter().product();
        if x.len() != rows * per {
            return Err(QuantError::Shape(format!(
                "quantized model: input of {} values is not {rows} samples of shape {:?}",
                x.len(),
                self.input_shape
            )));
        }
        bufs.a.clear();
        bufs.a.extend_from_slice(x);
        let mut shape: Vec<usize> = std::iter::once(rows)
            .chain(self.input_shape.iter().copied())
            .collect();
        for op in &self.ops {
            shape = step(op, &shape, bufs)?;
        }
        out.clear();
        out.extend_from_slice(&bufs.a);
        Ok(())
    }

    /// Sets every convolution's input quantizer from the range its input takes on `batches`
    /// (`(samples, rows)`), layer by layer: each later layer is calibrated on the outputs of the
    /// already-quantized layers before it, as it will run.
    ///
    /// # Errors
    /// [`QuantError::Shape`] when a batch does not hold its rows.
    pub fn calibrate(&mut self, batches: &[(Vec<f32>, usize)]) -> Result<()> {
        let mut acts: Vec<(Vec<f32>, Vec<usize>)> = batches
            .iter()
            .map(|(x, rows)| {
                let shape = std::iter::once(*rows)
                    .chain(self.input_shape.iter().copied())
                    .collect();
                (x.clone(), shape)
            })
            .collect();
        let mut bufs = Buffers::default();
        for op in &mut self.ops {
            if let Op::Conv(c) = op {
                let mut o = MinMaxObserver::default();
                acts.iter().for_each(|(x, _)| o.observe(x));
                c.input = o.quantizer();
            }
            for (x, shape) in &mut acts {
                std::mem::swap(&mut bufs.a, x);
                *shape = step(op, shape, &mut bufs)?;
                std::mem::swap(&mut bufs.a, x);
            }
        }
        Ok(())
    }

    /// Bytes of the weights as stored (int8 values, f32 scales and biases).
    pub fn weight_bytes(&self) -> usize {
        self.ops
            .iter()
            .map(|op| match op {
                Op::Linear(l) => l.weight.len() + 4 * (l.weight_scale.len() + l.bias.len()),
                Op::Conv(c) => c.weight.len() + 4 * (c.weight_scale.len() + c.bias.len() + 2),
                _ => 0,
            })
            .sum()
    }
}

/// Runs one op on `bufs.a` (shape `shape`), leaving the result in `bufs.a`; returns its shape.
fn step(op: &Op, shape: &[usize], bufs: &mut Buffers) -> Result<Vec<usize>> {
    let n = shape[0];
    let out = match op {
        Op::Linear(l) => {
            l.forward(&bufs.a, n, &mut bufs.b, &mut bufs.linear)?;
            vec![n, l.out_features]
        }
        Op::Conv(c) => {
            let [_, _, h, w] = four(shape, "Conv2d")?;
            let (oh, ow) = c.forward(&bufs.a, (n, h, w), &mut bufs.b, &mut bufs.conv)?;
            vec![n, c.geometry.out_channels, oh, ow]
        }
        Op::Act(a) => {
            a.apply(&mut bufs.a);
            return Ok(shape.to_vec());
        }
        Op::MaxPool2 => {
            let [_, c, h, w] = four(shape, "MaxPool2d")?;
            max_pool2(&bufs.a, n * c, h, w, &mut bufs.b);
            vec![n, c, h / 2, w / 2]
        }
        Op::Flatten => return Ok(vec![n, shape[1..].iter().product()]),
    };
    std::mem::swap(&mut bufs.a, &mut bufs.b);
    Ok(out)
}

fn four(shape: &[usize], op: &str) -> Result<[usize; 4]> {
    <[usize; 4]>::try_from(shape)
        .map_err(|_| QuantError::Shape(format!("{op} takes [n, c, h, w], got {shape:?}")))
}

/// 2x2 windows, stride 2 (an odd last row or column is dropped, as PyTorch does).
fn max_pool2(x: &[f32], planes: usize, h: usize, w: usize, y: &mut Vec<f32>) {
    let (oh, ow) = (h / 2, w / 2);
    y.resize(planes * oh * ow, 0.0);
    for p in 0..planes {
        let (xp, yp) = (&x[p * h * w..], &mut y[p * oh * ow..]);
        for oy in 0..oh {
            for ox in 0..ow {
                let at = |dy: usize, dx: usize| xp[(2 * oy + dy) * w + 2 * ox + dx];
                yp[oy * ow + ox] = at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1));
            }
        }
    }
}
