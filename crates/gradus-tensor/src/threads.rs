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
//!
//! Between kernels, a rayon worker with nothing to do goes to sleep within tens of
//! microseconds, and waking it goes through the OS again: on a 2-vCPU KVM guest, a parallel loop
//! that followed 20 µs to 1 ms of sequential work waited 45-80 µs (median) for its second thread,
//! against 1.3 µs when the worker was still awake. A training step is dozens of kernels with
//! short sequential stretches between them, so the pool built here keeps its other threads
//! looking for work for [`SPIN`] after the last kernel started ([`warm`], called by every
//! parallel kernel), as OpenMP's workers spin before they sleep (`OMP_WAIT_POLICY`,
//! `GOMP_SPINCOUNT`): then the same loop waited 1.3-2 µs. After `SPIN` without a kernel the
//! threads sleep as before, so an idle program costs no CPU.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long the pool's other threads keep looking for work after the last parallel kernel
/// started, before they sleep.
pub const SPIN: Duration = Duration::from_millis(5);

thread_local! {
    /// Whether this is the thread that [`init_global_pool`] made worker 0 of a pool with other
    /// threads beside it, no more than the cores (then its [`warm`] keeps those others awake).
    /// Kernels run elsewhere (a pool of the caller's own, another thread) leave the pool alone.
    static POOL_MAIN: Cell<bool> = const { Cell::new(false) };
}
/// Whether the spinning task is queued or running on the pool's other threads.
static ARMED: AtomicBool = AtomicBool::new(false);
/// When the last parallel kernel started: nanoseconds since the first [`since_epoch`] call.
static LAST_KERNEL: AtomicU64 = AtomicU64::new(0);

/// Builds rayon's global pool with `threads` threads (`None`: `RAYON_NUM_THREADS`, else the
/// machine's cores shared among the MPI processes started on it), the calling thread one of
/// them when there are two or more (rayon's `ThreadPoolBuilder::use_current_thread`; with one,
/// a pool thread of its own still serves parallel loops started from other threads). Call it
/// once, from the main thread, before anything else uses rayon.
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
    builder.build_global()?;
    // spinning threads would take cores from each other's work when there are more threads
    // than cores (as OpenMP throttles its spinning then)
    POOL_MAIN.set(threads >= 2 && threads <= available_cores());
    Ok(())
}

/// Marks the start of a parallel kernel: on the thread that [`init_global_pool`] made worker 0
/// of a pool of two or more threads, the pool's other threads look for work (rayon's
/// `yield_now`) until [`SPIN`] has passed without a kernel, instead of sleeping between
/// kernels. Costs a clock read when they are already awake; does nothing on any other thread
/// (a kernel inside a pool of the caller's own leaves both pools as rayon runs them).
///
/// ```
/// gradus_tensor::threads::warm(); // safe to call from anywhere, any time
/// ```
pub fn warm() {
    if !POOL_MAIN.get() {
        return;
    }
    LAST_KERNEL.store(since_epoch(), Ordering::Relaxed);
    if !ARMED.load(Ordering::Relaxed) && !ARMED.swap(true, Ordering::AcqRel) {
        rayon::spawn_broadcast(|ctx| {
            // worker 0 is the program's own thread, which runs the kernels
            if ctx.index() != 0 {
                look_for_work();
            }
        });
    }
}

/// Runs the pool's pending jobs as they come, until [`SPIN`] has passed since both the last job
/// this thread ran and the last kernel that started anywhere; then lets the thread sleep.
fn look_for_work() {
    let spin = SPIN.as_nanos() as u64;
    let mut last_job = since_epoch();
    loop {
        if let Some(rayon::Yield::Executed) = rayon::yield_now() {
            last_job = since_epoch();
            continue;
        }
        let now = since_epoch();
        let last = last_job.max(LAST_KERNEL.load(Ordering::Relaxed));
        if now.saturating_sub(last) > spin {
            break;
        }
        for _ in 0..32 {
            std::hint::spin_loop();
        }
    }
    ARMED.store(false, Ordering::Release);
}

/// Nanoseconds since the first call.
fn since_epoch() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Whether the pool's other threads are awake looking for work (armed by [`warm`], for at
/// most [`SPIN`] after the last kernel).
///
/// ```
/// // without a pool from `init_global_pool`, `warm` leaves rayon's threads alone
/// gradus_tensor::threads::warm();
/// assert!(!gradus_tensor::threads::spinning());
/// ```
pub fn spinning() -> bool {
    ARMED.load(Ordering::Acquire)
}

/// The default thread count: `RAYON_NUM_THREADS` when it is a positive number, else the
/// machine's available parallelism shared among the processes an MPI launcher started on this
/// node (`OMPI_COMM_WORLD_LOCAL_SIZE` under Open MPI's `mpirun`, `MPI_LOCALNRANKS` under
/// MPICH's), at least one each, as `torchrun` gives each of its processes a share of the cores.
fn default_threads() -> usize {
    threads_from_env(|name| std::env::var(name).ok(), available_cores())
}

/// [`default_threads`] with the environment read through `var`, on `cores` cores.
fn threads_from_env(var: impl Fn(&str) -> Option<String>, cores: usize) -> usize {
    let positive = |name: &str| {
        var(name)
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
    };
    positive("RAYON_NUM_THREADS").unwrap_or_else(|| {
        let local_ranks = positive("OMPI_COMM_WORLD_LOCAL_SIZE")
            .or_else(|| positive("MPI_LOCALNRANKS"))
            .unwrap_or(1);
        (cores / local_ranks).max(1)
    })
}

/// The cores this process may run on.
fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpi_processes_on_one_node_share_its_cores() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(threads_from_env(env(&[]), 16), 16);
        assert_eq!(
            threads_from_env(env(&[("OMPI_COMM_WORLD_LOCAL_SIZE", "4")]), 16),
            4
        );
        assert_eq!(threads_from_env(env(&[("MPI_LOCALNRANKS", "3")]), 16), 5);
        assert_eq!(
            threads_from_env(env(&[("OMPI_COMM_WORLD_LOCAL_SIZE", "8")]), 2),
            1
        );
        // an explicit RAYON_NUM_THREADS wins; nonsense values are ignored
        const BOTH: &[(&str, &str)] = &[
            ("RAYON_NUM_THREADS", "3"),
            ("OMPI_COMM_WORLD_LOCAL_SIZE", "4"),
        ];
        assert_eq!(threads_from_env(env(BOTH), 16), 3);
        const BAD: &[(&str, &str)] = &[
            ("RAYON_NUM_THREADS", "0"),
            ("OMPI_COMM_WORLD_LOCAL_SIZE", "x"),
        ];
        assert_eq!(threads_from_env(env(BAD), 16), 16);
    }

    #[test]
    fn warm_leaves_a_pool_it_did_not_build_alone() {
        // this test binary never calls `init_global_pool`: rayon's default pool, whose
        // threads sleep between loops as rayon decides
        let sum: u64 = {
            use rayon::prelude::*;
            (0..100_000u64).into_par_iter().sum()
        };
        assert_eq!(sum, 100_000 * 99_999 / 2);
        warm();
        assert!(!spinning());
    }
}
