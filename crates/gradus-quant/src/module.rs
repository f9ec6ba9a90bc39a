//! A [`QuantizedModel`] as a [`Module`], so `gradus eval` and `gradus predict` (and any code that
//! takes a model) run it like the f32 one. It has no parameters: it cannot be trained.

use crate::model::QuantizedModel;
use gradus_nn::Module;
use gradus_tensor::{DType, Result, Tensor, TensorError};

impl Module for QuantizedModel {
    /// `x` `[n, input shape...]` → `[n, outputs]` in `x`'s dtype (computed in int8 and f32), with
    /// no tape.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let rows = x.shape().first().copied().unwrap_or(0);
        let values = x.to_dtype(DType::F32)?.to_vec::<f32>()?;
        let mut out = Vec::new();
        self.predict_into(&values, rows, &mut out)
            .map_err(|e| TensorError::InvalidArgument {
                op: "quantized forward",
                detail: e.to_string(),
            })?;
        let per = out.len() / rows.max(1);
        Tensor::from_vec(out, &[rows, per])?.to_dtype(x.dtype())
    }
}
