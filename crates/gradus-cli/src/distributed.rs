//! The communicator of `gradus train`: MPI's world when started by `mpirun` (with the `mpi`
//! feature), none otherwise.

use gradus_dist::Communicator;
use std::sync::Arc;

/// Ranks `mpirun` started, as its environment says (Open MPI, MPICH/PMI), if more than one.
fn launched_ranks() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse::<usize>().ok())
        .filter(|&n| n > 1)
}

/// MPI's world under `mpirun -np N` (N > 1); none for one process.
///
/// # Errors
/// MPI cannot be initialized.
#[cfg(feature = "mpi")]
pub fn communicator() -> Result<Option<Arc<dyn Communicator>>, String> {
    if launched_ranks().is_none() {
        return Ok(None);
    }
    let comm = gradus_dist::MpiCommunicator::init().map_err(|e| format!("MPI: {e}"))?;
    Ok(Some(Arc::new(comm)))
}

/// None: this build has no MPI.
///
/// # Errors
/// Started by `mpirun` with more than one rank: each rank would train the whole model alone and
/// write the same run directory.
#[cfg(not(feature = "mpi"))]
pub fn communicator() -> Result<Option<Arc<dyn Communicator>>, String> {
    match launched_ranks() {
        Some(n) => Err(format!(
            "started by mpirun with {n} ranks, but this gradus was built without MPI; build it with `cargo build --release -p gradus-cli --features mpi` (needs Open MPI and libclang)"
        )),
        None => Ok(None),
    }
}
