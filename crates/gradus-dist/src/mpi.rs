//! [`MpiCommunicator`]: the collectives over MPI (rsmpi over Open MPI or MPICH), with the `mpi`
//! feature. `mpirun -np N gradus train ...` starts N processes; each makes one of these.
//!
//! Every collective is MPI's non-blocking one (`MPI_Iallreduce`, `MPI_Iallgather`, `MPI_Ibcast`,
//! `MPI_Ibarrier`), polled until it completes or the timeout ([`DEFAULT_TIMEOUT`], set with
//! [`Communicator::set_timeout`]) passes: then the rank prints [`DistError::Timeout`]'s message,
//! naming the collective and the rank count, and ends the job with `MPI_Abort`, so a rank that
//! hangs does not hang the job. A rank that dies makes `mpirun` end the others; MPI's default
//! error handler ends the job on a transport error.
//!
//! Open MPI progresses a non-blocking collective only inside MPI calls (it has no progress
//! thread by default), so an overlapped all-reduce also polls the buckets already started each
//! time it starts another.

use crate::communicator::{check_gather, sum_in_rank_order, Communicator, ReduceOrder};
use crate::error::{DistError, Result};
use crate::overlap::{not_lendable, BucketLauncher};
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::request::{LocalScope, Request, Scope};
use mpi::topology::SimpleCommunicator;
use mpi::traits::Communicator as _;
use mpi::traits::*;
use mpi::Threading;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a collective waits for the other ranks by default: 30 minutes, PyTorch's
/// `init_process_group` default for gloo and NCCL (`default_pg_timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The exit code a rank that timed out passes to `MPI_Abort`.
const TIMEOUT_EXIT_CODE: i32 = 3;

/// This process's rank of `MPI_COMM_WORLD`. MPI stays initialized while it lives (dropping it
/// finalizes MPI).
pub struct MpiCommunicator {
    /// Serializes calls: MPI is initialized with `MPI_THREAD_SERIALIZED` (or better), which
    /// allows calls from any thread, one at a time.
    world: Mutex<SimpleCommunicator>,
    rank: usize,
    size: usize,
    /// The collectives' timeout, in milliseconds.
    timeout_ms: AtomicU64,
    _universe: Universe,
}

// SAFETY: MPI was initialized with at least MPI_THREAD_SERIALIZED (checked in `init`), so any
// thread may call it as long as calls do not overlap; every call goes through the mutex.
unsafe impl Send for MpiCommunicator {}
// SAFETY: as above; shared references reach MPI only through the mutex.
unsafe impl Sync for MpiCommunicator {}

impl MpiCommunicator {
    /// Initializes MPI and joins `MPI_COMM_WORLD`.
    ///
    /// # Errors
    /// MPI was already initialized, or does not offer `MPI_THREAD_SERIALIZED`.
    pub fn init() -> Result<MpiCommunicator> {
        let (universe, threading) = mpi::initialize_with_threading(Threading::Serialized)
            .ok_or_else(|| DistError::Transport("MPI was already initialized".into()))?;
        if threading < Threading::Serialized {
            return Err(DistError::Transport(format!(
                "this MPI offers threading level {threading:?}; gradus needs Serialized"
            )));
        }
        let world = universe.world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        Ok(MpiCommunicator {
            world: Mutex::new(world),
            rank,
            size,
            timeout_ms: AtomicU64::new(DEFAULT_TIMEOUT.as_millis() as u64),
            _universe: universe,
        })
    }

    /// Whether this process was started by an MPI launcher (`mpirun`, `mpiexec`, `srun`): it
    /// sees the environment variables Open MPI, MPICH or Slurm's PMI set.
    pub fn launched_by_mpirun() -> bool {
        ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"]
            .iter()
            .any(|v| std::env::var_os(v).is_some())
    }

    fn world(&self) -> Result<std::sync::MutexGuard<'_, SimpleCommunicator>> {
        self.world
            .lock()
            .map_err(|_| DistError::Transport("an MPI call panicked on another thread".into()))
    }
}

impl MpiCommunicator {
    fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.load(Ordering::Relaxed))
    }

    /// Polls `req` until it completes; past the timeout, prints the error and ends the job.
    fn wait<'a, D: ?Sized, S: Scope<'a>>(
        &self,
        world: &SimpleCommunicator,
        req: Request<'a, D, S>,
        op: &'static str,
    ) {
        // no deadline when the timeout is beyond what the clock can count
        let deadline = Instant::now().checked_add(self.timeout());
        let mut req = req;
        let since = Instant::now();
        loop {
            match req.test() {
                Ok(_) => return,
                Err(r) => req = r,
            }
            if deadline.is_some_and(|d| Instant::now() > d) {
                self.time_out(world, op);
            }
            back_off(since);
        }
    }

    /// Prints that collective `op` timed out and ends the job (requests still pending: MPI owns
    /// their buffers, so the process must not go on).
    fn time_out(&self, world: &SimpleCommunicator, op: &'static str) -> ! {
        let e = DistError::Timeout {
            op,
            rank: self.rank,
            size: self.size,
            seconds: self.timeout().as_secs_f64(),
        };
        eprintln!("error: {e}");
        world.abort(TIMEOUT_EXIT_CODE)
    }
}

/// Between two polls of a pending request: yield the core for the first second (Open MPI
/// moves a non-blocking collective on only inside MPI calls, so a large all-reduce needs many
/// polls in a row, as its blocking waits spin), then sleep a millisecond (a rank that waits
/// this long waits for a slow or hung rank, and should not take a core from it).
fn back_off(waiting_since: Instant) {
    if waiting_since.elapsed() < Duration::from_secs(1) {
        std::thread::yield_now();
    } else {
        std::thread::sleep(Duration::from_millis(1));
    }
}

impl Communicator for MpiCommunicator {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn all_reduce_sum(&self, buf: &mut [f64]) -> Result<()> {
        let send = buf.to_vec();
        let world = self.world()?;
        mpi::request::scope(|scope| {
            let req =
                world.immediate_all_reduce_into(scope, &send[..], buf, SystemOperation::sum());
            self.wait(&world, req, "all_reduce");
        });
        Ok(())
    }
    fn all_gather(&self, send: &[f64], recv: &mut [f64]) -> Result<()> {
        check_gather(send.len(), recv.len(), self.size)?;
        let world = self.world()?;
        mpi::request::scope(|scope| {
            let req = world.immediate_all_gather_into(scope, send, recv);
            self.wait(&world, req, "all_gather");
        });
        Ok(())
    }
    fn broadcast(&self, buf: &mut [f64], root: usize) -> Result<()> {
        if root >= self.size {
            return Err(DistError::Invalid(format!(
                "broadcast: root {root} is not one of the {} MPI ranks",
                self.size
            )));
        }
        let world = self.world()?;
        mpi::request::scope(|scope| {
            let req = world
                .process_at_rank(root as i32)
                .immediate_broadcast_into(scope, buf);
            self.wait(&world, req, "broadcast");
        });
        Ok(())
    }
    fn barrier(&self) -> Result<()> {
        let world = self.world()?;
        let req = world.immediate_barrier();
        self.wait(&world, req, "barrier");
        Ok(())
    }
    fn abort(&self, code: i32) {
        // MPI_Abort ends every rank of the job; it does not return
        match self.world.lock() {
            Ok(w) => w.abort(code),
            Err(p) => p.into_inner().abort(code),
        }
    }
    fn transport(&self) -> &'static str {
        "MPI"
    }
    fn set_timeout(&self, timeout: Duration) {
        let ms = timeout.as_millis().clamp(1, u128::from(u64::MAX)) as u64;
        self.timeout_ms.store(ms, Ordering::Relaxed);
    }
    fn all_reduce_overlapped(
        &self,
        buffers: &mut [Vec<f64>],
        order: ReduceOrder,
        work: &mut dyn FnMut(&mut dyn BucketLauncher) -> Result<()>,
    ) -> Result<()> {
        let mut recv: Vec<Vec<f64>> = buffers
            .iter()
            .map(|b| vec![0.0; receive_len(b.len(), self.size, order)])
            .collect();
        let world = self.world()?;
        let outcome = mpi::request::scope(|scope| {
            let mut l = Launcher {
                world: &world,
                scope,
                sends: buffers.iter_mut().map(Some).collect(),
                recvs: recv.iter_mut().map(Some).collect(),
                requests: Vec::new(),
                order,
            };
            let outcome = work(&mut l);
            while l.requests.len() < l.sends.len() {
                l.start();
            }
            for req in l.requests.drain(..).flatten() {
                self.wait(&world, req, "all_reduce (gradient bucket)");
            }
            outcome
        });
        for (b, r) in buffers.iter_mut().zip(recv) {
            match order {
                ReduceOrder::Transport => *b = r,
                ReduceOrder::Fixed => sum_in_rank_order(&r, b),
            }
        }
        outcome
    }
}

/// The buckets of one overlapped all-reduce over MPI: buffers not yet started, and the
/// requests of those started (in bucket order).
struct Launcher<'a, 's> {
    world: &'s SimpleCommunicator,
    scope: &'s LocalScope<'a>,
    sends: Vec<Option<&'a mut Vec<f64>>>,
    recvs: Vec<Option<&'a mut Vec<f64>>>,
    /// One per started bucket; `None` once polled complete.
    requests: Vec<Option<Request<'a, [f64], &'s LocalScope<'a>>>>,
    order: ReduceOrder,
}

impl<'a> Launcher<'a, '_> {
    /// Starts bucket `requests.len()` (which must exist).
    fn start(&mut self) {
        let k = self.requests.len();
        let (Some(send), Some(recv)) = (self.sends[k].take(), self.recvs[k].take()) else {
            unreachable!("bucket {k} starts once");
        };
        let send: &'a [f64] = send.as_slice();
        let recv: &'a mut [f64] = recv.as_mut_slice();
        let req = match self.order {
            ReduceOrder::Transport => {
                self.world
                    .immediate_all_reduce_into(self.scope, send, recv, SystemOperation::sum())
            }
            ReduceOrder::Fixed => self.world.immediate_all_gather_into(self.scope, send, recv),
        };
        self.requests.push(Some(req));
    }

    /// Lets MPI progress the started buckets (Open MPI progresses only inside MPI calls).
    fn poll(&mut self) {
        for slot in &mut self.requests {
            if let Some(req) = slot.take() {
                *slot = req.test().err();
            }
        }
    }
}

impl BucketLauncher for Launcher<'_, '_> {
    fn buckets(&self) -> usize {
        self.sends.len()
    }
    fn buffer(&mut self, k: usize) -> Result<&mut [f64]> {
        let (n, started) = (self.sends.len(), self.requests.len());
        match self.sends.get_mut(k) {
            Some(Some(b)) => Ok(b.as_mut_slice()),
            _ => Err(not_lendable(k, n, started)),
        }
    }
    fn started(&self) -> usize {
        self.requests.len()
    }
    fn start_next(&mut self) -> Result<()> {
        if self.requests.len() >= self.sends.len() {
            return Err(DistError::Invalid(format!(
                "start_next: all {} buckets have started",
                self.sends.len()
            )));
        }
        self.poll();
        self.start();
        Ok(())
    }
}

/// Receive-buffer length of a bucket of `len` values over `ranks` ranks in `order`: the sum
/// itself, or every rank's values for [`ReduceOrder::Fixed`] (summed in rank order after).
fn receive_len(len: usize, ranks: usize, order: ReduceOrder) -> usize {
    match order {
        ReduceOrder::Fixed => len * ranks,
        ReduceOrder::Transport => len,
    }
}
