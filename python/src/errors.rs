//! gradus errors as Python exceptions, with gradus's own messages: bad input and settings are
//! `ValueError` (as scikit-learn and NumPy raise them), a run that failed while training is
//! `RuntimeError`.

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::PyErr;

/// A `ValueError` carrying `e`'s message.
pub fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A run's error: `RuntimeError` when training itself failed (divergence, a file that could not
/// be written), `ValueError` for everything the caller's settings or data caused.
pub fn run_error(e: gradus_run::RunError) -> PyErr {
    match e {
        gradus_run::RunError::Train(t) => PyRuntimeError::new_err(t.to_string()),
        gradus_run::RunError::RunDir { .. } => PyRuntimeError::new_err(e.to_string()),
        other => PyValueError::new_err(other.to_string()),
    }
}
