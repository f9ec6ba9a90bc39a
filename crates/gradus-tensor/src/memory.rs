//! Counters of tensor storage memory: the bytes held by live tensor buffers now and the most held
//! at once since the last [`reset_peak`], as PyTorch's `torch.cuda.memory_allocated` and
//! `max_memory_allocated` (here for every device together).
//!
//! A buffer is counted from its creation to its release (the last tensor or view sharing it
//! dropped). Scratch space inside a kernel (packing, im2col columns) is not tensor storage and is
//! not counted. The counters are process-wide: concurrent work on other threads adds to them.
//!
//! ```
//! use gradus_tensor::{memory, DType, Tensor};
//! memory::reset_peak();
//! let before = memory::live_bytes();
//! let t = Tensor::zeros(&[1000], DType::F32);
//! assert!(memory::peak_bytes() >= before + 4000);
//! drop(t);
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Bytes held by tensor buffers alive now.
///
/// ```
/// let t = gradus_tensor::Tensor::zeros(&[256], gradus_tensor::DType::F64);
/// assert!(gradus_tensor::memory::live_bytes() >= 256 * 8);
/// # drop(t);
/// ```
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// The most bytes held by tensor buffers at once since the last [`reset_peak`] (or the start of
/// the process).
///
/// ```
/// use gradus_tensor::{memory, DType, Tensor};
/// drop(Tensor::zeros(&[4096], DType::F32));
/// assert!(memory::peak_bytes() >= 4096 * 4);
/// ```
pub fn peak_bytes() -> usize {
    PEAK.load(Ordering::Relaxed).max(live_bytes())
}

/// Starts a new peak from the bytes alive now (`torch.cuda.reset_peak_memory_stats`).
///
/// ```
/// use gradus_tensor::memory;
/// memory::reset_peak();
/// assert!(memory::peak_bytes() >= memory::live_bytes());
/// ```
pub fn reset_peak() {
    PEAK.store(live_bytes(), Ordering::Relaxed);
}

/// The count of one buffer's bytes: added when made (or cloned with its buffer), subtracted when
/// dropped.
#[derive(Debug)]
pub(crate) struct MemoryToken {
    bytes: usize,
}

impl MemoryToken {
    /// Counts `bytes` as alive.
    pub(crate) fn new(bytes: usize) -> MemoryToken {
        let now = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
        PEAK.fetch_max(now, Ordering::Relaxed);
        MemoryToken { bytes }
    }
}

impl Clone for MemoryToken {
    fn clone(&self) -> Self {
        MemoryToken::new(self.bytes)
    }
}

impl Drop for MemoryToken {
    fn drop(&mut self) {
        LIVE.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}
