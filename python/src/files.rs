//! `gradus.save_safetensors` / `gradus.load_safetensors`: a dict of tensors to and from a
//! safetensors file (the format PyTorch's `safetensors.torch` reads and writes).

use crate::errors::value_error;
use crate::tensor::{tensor_from, PyTensor};
use gradus_tensor::{DType, Tensor};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use safetensors::tensor::{Dtype, SafeTensors, View};
use std::borrow::Cow;
use std::collections::HashMap;

/// One tensor's little-endian bytes, as safetensors writes them.
struct Bytes {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for &Bytes {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

fn bytes_of(t: &Tensor) -> PyResult<Bytes> {
    let (dtype, data) = match t.dtype() {
        DType::F32 => (
            Dtype::F32,
            t.to_vec::<f32>()
                .map_err(value_error)?
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
        ),
        _ => (
            Dtype::F64,
            t.to_vec_f64()
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
        ),
    };
    Ok(Bytes {
        dtype,
        shape: t.shape().to_vec(),
        data,
    })
}

/// Writes `tensors` (a dict of names to tensors or arrays; float64 stays float64, other
/// numbers are stored as float32 only when they were float32) to `path`, with string
/// `metadata` in the header.
///
/// # Errors
/// `ValueError` for a value that is not numeric; `OSError` naming the path when it cannot be
/// written.
#[pyfunction]
#[pyo3(signature = (tensors, path, metadata = None))]
pub fn save_safetensors(
    tensors: &Bound<'_, PyDict>,
    path: &str,
    metadata: Option<HashMap<String, String>>,
) -> PyResult<()> {
    let mut named = Vec::new();
    for (k, v) in tensors.iter() {
        let name: String = k.extract()?;
        let t = tensor_from(&v, None)
            .map_err(|e| value_error(format!("save_safetensors: `{name}`: {e}")))?;
        named.push((name, bytes_of(&t)?));
    }
    let bytes = safetensors::serialize(named.iter().map(|(n, b)| (n.as_str(), b)), &metadata)
        .map_err(|e| value_error(format!("save_safetensors: {e}")))?;
    std::fs::write(path, bytes)
        .map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("{path}: cannot write: {e}")))
}

/// Reads a safetensors file into a dict of names to tensors (F32 and F64 tensors; other
/// dtypes are refused naming the tensor).
///
/// # Errors
/// `OSError` when the file cannot be read; `ValueError` naming the path for a file that is
/// not safetensors or holds another dtype.
#[pyfunction]
pub fn load_safetensors<'py>(py: Python<'py>, path: &str) -> PyResult<Bound<'py, PyDict>> {
    let bytes = std::fs::read(path)
        .map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("{path}: cannot read: {e}")))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| value_error(format!("{path}: not a safetensors file: {e}")))?;
    let out = PyDict::new(py);
    let mut names = st.names();
    names.sort();
    for name in names {
        let view = st
            .tensor(name)
            .map_err(|e| value_error(format!("{path}: {e}")))?;
        let shape = view.shape().to_vec();
        let data = view.data();
        let t = match view.dtype() {
            Dtype::F32 => Tensor::from_vec(
                data.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect::<Vec<_>>(),
                &shape,
            ),
            Dtype::F64 => Tensor::from_vec(
                data.chunks_exact(8)
                    .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect::<Vec<_>>(),
                &shape,
            ),
            other => {
                return Err(value_error(format!(
                    "{path}: tensor `{name}` is {other:?}; gradus reads F32 and F64"
                )))
            }
        }
        .map_err(|e| value_error(format!("{path}: `{name}`: {e}")))?;
        out.set_item(name, PyTensor { t })?;
    }
    Ok(out)
}
