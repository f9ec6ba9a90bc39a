//! A quantized model: a straight line of layers (int8, or f32 for the [`Predictor`]) and f32 glue
//! (activations, pooling, flatten), run on plain buffers with no autodiff tape; the buffers are
//! kept between calls.
//!
//! [`Predictor`]: crate::predictor::Predictor

use crate::conv2d::{self, QConv2d};
use crate::error::{QuantError, Result};
use crate::f32_conv2d::{self, F32Conv2d};
use crate::f32_linear::F32Linear;
use crate::linear::{self, QLinear};
use crate::observer::Observer;
use gradus_tensor::gemm_i8::Int8Path;
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
    /// A linear layer kept in f32 (the [`Predictor`](crate::predictor::Predictor)'s), on
    /// `[n, features]`.
    F32Linear(F32Linear),
    /// A convolution kept in f32, on `[n, c, h, w]`.
    F32Conv(F32Conv2d),
}

/// Reused buffers of a forward pass.
#[derive(Default, Debug)]
pub(crate) struct Buffers {
    a: Vec<f32>,
    b: Vec<f32>,
    linear: linear::Scratch,
    conv: conv2d::Scratch,
    f32_conv: f32_conv2d::Scratch,
    /// `a` and `b` swapped an odd number of times since the call began: swapped back at its end,
    /// so each buffer sees the same sizes on every call and never grows again.
    odd: bool,
}

/// A quantized model: its layers in order and the f32 model's spec (JSON) it was made from.
#[derive(Debug)]
pub struct QuantizedModel {
    /// The layers, in order.
    pub ops: Vec<Op>,
    /// Per-sample input shape (`[features]` or `[c, h, w]`).
    pub input_shape: Vec<usize>,
    /// The int8 products' path ([`Int8Path::best`] unless set: tests and benchmarks pick others;
    /// one this CPU lacks falls back to the portable loops).
    pub int8_path: Int8Path,
    pub(crate) buffers: Mutex<Buffers>,
}

impl QuantizedModel {
    /// A model from its layers.
    pub fn new(ops: Vec<Op>, input_shape: Vec<usize>) -> QuantizedModel {
        QuantizedModel {
            ops,
            input_shape,
            int8_path: Int8Path::best(),
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
        let mut shape = Dims::of(rows, &self.input_shape)?;
        bufs.odd = false;
        // the input, until an op reads it: a quantized Linear reads it in place, other ops get a
        // copy in `bufs.a`
        let mut input = Some(x);
        let mut ops = self.ops.iter().peekable();
        while let Some(op) = ops.next() {
            if let Op::Linear(l) = op {
                // the ReLU after a quantized Linear runs in the GEMM's epilogue
                let relu = matches!(ops.peek(), Some(Op::Act(Act::ReLU)));
                if relu {
                    ops.next();
                }
                let x = input.take().unwrap_or(bufs.a.as_slice());
                l.forward_with(
                    self.int8_path,
                    x,
                    shape.d[0],
                    relu,
                    &mut bufs.b,
                    &mut bufs.linear,
                )?;
                shape = Dims::two(shape.d[0], l.out_features);
                std::mem::swap(&mut bufs.a, &mut bufs.b);
                bufs.odd = !bufs.odd;
                continue;
            }
            if let Some(x) = input.take() {
                bufs.a.clear();
                bufs.a.extend_from_slice(x);
            }
            // the ReLU after a convolution runs in its epilogue too
            let relu = matches!(op, Op::Conv(_) | Op::F32Conv(_))
                && matches!(ops.peek(), Some(Op::Act(Act::ReLU)));
            if relu {
                ops.next();
            }
            shape = step(op, shape, relu, self.int8_path, bufs)?;
        }
        if let Some(x) = input.take() {
            bufs.a.clear();
            bufs.a.extend_from_slice(x);
        }
        out.clear();
        out.extend_from_slice(&bufs.a);
        if std::mem::take(&mut bufs.odd) {
            std::mem::swap(&mut bufs.a, &mut bufs.b);
        }
        Ok(())
    }

    /// [`Self::calibrate_with`] the min/max observer (PyTorch's default `MinMaxObserver`).
    ///
    /// # Errors
    /// [`QuantError::Shape`] when a batch does not hold its rows.
    pub fn calibrate(&mut self, batches: &[(Vec<f32>, usize)]) -> Result<()> {
        self.calibrate_with(batches, Observer::MinMax)
    }

    /// Sets every convolution's input quantizer from the range `observer` gives over its input
    /// on `batches` (`(samples, rows)`), layer by layer: each later layer is calibrated on the
    /// outputs of the already-quantized layers before it, as it will run.
    ///
    /// # Errors
    /// [`QuantError::Shape`] when a batch does not hold its rows; [`QuantError::Unsupported`]
    /// for a percentile outside `(0, 100]`.
    pub fn calibrate_with(
        &mut self,
        batches: &[(Vec<f32>, usize)],
        observer: Observer,
    ) -> Result<()> {
        observer.check()?;
        let mut acts: Vec<(Vec<f32>, Dims)> = batches
            .iter()
            .map(|(x, rows)| Ok((x.clone(), Dims::of(*rows, &self.input_shape)?)))
            .collect::<Result<_>>()?;
        let (mut bufs, path) = (Buffers::default(), self.int8_path);
        for op in &mut self.ops {
            if let Op::Conv(c) = op {
                let inputs: Vec<&[f32]> = acts.iter().map(|(x, _)| x.as_slice()).collect();
                c.input = observer.quantizer(&inputs);
            }
            for (x, shape) in &mut acts {
                std::mem::swap(&mut bufs.a, x);
                *shape = step(op, *shape, false, path, &mut bufs)?;
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
                Op::F32Linear(l) => 4 * (l.weight.len() + l.bias.len()),
                Op::F32Conv(c) => 4 * (c.weight.len() + c.bias.len()),
                Op::Act(_) | Op::MaxPool2 | Op::Flatten => 0,
            })
            .sum()
    }
}

/// A shape of rank at most 4 held without allocating (`[n, features]` or `[n, c, h, w]`).
#[derive(Clone, Copy, Debug)]
struct Dims {
    d: [usize; 4],
    rank: usize,
}

impl Dims {
    /// `[rows, sample...]`.
    fn of(rows: usize, sample: &[usize]) -> Result<Dims> {
        if sample.len() > 3 {
            return Err(QuantError::Shape(format!(
                "inputs of shape {sample:?} per sample: at most 3 axes are supported"
            )));
        }
        let mut d = [1; 4];
        d[0] = rows;
        d[1..=sample.len()].copy_from_slice(sample);
        Ok(Dims {
            d,
            rank: sample.len() + 1,
        })
    }

    fn two(n: usize, f: usize) -> Dims {
        Dims {
            d: [n, f, 1, 1],
            rank: 2,
        }
    }

    fn four(d: [usize; 4]) -> Dims {
        Dims { d, rank: 4 }
    }

    /// `[n, c, h, w]`, or an error naming `op`.
    fn nchw(self, op: &str) -> Result<[usize; 4]> {
        if self.rank != 4 {
            return Err(QuantError::Shape(format!(
                "{op} takes [n, c, h, w], got {:?}",
                &self.d[..self.rank]
            )));
        }
        Ok(self.d)
    }
}

/// Runs one op on `bufs.a` (shape `shape`), then ReLU if `relu` (a weighted layer's epilogue;
/// ignored by the other ops), int8 products on `path`, leaving the result in `bufs.a`; returns
/// its shape.
fn step(op: &Op, shape: Dims, relu: bool, path: Int8Path, bufs: &mut Buffers) -> Result<Dims> {
    let n = shape.d[0];
    let out = match op {
        Op::Linear(l) => {
            l.forward_with(path, &bufs.a, n, relu, &mut bufs.b, &mut bufs.linear)?;
            Dims::two(n, l.out_features)
        }
        Op::Conv(c) => {
            let [_, _, h, w] = shape.nchw("Conv2d")?;
            let (a, b, s) = (&bufs.a, &mut bufs.b, &mut bufs.conv);
            let (oh, ow) = c.forward_with(path, a, (n, h, w), relu, b, s)?;
            Dims::four([n, c.geometry.out_channels, oh, ow])
        }
        Op::F32Linear(l) => {
            l.forward(&bufs.a, n, &mut bufs.b)?;
            if relu {
                Act::ReLU.apply(&mut bufs.b);
            }
            Dims::two(n, l.out_features)
        }
        Op::F32Conv(c) => {
            let [_, _, h, w] = shape.nchw("Conv2d")?;
            let (a, b, s) = (&bufs.a, &mut bufs.b, &mut bufs.f32_conv);
            let (oh, ow) = c.forward_act(a, (n, h, w), relu, b, s)?;
            Dims::four([n, c.geometry.out_channels, oh, ow])
        }
        Op::Act(a) => {
            a.apply(&mut bufs.a);
            return Ok(shape);
        }
        Op::MaxPool2 => {
            let [_, c, h, w] = shape.nchw("MaxPool2d")?;
            max_pool2(&bufs.a, n * c, h, w, &mut bufs.b);
            Dims::four([n, c, h / 2, w / 2])
        }
        Op::Flatten => return Ok(Dims::two(n, shape.d[1..shape.rank].iter().product())),
    };
    std::mem::swap(&mut bufs.a, &mut bufs.b);
    bufs.odd = !bufs.odd;
    Ok(out)
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
