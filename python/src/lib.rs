//! The `gradus._gradus` extension module behind the `gradus` Python package (`python/gradus/`):
//! NumPy-backed tensors with autodiff ([`tensor`]), gradus's optimizers and schedules
//! ([`optim`]), gradient checking ([`check`]), safetensors files ([`files`]), and the training
//! engine the scikit-learn estimators drive ([`engine`]). Errors arrive in Python as
//! `ValueError` (bad input, bad settings) or `RuntimeError` (a run that failed), with gradus's
//! own messages ([`errors`]).
#![warn(missing_docs)]

mod arrays;
mod check;
mod engine;
mod errors;
mod files;
mod interrupt;
mod optim;
mod tensor;

use pyo3::prelude::*;

/// The extension's allocator (Rust's allocations only; Python's and NumPy's keep theirs), the
/// `gradus` binary's: mimalloc, which keeps freed tensor buffers for reuse. glibc's malloc spent
/// 11% of a small MLP's fit (digits, batches of 200) in its own bookkeeping.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The module: classes `Tensor`, `Optimizer`, `Schedule`, `Engine` and functions `gradcheck`,
/// `save_safetensors`, `load_safetensors`, `cross_entropy`, `mse_loss`, `no_grad_forward`.
#[pymodule]
fn _gradus(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Freed memory stays in the process for the next step instead of going back to the OS
    // and returning as fresh zeroed pages (as in `gradus train`; see BENCHMARKS.md).
    // SAFETY: sets an integer option; mimalloc reads options atomically.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    // Python's main thread (where modules are imported) becomes one of rayon's workers, as
    // `gradus train`'s main thread is: a fit called from it computes its share of every
    // parallel kernel instead of handing each to a woken pool thread and sleeping until it
    // ends (on one thread, those wake-ups were 18% of an MNIST MLP fit's profile). Fits from
    // other Python threads still run, on the pool's other threads. Imported elsewhere, or with
    // the pool already built, the pool stays rayon's default.
    let threading = m.py().import("threading")?;
    if threading
        .call_method0("current_thread")?
        .is(&threading.call_method0("main_thread")?)
    {
        let _ = gradus_tensor::threads::init_global_pool(None);
    }
    m.add_class::<tensor::PyTensor>()?;
    m.add_class::<optim::PyOptimizer>()?;
    m.add_class::<optim::PySchedule>()?;
    m.add_class::<engine::Engine>()?;
    m.add_function(wrap_pyfunction!(check::gradcheck, m)?)?;
    m.add_function(wrap_pyfunction!(files::save_safetensors, m)?)?;
    m.add_function(wrap_pyfunction!(files::load_safetensors, m)?)?;
    m.add_function(wrap_pyfunction!(tensor::cross_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(tensor::mse_loss, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
