//! NumPy arrays in and out: any memory order (C, Fortran, strided views) is read in logical
//! (row-major) order; a C-contiguous array is copied in one pass.

use numpy::{PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

/// The elements of `a` in row-major order, and its shape.
pub fn to_vec<T: numpy::Element + Copy>(a: &PyReadonlyArrayDyn<'_, T>) -> (Vec<T>, Vec<usize>) {
    let shape = a.shape().to_vec();
    // `as_slice` also accepts a Fortran-ordered array (it is contiguous too) and would give its
    // elements in memory order: only a C-ordered one may be copied as it lies
    let data = match a.as_slice() {
        Ok(s) if a.is_c_contiguous() => s.to_vec(),
        // Fortran order or a strided view: ndarray walks it in logical order
        _ => a.as_array().iter().copied().collect(),
    };
    (data, shape)
}

/// A NumPy array owning `data` (moved, not copied) with `shape`.
pub fn from_vec<'py, T: numpy::Element>(
    py: Python<'py>,
    data: Vec<T>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    numpy::PyArray1::from_vec(py, data).reshape(shape.to_vec())
}
