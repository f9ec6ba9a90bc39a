//! [`MpiCommunicator`]: the collectives over MPI (rsmpi over Open MPI or MPICH), with the `mpi`
//! feature. `mpirun -np N gradus train ...` starts N processes; each makes one of these.
//!
//! MPI's default error handler ends the job on a transport error, and Open MPI's `mpirun` ends
//! every rank when one exits without finalizing, so a rank that dies does not leave the others
//! waiting in a collective.

use crate::communicator::{check_gather, Communicator};
use crate::error::{DistError, Result};
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::Communicator as _;
use mpi::traits::*;
use mpi::Threading;
use std::sync::Mutex;

/// This process's rank of `MPI_COMM_WORLD`. MPI stays initialized while it lives (dropping it
/// finalizes MPI).
pub struct MpiCommunicator {
    /// Serializes calls: MPI is initialized with `MPI_THREAD_SERIALIZED` (or better), which
    /// allows calls from any thread, one at a time.
    world: Mutex<SimpleCommunicator>,
    rank: usize,
    size: usize,
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

impl Communicator for MpiCommunicator {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn all_reduce_sum(&self, buf: &mut [f64]) -> Result<()> {
        let send = buf.to_vec();
        self.world()?
            .all_reduce_into(&send[..], buf, SystemOperation::sum());
        Ok(())
    }
    fn all_gather(&self, send: &[f64], recv: &mut [f64]) -> Result<()> {
        check_gather(send.len(), recv.len(), self.size)?;
        self.world()?.all_gather_into(send, recv);
        Ok(())
    }
    fn broadcast(&self, buf: &mut [f64], root: usize) -> Result<()> {
        if root >= self.size {
            return Err(DistError::Invalid(format!(
                "broadcast: root {root} is not one of the {} MPI ranks",
                self.size
            )));
        }
        self.world()?
            .process_at_rank(root as i32)
            .broadcast_into(buf);
        Ok(())
    }
    fn barrier(&self) -> Result<()> {
        self.world()?.barrier();
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
}
