//! `gradus.Tensor`: a gradus tensor (float32 or float64) made from and turned into NumPy arrays,
//! with arithmetic operators, the common ops and reverse-mode autodiff (`backward`, `grad`).

use crate::arrays;
use crate::errors::value_error;
use gradus_nn::loss::{self, CrossEntropyOptions, Reduction};
use gradus_tensor::{DType, Tensor};
use numpy::PyReadonlyArrayDyn;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

type R<T> = PyResult<T>;

/// A tensor: `Tensor(array_like, requires_grad=False, dtype=None)`. `dtype` is `"float32"` or
/// `"float64"`; without it, float32 arrays stay float32 and everything else becomes float64.
/// Arrays of any memory order (C, Fortran, strided views) are read in logical order (one copy);
/// `numpy()` gives a new C-ordered array.
#[pyclass(name = "Tensor", module = "gradus")]
#[derive(Clone)]
pub struct PyTensor {
    pub(crate) t: Tensor,
}

fn dtype_named(name: &str) -> R<DType> {
    match name {
        "float32" | "f32" => Ok(DType::F32),
        "float64" | "f64" => Ok(DType::F64),
        other => Err(value_error(format!(
            "dtype: unknown value `{other}` (expected \"float32\" or \"float64\")"
        ))),
    }
}

fn dtype_name(d: DType) -> &'static str {
    match d {
        DType::F32 => "float32",
        _ => "float64",
    }
}

/// A gradus tensor from anything `numpy.asarray` takes, in `dtype` (else float32 arrays stay
/// float32 and the rest becomes float64).
pub fn tensor_from(any: &Bound<'_, PyAny>, dtype: Option<DType>) -> R<Tensor> {
    if let Ok(t) = any.cast::<PyTensor>() {
        let t = t.borrow().t.clone();
        return match dtype {
            Some(d) if d != t.dtype() => t.to_dtype(d).map_err(value_error),
            _ => Ok(t),
        };
    }
    let np = any.py().import("numpy")?;
    let arr = np.call_method1("asarray", (any,))?;
    let is_f32 = arr.getattr("dtype")?.eq(np.getattr("float32")?)?;
    let dtype = dtype.unwrap_or(if is_f32 { DType::F32 } else { DType::F64 });
    let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
    if !matches!(kind.as_str(), "f" | "i" | "u" | "b") {
        return Err(value_error(format!(
            "Tensor: cannot make a tensor of a NumPy array of dtype {} (expected numbers)",
            arr.getattr("dtype")?.str()?
        )));
    }
    let name = dtype_name(dtype);
    let arr = arr.call_method1("astype", (name,))?; // a copy only when the dtype changes
    let t = match dtype {
        DType::F32 => {
            let a: PyReadonlyArrayDyn<f32> = arr.extract()?;
            let (v, shape) = arrays::to_vec(&a);
            Tensor::from_vec(v, &shape)
        }
        _ => {
            let a: PyReadonlyArrayDyn<f64> = arr.extract()?;
            let (v, shape) = arrays::to_vec(&a);
            Tensor::from_vec(v, &shape)
        }
    };
    t.map_err(value_error)
}

impl PyTensor {
    fn wrap(t: gradus_tensor::Result<Tensor>) -> R<PyTensor> {
        t.map(|t| PyTensor { t }).map_err(value_error)
    }

    /// The other operand of a binary op, in this tensor's dtype.
    fn other(&self, other: &Bound<'_, PyAny>) -> R<Tensor> {
        tensor_from(other, Some(self.t.dtype()))
    }
}

#[pymethods]
impl PyTensor {
    #[new]
    #[pyo3(signature = (data, requires_grad = false, dtype = None))]
    fn new(data: &Bound<'_, PyAny>, requires_grad: bool, dtype: Option<&str>) -> R<Self> {
        let dtype = dtype.map(dtype_named).transpose()?;
        let t = tensor_from(data, dtype)?;
        let t = if requires_grad {
            t.detach().requires_grad_(true)
        } else {
            t
        };
        Ok(PyTensor { t })
    }

    /// The values as a new NumPy array (C order, the tensor's dtype).
    fn numpy<'py>(&self, py: Python<'py>) -> R<Bound<'py, PyAny>> {
        let shape = self.t.shape().to_vec();
        Ok(match self.t.dtype() {
            DType::F32 => {
                arrays::from_vec(py, self.t.to_vec::<f32>().map_err(value_error)?, &shape)?
                    .into_any()
            }
            _ => arrays::from_vec(py, self.t.to_vec_f64(), &shape)?.into_any(),
        })
    }

    /// NumPy's array protocol: `numpy.asarray(t)`.
    #[pyo3(signature = (dtype = None, copy = None))]
    fn __array__<'py>(
        &self,
        py: Python<'py>,
        dtype: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> R<Bound<'py, PyAny>> {
        let _ = copy; // always a fresh array
        let a = self.numpy(py)?;
        match dtype {
            Some(d) => a.call_method1("astype", (d,)),
            None => Ok(a),
        }
    }

    /// The shape, as a tuple.
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> R<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.t.shape())
    }

    /// `"float32"` or `"float64"`.
    #[getter]
    fn dtype(&self) -> &'static str {
        dtype_name(self.t.dtype())
    }

    /// Whether gradients flow to this tensor.
    #[getter]
    fn requires_grad(&self) -> bool {
        self.t.requires_grad()
    }

    /// The gradient accumulated by `backward()`, or None.
    #[getter]
    fn grad(&self) -> Option<PyTensor> {
        self.t.grad().map(|t| PyTensor { t })
    }

    /// Clears the gradient.
    fn zero_grad(&self) {
        self.t.set_grad(None);
    }

    /// Back-propagates from this tensor (a scalar, or seeded with ones), accumulating `grad` in
    /// every leaf that requires it.
    fn backward(&self) -> R<()> {
        self.t.backward().map_err(value_error)
    }

    /// The same values, cut off from the graph.
    fn detach(&self) -> PyTensor {
        PyTensor { t: self.t.detach() }
    }

    /// The single value of a one-element tensor.
    fn item(&self) -> R<f64> {
        self.t.item().map_err(value_error)
    }

    /// A copy in `dtype` ("float32" or "float64").
    fn to(&self, dtype: &str) -> R<PyTensor> {
        Self::wrap(self.t.to_dtype(dtype_named(dtype)?))
    }

    fn __repr__(&self) -> String {
        let v = self.t.to_vec_f64();
        let head: Vec<String> = v.iter().take(6).map(|x| format!("{x:.4}")).collect();
        let more = if v.len() > 6 { ", ..." } else { "" };
        format!(
            "Tensor(shape={:?}, dtype={}, requires_grad={}, [{}{more}])",
            self.t.shape(),
            dtype_name(self.t.dtype()),
            self.t.requires_grad(),
            head.join(", ")
        )
    }

    fn __len__(&self) -> usize {
        self.t.shape().first().copied().unwrap_or(0)
    }

    fn __add__(&self, o: &Bound<'_, PyAny>) -> R<PyTensor> {
        Self::wrap(self.t.add(&self.other(o)?))
    }
    fn __radd__(&self, o: &Bound<'_, PyAny>) -> R<PyTensor> {
        Self::wrap(self.other(o)?.add(&self.t))
    }
    fn __sub__(&self, o: &Bound<'_, PyAny>) -> R<PyTensor> {
        Self::wrap(self.t.sub(&self.other(o)?))
    }
    fn __rsub__(&self, o: &Bound<'_, PyAny>) -> R<PyTensor> {
        Self::wrap(self.other(o)?.sub(&self.t))
    }
    fn __mul__(&self, o: &Bound<'_, PyAny>) -> R<PyTensor> {
        Self::wrap(self.t.mul(&self.other(o)?))
    }
    fn __rmul__(&self, o: &Bound<'_, PyAny>) -> R<PyTensor> {
        Self::wrap(self.other(o)?.mul(&self.t))
    }
    fn __truediv__(&self, o: &Bound<'_, PyAny>) -> R<PyTensor> {
        Self::wrap(self.t.div(&self.other(o)?))
    }
    fn __rtruediv__(&self, o: &Bound<'_, PyAny>) -> R<PyTensor> {
        Self::wrap(self.other(o)?.div(&self.t))
    }
    fn __pow__(&self, o: &Bound<'_, PyAny>, _modulo: Option<&Bound<'_, PyAny>>) -> R<PyTensor> {
        match o.extract::<f64>() {
            Ok(p) => Self::wrap(self.t.powf(p)),
            Err(_) => Self::wrap(self.t.pow(&self.other(o)?)),
        }
    }
    fn __matmul__(&self, o: &Bound<'_, PyAny>) -> R<PyTensor> {
        Self::wrap(self.t.matmul(&self.other(o)?))
    }
    fn __rmatmul__(&self, o: &Bound<'_, PyAny>) -> R<PyTensor> {
        Self::wrap(self.other(o)?.matmul(&self.t))
    }
    fn __neg__(&self) -> R<PyTensor> {
        Self::wrap(self.t.neg())
    }

    /// Matrix product (batched, broadcasting as `numpy.matmul`).
    fn matmul(&self, o: &Bound<'_, PyAny>) -> R<PyTensor> {
        self.__matmul__(o)
    }
    /// e^x.
    fn exp(&self) -> R<PyTensor> {
        Self::wrap(self.t.exp())
    }
    /// Natural logarithm.
    fn log(&self) -> R<PyTensor> {
        Self::wrap(self.t.log())
    }
    /// Square root.
    fn sqrt(&self) -> R<PyTensor> {
        Self::wrap(self.t.sqrt())
    }
    /// |x|.
    fn abs(&self) -> R<PyTensor> {
        Self::wrap(self.t.abs())
    }
    /// tanh.
    fn tanh(&self) -> R<PyTensor> {
        Self::wrap(self.t.tanh())
    }
    /// The logistic sigmoid.
    fn sigmoid(&self) -> R<PyTensor> {
        Self::wrap(self.t.sigmoid())
    }
    /// max(x, 0).
    fn relu(&self) -> R<PyTensor> {
        Self::wrap(self.t.relu())
    }
    /// GELU (exact, with erf).
    fn gelu(&self) -> R<PyTensor> {
        Self::wrap(self.t.gelu())
    }
    /// SiLU (x * sigmoid(x)).
    fn silu(&self) -> R<PyTensor> {
        Self::wrap(self.t.silu())
    }
    /// Softmax along `axis`.
    #[pyo3(signature = (axis = -1))]
    fn softmax(&self, axis: isize) -> R<PyTensor> {
        Self::wrap(self.t.softmax(axis))
    }
    /// Log-softmax along `axis`.
    #[pyo3(signature = (axis = -1))]
    fn log_softmax(&self, axis: isize) -> R<PyTensor> {
        Self::wrap(self.t.log_softmax(axis))
    }
    /// Sum over `axis` (an int or a tuple; all axes when None).
    #[pyo3(signature = (axis = None, keepdim = false))]
    fn sum(&self, axis: Option<&Bound<'_, PyAny>>, keepdim: bool) -> R<PyTensor> {
        match axes(axis)? {
            None => Self::wrap(self.t.sum_all()),
            Some(a) => Self::wrap(self.t.sum(&a, keepdim)),
        }
    }
    /// Mean over `axis` (an int or a tuple; all axes when None).
    #[pyo3(signature = (axis = None, keepdim = false))]
    fn mean(&self, axis: Option<&Bound<'_, PyAny>>, keepdim: bool) -> R<PyTensor> {
        match axes(axis)? {
            None => Self::wrap(self.t.mean_all()),
            Some(a) => Self::wrap(self.t.mean(&a, keepdim)),
        }
    }
    /// The same elements in another shape: `t.reshape(2, 3)` or `t.reshape((2, 3))`.
    #[pyo3(signature = (*shape))]
    fn reshape(&self, shape: &Bound<'_, PyTuple>) -> R<PyTensor> {
        let dims: Vec<usize> = match shape.len() {
            1 if shape.get_item(0)?.extract::<usize>().is_err() => shape.get_item(0)?.extract()?,
            _ => shape.extract()?,
        };
        Self::wrap(self.t.reshape(&dims))
    }
    /// Swaps axes `a` and `b`.
    #[pyo3(signature = (a = 0, b = 1))]
    fn transpose(&self, a: isize, b: isize) -> R<PyTensor> {
        Self::wrap(self.t.transpose(a, b))
    }
    /// The transpose of a matrix.
    #[getter(T)]
    fn t_(&self) -> R<PyTensor> {
        Self::wrap(self.t.t())
    }
}

fn axes(axis: Option<&Bound<'_, PyAny>>) -> R<Option<Vec<isize>>> {
    match axis {
        None => Ok(None),
        Some(a) => match a.extract::<isize>() {
            Ok(i) => Ok(Some(vec![i])),
            Err(_) => Ok(Some(a.extract()?)),
        },
    }
}

fn reduction(name: &str) -> R<Reduction> {
    match name {
        "mean" => Ok(Reduction::Mean),
        "sum" => Ok(Reduction::Sum),
        "none" => Ok(Reduction::None),
        other => Err(value_error(format!(
            "reduction: unknown value `{other}` (expected \"mean\", \"sum\" or \"none\")"
        ))),
    }
}

/// Cross-entropy of logits `[N, C]` against class indices `target [N]` (`F.cross_entropy`).
///
/// # Errors
/// `ValueError` naming the shapes, or an index out of range with its position.
#[pyfunction]
#[pyo3(signature = (logits, target, reduction = "mean"))]
pub fn cross_entropy(logits: &PyTensor, target: &Bound<'_, PyAny>, reduction: &str) -> R<PyTensor> {
    let o = CrossEntropyOptions {
        reduction: self::reduction(reduction)?,
        ..Default::default()
    };
    let target = tensor_from(target, Some(logits.t.dtype()))?;
    loss::cross_entropy(&logits.t, &target, &o)
        .map(|t| PyTensor { t })
        .map_err(value_error)
}

/// Mean squared error (`F.mse_loss`).
///
/// # Errors
/// `ValueError` naming the shapes when they differ.
#[pyfunction]
#[pyo3(signature = (input, target, reduction = "mean"))]
pub fn mse_loss(input: &PyTensor, target: &Bound<'_, PyAny>, reduction: &str) -> R<PyTensor> {
    let target = tensor_from(target, Some(input.t.dtype()))?;
    loss::mse_loss(&input.t, &target, self::reduction(reduction)?)
        .map(|t| PyTensor { t })
        .map_err(value_error)
}
