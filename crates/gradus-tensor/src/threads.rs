//! The thread pool the CPU kernels run on: rayon's global pool, with the program's main thread
//! as one of its workers.
//!
//! By default rayon's workers are threads of their own, and a parallel loop called from `main`
//! is handed to them while `main` sleeps until they finish: two hand-offs through the OS per
//! kernel (a worker woken, then `main`), tens of microseconds each when a core is busy. OpenMP,
//! under PyTorch, runs a parallel region on the calling thread plus the pool's. A program that
//! builds the pool with [`init_global_pool`] before any kernel runs gets the same: `main`
//! computes its share of every parallel kernel, and only `threads - 1` other threads exist.
//! Results do not change: every kernel splits its work by shape alone, never by thread.

/// Builds rayon's global pool with `threads` threads (`None`: rayon's default,
/// `RAYON_NUM_THREADS` or the machine's parallelism), the calling thread one of them when there
/// are two or more (rayon's `ThreadPoolBuilder::use_current_thread`; with one, a pool thread of
/// its own still serves parallel loops started from other threads). Call it once, from the
/// main thread, before anything else uses rayon.
///
/// # Errors
/// When the global pool was already built (by an earlier call, or by a parallel kernel that
/// ran before): the existing pool stays as it is.
///
/// ```
/// let _ = gradus_tensor::threads::init_global_pool(Some(2));
/// assert!(rayon::current_num_threads() >= 1);
/// ```
pub fn init_global_pool(threads: Option<usize>) -> Result<(), rayon::ThreadPoolBuildError> {
    let threads = threads.filter(|&n| n > 0).unwrap_or_else(default_threads);
    let mut builder = rayon::ThreadPoolBuilder::new().num_threads(threads);
    if threads >= 2 {
        builder = builder.use_current_thread();
    }
    builder.build_global()
}

/// rayon's default thread count: `RAYON_NUM_THREADS` when it is a positive number, else the
/// machine's available parallelism.
fn default_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
