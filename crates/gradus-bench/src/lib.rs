//! Shared helpers for the benchmark programs in `src/bin/`: each program times one piece of work
//! and prints one JSON object per line (`{"name": ..., "seconds": median, ...}`), which
//! `bench/compare.py` reads next to the peer's timing of the same work.

use std::time::Instant;

/// The benchmark programs use the same allocator as the `gradus` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

extern "C" {
    fn mi_version() -> std::os::raw::c_int;
    fn mi_option_get(option: std::os::raw::c_int) -> std::os::raw::c_long;
    fn mi_option_set(option: std::os::raw::c_int, value: std::os::raw::c_long);
}

/// Tells mimalloc to keep freed memory instead of returning it to the OS after its purge delay
/// (`MIMALLOC_PURGE_DELAY=-1`). Without this every training step faults its large tensors back
/// in, and the kernel zeroes each fresh page (2 MiB at a time with transparent huge pages): in
/// the LSTM benchmark that zeroing was over a quarter of the profile. glibc's `malloc`, which the
/// Python peers use, keeps such blocks too once it has freed one (its mmap threshold adapts).
/// Returns whether the option was set (only for the bundled mimalloc 3.x, whose option numbering
/// is known; `MIMALLOC_PURGE_DELAY` in the environment wins either way).
///
/// ```
/// let _ = gradus_bench::keep_freed_memory();
/// ```
pub fn keep_freed_memory() -> bool {
    const PURGE_DELAY: std::os::raw::c_int = 15; // mi_option_purge_delay in mimalloc 3.x
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return false;
    }
    // SAFETY: plain C calls into the linked mimalloc; the option index is checked by version
    // (3.x is 3xxyy) and the option read back as a delay before it is changed.
    unsafe {
        if !(30000..40000).contains(&mi_version()) || mi_option_get(PURGE_DELAY) < 0 {
            return false;
        }
        mi_option_set(PURGE_DELAY, -1);
    }
    true
}

/// Median wall-clock seconds of `reps` runs of `f` after `warmup` untimed runs (with freed
/// memory kept in the process: [`keep_freed_memory`]).
///
/// ```
/// let s = gradus_bench::median_seconds(1, 3, || { std::hint::black_box(1 + 1); });
/// assert!(s >= 0.0);
/// ```
pub fn median_seconds(warmup: usize, reps: usize, mut f: impl FnMut()) -> f64 {
    keep_freed_memory();
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
