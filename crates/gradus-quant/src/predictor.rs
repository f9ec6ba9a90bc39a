//! The f32 [`Predictor`]: a trained model run without the autodiff tape.
//!
//! Design: the predictor is the same straight-line program as a [`QuantizedModel`] (one op list,
//! [`Op`](crate::model::Op), built per model kind by [`convert::program`]) with its weighted
//! layers in f32 ([`Op::F32Linear`](crate::model::Op::F32Linear),
//! [`Op::F32Conv`](crate::model::Op::F32Conv)): no graph, no tensors, buffers kept between calls,
//! products by gradus-tensor's f32 GEMM ([`gradus_tensor::gemm_f32`], the one `matmul` uses) and,
//! for stride-1 convolutions, its direct convolution ([`gradus_tensor::DirectConv2d`]).

use crate::convert::{self, Precision};
use crate::error::{QuantError, Result};
use crate::model::QuantizedModel;
use gradus_nn::Module;
use gradus_run::ModelSpec;
use gradus_tensor::{DType, Tensor, TensorError};

/// A trained `linear`/`logistic`/`softmax`/`mlp`/`cnn` model for inference in f32: inputs
/// `[rows, sample...]` (row-major, each sample of [`Predictor::input_shape`]) → outputs
/// `[rows, outputs]` (logits, as the model's `forward`), equal to `no_grad(|| model.forward(x))`
/// up to f32 rounding (tested to 1e-5 relative). No autodiff tape, no graph; after the first call
/// at a batch size, no allocation by gradus (its buffers are reused; calls from several threads
/// take turns on them).
///
/// ```
/// use gradus_nn::Module;
/// use gradus_quant::predictor::Predictor;
/// use gradus_run::ModelSpec;
/// use gradus_tensor::{autodiff::no_grad, Rng, Tensor};
/// let spec: ModelSpec = serde_json::from_str(r#"{"data":{"format":"csv","path":"x"},
///     "model":{"kind":"mlp","hidden":[8]},"task":"classification","outputs":3,
///     "input_shape":[4],"dtype":"f32","features":[],"target":null,"vocab":null,
///     "scaler":null,"users_items":null}"#).unwrap();
/// let model = spec.build(&mut Rng::seed(0)).unwrap();
/// let p = Predictor::new(model.as_ref(), &spec).unwrap();
/// let x = [0.1, 0.2, 0.3, 0.4, -1.0, 0.0, 1.0, 2.0]; // 2 samples of 4 features
/// let mut y = Vec::new();
/// p.predict_into(&x, 2, &mut y).unwrap(); // [2, 3]
/// let want = no_grad(|| model.forward(&Tensor::from_vec(x.to_vec(), &[2, 4])?))
///     .unwrap()
///     .to_vec::<f32>()
///     .unwrap();
/// assert!(y.iter().zip(&want).all(|(a, b)| (a - b).abs() <= 1e-5 * b.abs().max(1.0)));
/// ```
#[derive(Debug)]
pub struct Predictor {
    program: QuantizedModel,
}

impl Predictor {
    /// The predictor of `model`, built from `spec` (its weights are copied).
    ///
    /// # Errors
    /// [`QuantError::Unsupported`] for other model kinds (LSTM, GPT, ...: run their `forward`
    /// under `no_grad`); [`QuantError::Tensor`] naming a parameter that is missing or the wrong
    /// size.
    pub fn new(model: &dyn Module, spec: &ModelSpec) -> Result<Predictor> {
        let (program, _) = convert::program(model, spec, Precision::F32)?;
        Ok(Predictor { program })
    }

    /// Per-sample input shape (`[features]` or `[c, h, w]`).
    pub fn input_shape(&self) -> &[usize] {
        &self.program.input_shape
    }

    /// The program run, layer by layer.
    pub fn program(&self) -> &QuantizedModel {
        &self.program
    }

    /// Forward pass of `rows` samples `x` into `out` (resized to `[rows, outputs]`).
    ///
    /// # Errors
    /// [`QuantError::Shape`] when `x` does not hold `rows` samples of [`Self::input_shape`].
    pub fn predict_into(&self, x: &[f32], rows: usize, out: &mut Vec<f32>) -> Result<()> {
        self.program.predict_into(x, rows, out)
    }

    /// [`Self::predict_into`] a new vector.
    ///
    /// # Errors
    /// As [`Self::predict_into`].
    pub fn predict(&self, x: &[f32], rows: usize) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        self.predict_into(x, rows, &mut out)?;
        Ok(out)
    }
}

impl Module for Predictor {
    /// `x` `[n, input shape...]` → `[n, outputs]` in `x`'s dtype (computed in f32), with no tape.
    fn forward(&self, x: &Tensor) -> gradus_tensor::Result<Tensor> {
        let rows = x.shape().first().copied().unwrap_or(0);
        let values = x.to_dtype(DType::F32)?.to_vec::<f32>()?;
        let out =
            self.predict(&values, rows)
                .map_err(|e: QuantError| TensorError::InvalidArgument {
                    op: "Predictor forward",
                    detail: e.to_string(),
                })?;
        let per = out.len() / rows.max(1);
        Tensor::from_vec(out, &[rows, per])?.to_dtype(x.dtype())
    }
}
