//! Turning gradient recording on and off (`no_grad`).

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// True unless inside a [`no_grad`] scope on this thread.
///
/// ```
/// use gradus_tensor::autodiff::{is_grad_enabled, no_grad};
/// assert!(is_grad_enabled());
/// no_grad(|| assert!(!is_grad_enabled()));
/// ```
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Runs `f` without recording ops: results do not require gradients (evaluation, updates).
///
/// ```
/// use gradus_tensor::{autodiff::no_grad, DType, Tensor};
/// let w = Tensor::ones(&[2], DType::F32).requires_grad_(true);
/// let y = no_grad(|| w.exp().unwrap());
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}

/// Disables gradient recording until dropped (restoring the previous mode).
///
/// ```
/// use gradus_tensor::autodiff::{is_grad_enabled, NoGradGuard};
/// {
///     let _g = NoGradGuard::new();
///     assert!(!is_grad_enabled());
/// }
/// assert!(is_grad_enabled());
/// ```
pub struct NoGradGuard {
    previous: bool,
}

impl NoGradGuard {
    /// Turns recording off for this thread.
    pub fn new() -> NoGradGuard {
        NoGradGuard {
            previous: set_grad_enabled(false),
        }
    }

    /// Sets the mode to `enabled` until dropped (used by the engine for `create_graph`).
    pub(crate) fn with(enabled: bool) -> NoGradGuard {
        NoGradGuard {
            previous: set_grad_enabled(enabled),
        }
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        set_grad_enabled(self.previous);
    }
}

fn set_grad_enabled(enabled: bool) -> bool {
    GRAD_ENABLED.with(|g| g.replace(enabled))
}
