//! A sample for checking an exported model: seeded inputs of the model's input shape and
//! gradus's outputs for them, as a safetensors file (`input`, `output`).

use crate::error::{Result, RunError};
use crate::setup::{dtype_of, ModelSpec};
use gradus_nn::Module;
use gradus_tensor::{autodiff::no_grad, DType, Rng, Tensor};
use safetensors::{tensor::TensorView, Dtype};

/// `rows` inputs drawn with `seed` (images: uniform in [0, 1), as pixels; text: token ids
/// uniform over the vocabulary; other inputs: standard normal, as standardized features) and the model's forward pass on them.
///
/// # Errors
/// When the model cannot run on its own input shape.
///
/// ```
/// use gradus_run::onnx::sample::sample;
/// let spec: gradus_run::ModelSpec = serde_json::from_str(r#"{"data":{"format":"csv","path":"x"},
///     "model":{"kind":"linear"},"task":"regression","outputs":1,"input_shape":[3],"dtype":"f32",
///     "features":[],"target":null,"vocab":null,"scaler":null,"users_items":null}"#).unwrap();
/// let model = spec.build(&mut gradus_tensor::Rng::seed(0)).unwrap();
/// let (x, y) = sample(model.as_ref(), &spec, 4, 0).unwrap();
/// assert_eq!((x.shape(), y.shape()), (&[4, 3][..], &[4, 1][..]));
/// ```
pub fn sample(
    model: &dyn Module,
    spec: &ModelSpec,
    rows: usize,
    seed: u64,
) -> Result<(Tensor, Tensor)> {
    let dtype = dtype_of(&spec.dtype)?;
    let mut shape = vec![rows];
    shape.extend(spec.model_input_shape());
    let mut rng = Rng::seed(seed);
    let x = if spec.model.kind == "cnn" {
        rng.uniform(&shape, 0.0, 1.0, dtype)
    } else if let (Some(vocab), "gpt") = (&spec.vocab, spec.model.kind.as_str()) {
        // token ids, as whole numbers in the model's dtype (the ONNX graph takes them as int64)
        let ids: Vec<f64> = (0..shape.iter().product::<usize>())
            .map(|_| (rng.uniform_f64() * vocab.len() as f64).floor())
            .collect();
        Tensor::from_vec(ids, &shape)
            .and_then(|t| t.to_dtype(dtype))
            .map_err(|e| e.to_string())?
    } else {
        rng.normal(&shape, 0.0, 1.0, dtype)
    };
    model.eval();
    let y = no_grad(|| model.forward(&x)).map_err(|e| e.to_string())?;
    Ok((x, y))
}

/// `input` and `output` as the bytes of a safetensors file (little-endian, in their dtypes).
///
/// # Errors
/// For a dtype other than f32 and f64.
pub fn to_safetensors(input: &Tensor, output: &Tensor) -> Result<Vec<u8>> {
    let encode = |t: &Tensor| -> Result<(Dtype, Vec<u8>)> {
        // the host boundary: the values are written to a file
        let v = t.to_vec_f64();
        match t.dtype() {
            DType::F32 => Ok((
                Dtype::F32,
                v.iter().flat_map(|x| (*x as f32).to_le_bytes()).collect(),
            )),
            DType::F64 => Ok((Dtype::F64, v.iter().flat_map(|x| x.to_le_bytes()).collect())),
            other => Err(RunError::Setup(format!(
                "sample: dtype {other:?} is not supported"
            ))),
        }
    };
    let (xi, xb) = encode(input)?;
    let (yi, yb) = encode(output)?;
    let err = |e: safetensors::SafeTensorError| RunError::Setup(format!("sample: {e}"));
    let views = vec![
        (
            "input",
            TensorView::new(xi, input.shape().to_vec(), &xb).map_err(err)?,
        ),
        (
            "output",
            TensorView::new(yi, output.shape().to_vec(), &yb).map_err(err)?,
        ),
    ];
    safetensors::serialize(views, &None).map_err(err)
}
