//! `gradus.gradcheck`: a Python function of tensors checked against central differences in
//! float64, with torch.autograd.gradcheck's defaults.

use crate::errors::value_error;
use crate::tensor::{tensor_from, PyTensor};
use gradus_tensor::{DType, GradcheckOptions, Tensor, TensorError};
use pyo3::prelude::*;

/// Checks the gradients of `f(*inputs)` (a function of tensors returning a tensor) at `inputs`
/// (arrays or tensors, taken as float64) against central finite differences: eps 1e-6, atol
/// 1e-5, rtol 1e-3 unless given. Returns True.
///
/// # Errors
/// `ValueError` naming the input, the element and both values at the first mismatch; an
/// exception `f` raises goes through with its message.
#[pyfunction]
#[pyo3(signature = (f, inputs, eps = 1e-6, atol = 1e-5, rtol = 1e-3))]
pub fn gradcheck(
    py: Python<'_>,
    f: &Bound<'_, PyAny>,
    inputs: Vec<Bound<'_, PyAny>>,
    eps: f64,
    atol: f64,
    rtol: f64,
) -> PyResult<bool> {
    let xs: Vec<Tensor> = inputs
        .iter()
        .map(|x| tensor_from(x, Some(DType::F64)))
        .collect::<PyResult<_>>()?;
    let raised: std::cell::RefCell<Option<PyErr>> = Default::default();
    let call = |ts: &[Tensor]| -> gradus_tensor::Result<Tensor> {
        let args: Vec<PyTensor> = ts.iter().map(|t| PyTensor { t: t.clone() }).collect();
        let out = f
            .call1(pyo3::types::PyTuple::new(py, args).map_err(|e| keep(&raised, e))?)
            .and_then(|o| o.extract::<PyTensor>().map_err(PyErr::from))
            .map_err(|e| keep(&raised, e))?;
        Ok(out.t)
    };
    let opts = GradcheckOptions { eps, atol, rtol };
    match gradus_tensor::gradcheck(call, &xs, opts) {
        Ok(()) => Ok(true),
        Err(e) => Err(raised.take().unwrap_or_else(|| value_error(e))),
    }
}

/// Keeps the Python exception `e` to re-raise it, and tells gradcheck to stop.
fn keep(slot: &std::cell::RefCell<Option<PyErr>>, e: PyErr) -> TensorError {
    let detail = e.to_string();
    slot.borrow_mut().get_or_insert(e);
    TensorError::InvalidArgument {
        op: "gradcheck",
        detail,
    }
}
