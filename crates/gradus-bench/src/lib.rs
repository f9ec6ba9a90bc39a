//! Shared helpers for the benchmark programs in `src/bin/`: each program times one piece of work
//! and prints one JSON object per line (`{"name": ..., "seconds": median, ...}`), which
//! `bench/compare.py` reads next to the peer's timing of the same work.

use std::time::Instant;

pub mod gpt_task;

/// The benchmark programs use the same allocator as the `gradus` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Configures the allocator as the `gradus` binary does: freed memory is never returned to the
/// OS (purging off), so steps that reallocate the same large buffers do not fault in freshly
/// zeroed pages.
///
/// ```
/// gradus_bench::configure_allocator();
/// ```
pub fn configure_allocator() {
    // SAFETY: sets an integer option; mimalloc reads options atomically.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

/// The thread count of a benchmark run: `--threads N` from the command line, else rayon's
/// default (`RAYON_NUM_THREADS` or the machine's parallelism). Builds rayon's global pool with
/// the calling thread as one of its workers, as the `gradus` binary does (see
/// [`gradus_tensor::threads::init_global_pool`]).
///
/// ```
/// assert!(gradus_bench::threads() >= 1);
/// ```
pub fn threads() -> usize {
    let args: Vec<String> = std::env::args().collect();
    let requested = args
        .iter()
        .position(|a| a == "--threads")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse::<usize>().ok());
    // fails only when the pool already exists; its size is then reported below
    let _ = gradus_tensor::threads::init_global_pool(requested);
    rayon::current_num_threads()
}

/// Median wall-clock seconds of `reps` runs of `f` after `warmup` untimed runs.
///
/// ```
/// let s = gradus_bench::median_seconds(1, 3, || { std::hint::black_box(1 + 1); });
/// assert!(s >= 0.0);
/// ```
pub fn median_seconds(warmup: usize, reps: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        f();
    }
    let mut times: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
}

/// Prints one result line: `{"name": name, "seconds": seconds, ...extra}`.
///
/// ```
/// gradus_bench::report("noop", 0.001, serde_json::json!({"threads": 2}));
/// ```
pub fn report(name: &str, seconds: f64, extra: serde_json::Value) {
    let mut line = serde_json::json!({ "name": name, "seconds": seconds });
    if let (Some(obj), Some(more)) = (line.as_object_mut(), extra.as_object()) {
        obj.extend(more.clone());
    }
    println!("{line}");
}
