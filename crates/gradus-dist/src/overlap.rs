//! All-reduces started while the caller still computes: the communicator side of overlapping
//! gradient buckets with the backward pass, as PyTorch DDP's `Reducer` does.
//!
//! [`Communicator::all_reduce_overlapped`](crate::Communicator::all_reduce_overlapped) lends a
//! [`BucketLauncher`] to the caller's work (the backward pass): the work fills bucket buffers and
//! starts them, in bucket order, as they fill; the communicator then starts those left and waits
//! for all. Over MPI a start is a non-blocking `MPI_Iallreduce` (or, for
//! [`ReduceOrder::Fixed`], `MPI_Ialltoall` then `MPI_Iallgather`); transports without
//! non-blocking collectives run each bucket's all-reduce when it starts ([`run_blocking`]).
//!
//! Buckets start in index order on every rank, whatever order their buffers fill in, so that
//! every rank issues the same collectives in the same order (as DDP's `Reducer` reduces buckets
//! in sequence).

use crate::error::{DistError, Result};

/// What the caller's work may do with the buckets of an overlapped all-reduce.
pub trait BucketLauncher {
    /// Buckets in the all-reduce.
    fn buckets(&self) -> usize;
    /// Bucket `k`'s buffer, to fill before it starts.
    ///
    /// # Errors
    /// `k` is not a bucket, or bucket `k` has started (its buffer belongs to the transport).
    fn buffer(&mut self, k: usize) -> Result<&mut [f64]>;
    /// Buckets started so far: buckets `0..started()` have started.
    fn started(&self) -> usize;
    /// Starts the next bucket's all-reduce (bucket `started()`).
    ///
    /// # Errors
    /// Every bucket has started, or the transport fails.
    fn start_next(&mut self) -> Result<()>;
}

/// The error of a launcher asked for a bucket it cannot lend.
pub(crate) fn not_lendable(k: usize, buckets: usize, started: usize) -> DistError {
    DistError::Invalid(format!(
        "bucket {k} of {buckets}: {}",
        if k >= buckets {
            "no such bucket"
        } else {
            debug_assert!(k < started);
            "already started; its buffer is the transport's until the all-reduce ends"
        }
    ))
}

/// A launcher that runs each bucket's all-reduce when it starts, blocking: for transports
/// without non-blocking collectives (one process, threads).
struct Blocking<'b> {
    buffers: &'b mut [Vec<f64>],
    started: usize,
    reduce: &'b dyn Fn(&mut [f64]) -> Result<()>,
}

impl BucketLauncher for Blocking<'_> {
    fn buckets(&self) -> usize {
        self.buffers.len()
    }
    fn buffer(&mut self, k: usize) -> Result<&mut [f64]> {
        if k < self.started || k >= self.buffers.len() {
            return Err(not_lendable(k, self.buffers.len(), self.started));
        }
        Ok(&mut self.buffers[k])
    }
    fn started(&self) -> usize {
        self.started
    }
    fn start_next(&mut self) -> Result<()> {
        let k = self.started;
        let Some(buf) = self.buffers.get_mut(k) else {
            return Err(DistError::Invalid(format!(
                "start_next: all {k} buckets have started"
            )));
        };
        (self.reduce)(buf)?;
        self.started += 1;
        Ok(())
    }
}

/// Runs `work` with a launcher whose starts sum a bucket at once with `reduce` (a blocking
/// all-reduce in some [`ReduceOrder`]), then sums the buckets `work` left unstarted. What
/// [`Communicator::all_reduce_overlapped`](crate::Communicator::all_reduce_overlapped) does for
/// transports without non-blocking collectives.
///
/// # Errors
/// `work`'s error (after the remaining buckets are summed, so every rank runs the same
/// collectives), or `reduce`'s.
pub fn run_blocking(
    buffers: &mut [Vec<f64>],
    reduce: &dyn Fn(&mut [f64]) -> Result<()>,
    work: &mut dyn FnMut(&mut dyn BucketLauncher) -> Result<()>,
) -> Result<()> {
    let mut launcher = Blocking {
        buffers,
        started: 0,
        reduce,
    };
    let outcome = work(&mut launcher);
    while launcher.started < launcher.buffers.len() {
        launcher.start_next()?;
    }
    outcome
}
