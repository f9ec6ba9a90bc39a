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
//!
//! An overlapped bucket is converted to its [`WireDtype`] when it starts (`MPI_FLOAT` for an
//! all-f32 model, as DDP reduces in the gradients' dtype) and back when it completes. With
//! [`ReduceOrder::Fixed`] a bucket runs in two phases, chained while polling: its
//! `MPI_Ialltoall` (the reduce-scatter) and, as soon as that completes and this rank has added
//! its chunk in rank order, its `MPI_Iallgather` of the summed chunks.

use crate::communicator::{
    check_all_to_all, check_gather, chunk_len, padded, sum_chunks, unload, Communicator,
    ReduceOrder, WireDtype, WireValue,
};
use crate::error::{DistError, Result};
use crate::overlap::{not_lendable, run_blocking, BucketLauncher};
use mpi::collective::SystemOperation;
use mpi::datatype::Equivalence;
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
    /// A duplicate of the world for the all-gathers of [`ReduceOrder::Fixed`]'s overlapped
    /// buckets: MPI matches collectives by their order on a communicator, and a bucket's
    /// all-gather starts when its all-to-all completes, which on each rank falls at a different
    /// point among the later buckets' all-to-alls. Each communicator sees its collectives in
    /// bucket order on every rank. Locked only while `world` is.
    gather_world: Mutex<SimpleCommunicator>,
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
        let gather_world = world.duplicate();
        Ok(MpiCommunicator {
            world: Mutex::new(world),
            gather_world: Mutex::new(gather_world),
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

impl MpiCommunicator {
    fn all_reduce_sum_of<T: Equivalence + Copy>(&self, buf: &mut [T]) -> Result<()> {
        let send = buf.to_vec();
        let world = self.world()?;
        mpi::request::scope(|scope| {
            let req =
                world.immediate_all_reduce_into(scope, &send[..], buf, SystemOperation::sum());
            self.wait(&world, req, "all_reduce");
        });
        Ok(())
    }

    fn all_gather_of<T: Equivalence>(&self, send: &[T], recv: &mut [T]) -> Result<()> {
        check_gather(send.len(), recv.len(), self.size)?;
        let world = self.world()?;
        mpi::request::scope(|scope| {
            let req = world.immediate_all_gather_into(scope, send, recv);
            self.wait(&world, req, "all_gather");
        });
        Ok(())
    }

    fn all_to_all_of<T: Equivalence>(&self, send: &[T], recv: &mut [T]) -> Result<()> {
        check_all_to_all(send.len(), recv.len(), self.size)?;
        let world = self.world()?;
        mpi::request::scope(|scope| {
            let req = world.immediate_all_to_all_into(scope, send, recv);
            self.wait(&world, req, "all_to_all");
        });
        Ok(())
    }

    /// [`Communicator::all_reduce_overlapped`] with buckets sent as `T`.
    fn overlapped_as<T: WireValue + Equivalence>(
        &self,
        buffers: &mut [Vec<f64>],
        order: ReduceOrder,
        work: &mut dyn FnMut(&mut dyn BucketLauncher) -> Result<()>,
    ) -> Result<()> {
        let ranks = self.size;
        if ranks == 1 {
            // nothing to sum, and no rounding to the wire dtype: as one process
            return run_blocking(buffers, &|_| Ok(()), work);
        }
        // every wire buffer lives until the scope has ended: MPI writes them meanwhile
        let mut wires: Vec<Wire<T>> = buffers
            .iter()
            .map(|b| {
                let n = match order {
                    ReduceOrder::Transport => b.len(),
                    ReduceOrder::Fixed => chunk_len(b.len(), ranks) * ranks,
                };
                Wire {
                    send: vec![T::default(); n],
                    recv: vec![T::default(); n],
                    chunk: vec![T::default(); n / ranks],
                }
            })
            .collect();
        let raw: Vec<RawWire<T>> = wires.iter_mut().map(RawWire::of).collect();
        let world = self.world()?;
        let gather_world = self
            .gather_world
            .lock()
            .map_err(|_| DistError::Transport("an MPI call panicked on another thread".into()))?;
        let outcome = mpi::request::scope(|scope| {
            let mut l = Launcher {
                world: &world,
                gather_world: &gather_world,
                gathered: 0,
                scope,
                buffers: &mut *buffers,
                raw: &raw,
                phases: vec![Phase::Filling; raw.len()],
                requests: (0..raw.len()).map(|_| None).collect(),
                started: 0,
                order,
                ranks,
            };
            let outcome = work(&mut l);
            while l.started < l.raw.len() {
                l.start();
            }
            let deadline = Instant::now().checked_add(self.timeout());
            let since = Instant::now();
            while let Some(k) = l.poll() {
                if deadline.is_some_and(|d| Instant::now() > d) {
                    let op = match l.phases[k] {
                        Phase::Gathering | Phase::Waiting => "all_gather (gradient bucket)",
                        _ if order == ReduceOrder::Fixed => "all_to_all (gradient bucket)",
                        _ => "all_reduce (gradient bucket)",
                    };
                    self.time_out(&world, op);
                }
                back_off(since);
            }
            outcome
        });
        // the sums: the all-reduce's, or the all-gather's over the all-to-all's chunks
        for (b, w) in buffers.iter_mut().zip(&wires) {
            unload(&w.recv, b);
        }
        outcome
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
        self.all_reduce_sum_of(buf)
    }
    fn all_gather(&self, send: &[f64], recv: &mut [f64]) -> Result<()> {
        self.all_gather_of(send, recv)
    }
    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> Result<()> {
        self.all_reduce_sum_of(buf)
    }
    fn all_gather_f32(&self, send: &[f32], recv: &mut [f32]) -> Result<()> {
        self.all_gather_of(send, recv)
    }
    fn all_to_all(&self, send: &[f64], recv: &mut [f64]) -> Result<()> {
        self.all_to_all_of(send, recv)
    }
    fn all_to_all_f32(&self, send: &[f32], recv: &mut [f32]) -> Result<()> {
        self.all_to_all_of(send, recv)
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
        wire: WireDtype,
        work: &mut dyn FnMut(&mut dyn BucketLauncher) -> Result<()>,
    ) -> Result<()> {
        match wire {
            WireDtype::F32 => self.overlapped_as::<f32>(buffers, order, work),
            WireDtype::F64 => self.overlapped_as::<f64>(buffers, order, work),
        }
    }
}

/// Where an overlapped bucket is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not started: its f64 buffer is the caller's to fill.
    Filling,
    /// Its all-reduce ([`ReduceOrder::Transport`]) or all-to-all ([`ReduceOrder::Fixed`]) runs.
    Reducing,
    /// Its all-to-all has completed; its all-gather waits for the earlier buckets' to start
    /// ([`ReduceOrder::Fixed`]).
    Waiting,
    /// Its all-gather of the summed chunks runs ([`ReduceOrder::Fixed`]).
    Gathering,
    /// Summed.
    Done,
}

/// One overlapped bucket's wire buffers: what it sends, what it receives (the all-reduce's sum,
/// or the all-to-all's chunks and then the all-gather's sums), and this rank's summed chunk.
struct Wire<T> {
    send: Vec<T>,
    recv: Vec<T>,
    chunk: Vec<T>,
}

/// A [`Wire`]'s buffers as pointers, to lend them to MPI requests one phase at a time.
///
/// rsmpi ties a request's buffers to its scope, so a buffer lent to the all-to-all could not be
/// read, inside the scope, to start the all-gather. The pointers lend each buffer again once the
/// request that held it has completed (MPI no longer touches it), never to two requests at once.
struct RawWire<T> {
    send: (*mut T, usize),
    recv: (*mut T, usize),
    chunk: (*mut T, usize),
}

impl<T> RawWire<T> {
    fn of(w: &mut Wire<T>) -> RawWire<T> {
        RawWire {
            send: (w.send.as_mut_ptr(), w.send.len()),
            recv: (w.recv.as_mut_ptr(), w.recv.len()),
            chunk: (w.chunk.as_mut_ptr(), w.chunk.len()),
        }
    }
}

/// The slice at `p`.
///
/// # Safety
/// `p` points into a live `Vec` that outlives `'a` and that nothing else reads or writes while
/// the slice is used (see [`RawWire`]).
unsafe fn lend<'a, T>(p: (*mut T, usize)) -> &'a mut [T] {
    std::slice::from_raw_parts_mut(p.0, p.1)
}

/// The buckets of one overlapped all-reduce over MPI.
struct Launcher<'a, 's, 'b, T: Equivalence> {
    world: &'s SimpleCommunicator,
    /// Where the all-gathers run (see [`MpiCommunicator`]'s `gather_world`).
    gather_world: &'s SimpleCommunicator,
    /// Buckets whose all-gather has started: they start in bucket order.
    gathered: usize,
    scope: &'s LocalScope<'a>,
    /// The f64 buckets: those not started are the caller's to fill.
    buffers: &'b mut [Vec<f64>],
    raw: &'b [RawWire<T>],
    phases: Vec<Phase>,
    /// The running request of each bucket (none before it starts and once done).
    requests: Vec<Option<Request<'a, [T], &'s LocalScope<'a>>>>,
    started: usize,
    order: ReduceOrder,
    ranks: usize,
}

impl<'a, T: WireValue + Equivalence> Launcher<'a, '_, '_, T> {
    /// Starts bucket `started` (which must exist): converts it to `T` and starts its all-reduce
    /// or all-to-all.
    fn start(&mut self) {
        let k = self.started;
        let raw = &self.raw[k];
        // SAFETY: the send and receive buffers of bucket k have not been lent yet (it starts
        // once); they live in `wires`, which outlives the scope
        let (send, recv) = unsafe { (lend::<'a, T>(raw.send), lend::<'a, T>(raw.recv)) };
        let req = match self.order {
            ReduceOrder::Transport => {
                for (w, &v) in send.iter_mut().zip(self.buffers[k].iter()) {
                    *w = T::from_f64(v);
                }
                let send: &'a [T] = send;
                self.world
                    .immediate_all_reduce_into(self.scope, send, recv, SystemOperation::sum())
            }
            ReduceOrder::Fixed => {
                send.copy_from_slice(&padded::<T>(&self.buffers[k], self.ranks));
                let send: &'a [T] = send;
                self.world.immediate_all_to_all_into(self.scope, send, recv)
            }
        };
        self.requests[k] = Some(req);
        self.phases[k] = Phase::Reducing;
        self.started += 1;
    }

    /// Lets MPI progress the started buckets (Open MPI progresses only inside MPI calls); starts
    /// the all-gathers, in bucket order, of the buckets whose all-to-all has completed. Returns a
    /// bucket not yet summed, if any.
    fn poll(&mut self) -> Option<usize> {
        for k in 0..self.started {
            if let Some(req) = self.requests[k].take() {
                self.requests[k] = req.test().err();
            }
            if self.requests[k].is_none() && self.phases[k] != Phase::Waiting {
                self.phases[k] = match (self.phases[k], self.order) {
                    (Phase::Reducing, ReduceOrder::Fixed) => Phase::Waiting,
                    _ => Phase::Done,
                };
            }
        }
        while self.gathered < self.started && self.phases[self.gathered] == Phase::Waiting {
            let k = self.gathered;
            self.gather(k);
            self.phases[k] = Phase::Gathering;
            self.gathered += 1;
        }
        (0..self.raw.len()).find(|&k| self.phases[k] != Phase::Done)
    }

    /// Adds this rank's chunk of bucket `k` (its all-to-all completed) in rank order and starts
    /// the all-gather of the summed chunks into the bucket's receive buffer.
    fn gather(&mut self, k: usize) {
        let raw = &self.raw[k];
        // SAFETY: bucket k's all-to-all has completed, so MPI holds none of its buffers; the
        // receive buffer is read here, then lent to the all-gather only (the all-to-all's
        // chunks are summed into `chunk` first)
        let (recv, chunk) = unsafe { (lend::<'a, T>(raw.recv), lend::<'a, T>(raw.chunk)) };
        sum_chunks(recv, self.ranks, chunk);
        let chunk: &'a [T] = chunk;
        let req = self
            .gather_world
            .immediate_all_gather_into(self.scope, chunk, recv);
        self.requests[k] = Some(req);
    }
}

impl<T: WireValue + Equivalence> BucketLauncher for Launcher<'_, '_, '_, T> {
    fn buckets(&self) -> usize {
        self.buffers.len()
    }
    fn buffer(&mut self, k: usize) -> Result<&mut [f64]> {
        let (n, started) = (self.buffers.len(), self.started);
        if k < started || k >= n {
            return Err(not_lendable(k, n, started));
        }
        Ok(self.buffers[k].as_mut_slice())
    }
    fn started(&self) -> usize {
        self.started
    }
    fn start_next(&mut self) -> Result<()> {
        if self.started >= self.buffers.len() {
            return Err(DistError::Invalid(format!(
                "start_next: all {} buckets have started",
                self.buffers.len()
            )));
        }
        self.poll();
        self.start();
        Ok(())
    }
}
