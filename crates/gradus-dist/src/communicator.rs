//! [`Communicator`]: the collectives data-parallel training and federated averaging need
//! (all-reduce, all-gather, broadcast, barrier), over MPI ([`crate::mpi`], with the `mpi`
//! feature), over threads of one process ([`crate::local::LocalGroup`]), or over nothing
//! ([`SingleProcess`], always available).
//!
//! Values travel as f64 whatever the model's dtype: sums of f32 gradients are then exact to f32
//! precision before they are rounded back, which keeps N ranks close to one process.

use crate::error::{DistError, Result};
use crate::overlap::{run_blocking, BucketLauncher};
use std::time::Duration;

/// How an all-reduce orders its sum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReduceOrder {
    /// Gather every rank's values and add them in rank order on every rank: the same bits on
    /// every rank and in every run, whatever the transport's algorithm (N times the bytes of
    /// [`ReduceOrder::Transport`]).
    #[default]
    Fixed,
    /// The transport's own all-reduce (MPI_Allreduce): fewer bytes, but its summation order
    /// depends on the algorithm MPI picks for the message size and rank count.
    Transport,
}

/// A group of ranks that run collectives together. Every rank must call the same collectives in
/// the same order with buffers of the same length (as in MPI).
pub trait Communicator: Send + Sync {
    /// This process's rank, `0..size()`.
    fn rank(&self) -> usize;

    /// Ranks in the group.
    fn size(&self) -> usize;

    /// Replaces `buf` on every rank with the element-wise sum over the ranks, in the
    /// transport's order ([`ReduceOrder::Transport`]).
    ///
    /// # Errors
    /// The transport fails, or the ranks' lengths differ (where the transport can tell).
    fn all_reduce_sum(&self, buf: &mut [f64]) -> Result<()>;

    /// Fills `recv` (`size() * send.len()` values, rank-major) with every rank's `send`.
    ///
    /// # Errors
    /// `recv` has the wrong length, or the transport fails.
    fn all_gather(&self, send: &[f64], recv: &mut [f64]) -> Result<()>;

    /// Replaces `buf` on every rank with `root`'s.
    ///
    /// # Errors
    /// The transport fails, or `root` is not a rank.
    fn broadcast(&self, buf: &mut [f64], root: usize) -> Result<()>;

    /// Returns once every rank has called it.
    ///
    /// # Errors
    /// The transport fails.
    fn barrier(&self) -> Result<()>;

    /// Ends the whole job (every rank) with `code`, after a rank failed, so that the others do
    /// not wait for it forever. One process or a thread group: nothing to end.
    fn abort(&self, code: i32) {
        let _ = code;
    }

    /// The transport, for messages ("one process", "threads", "MPI").
    fn transport(&self) -> &'static str;
    /// Sets how long a collective waits for the other ranks before this rank ends the job with
    /// [`DistError::Timeout`]'s message (a rank that died or hangs). Transports that cannot
    /// wait with a deadline (one process, threads) ignore it.
    fn set_timeout(&self, timeout: Duration) {
        let _ = timeout;
    }
    /// Sums each of `buffers` over the ranks in `order`, overlapped with `work` (see
    /// [`crate::overlap`]): `work` fills buffers and starts them in index order through the
    /// [`BucketLauncher`]; then the buckets left are started and all are waited for. On return
    /// each buffer holds its sum. Every rank must pass buffers of the same lengths. The default
    /// runs each bucket's all-reduce, blocking, when it starts ([`run_blocking`]).
    ///
    /// # Errors
    /// `work`'s error (after every bucket's all-reduce has run, so the ranks stay in step), or
    /// the transport's.
    ///
    /// ```
    /// use gradus_dist::{Communicator, ReduceOrder, SingleProcess};
    /// let mut buckets = vec![vec![0.0; 2], vec![0.0; 1]];
    /// SingleProcess.all_reduce_overlapped(&mut buckets, ReduceOrder::Fixed, &mut |l| {
    ///     l.buffer(0)?.copy_from_slice(&[1.0, 2.0]);
    ///     l.start_next() // bucket 0 is full: start it; bucket 1 starts when work returns
    /// }).unwrap();
    /// assert_eq!(buckets, vec![vec![1.0, 2.0], vec![0.0]]);
    /// ```
    fn all_reduce_overlapped(
        &self,
        buffers: &mut [Vec<f64>],
        order: ReduceOrder,
        work: &mut dyn FnMut(&mut dyn BucketLauncher) -> Result<()>,
    ) -> Result<()> {
        run_blocking(buffers, &|b| self.reduce_sum(b, order), work)
    }

    /// Sums `buf` over the ranks in `order` (see [`ReduceOrder`]).
    ///
    /// # Errors
    /// As [`Communicator::all_reduce_sum`] and [`Communicator::all_gather`].
    ///
    /// ```
    /// use gradus_dist::{Communicator, ReduceOrder, SingleProcess};
    /// let mut v = vec![1.5, -2.0];
    /// SingleProcess.reduce_sum(&mut v, ReduceOrder::Fixed).unwrap();
    /// assert_eq!(v, vec![1.5, -2.0]);
    /// ```
    fn reduce_sum(&self, buf: &mut [f64], order: ReduceOrder) -> Result<()> {
        if self.size() == 1 {
            return Ok(());
        }
        match order {
            ReduceOrder::Transport => self.all_reduce_sum(buf),
            ReduceOrder::Fixed => {
                let n = buf.len();
                let mut all = vec![0.0; n * self.size()];
                self.all_gather(buf, &mut all)?;
                sum_in_rank_order(&all, buf);
                Ok(())
            }
        }
    }
}

/// `out[i] = all[i] + all[n + i] + ...`, added in rank order starting from rank 0's value (the
/// same bits on every rank).
pub(crate) fn sum_in_rank_order(all: &[f64], out: &mut [f64]) {
    let n = out.len();
    if n == 0 {
        return;
    }
    out.copy_from_slice(&all[..n]);
    for chunk in all.chunks_exact(n).skip(1) {
        for (o, v) in out.iter_mut().zip(chunk) {
            *o += v;
        }
    }
}

/// Checks the length of an all-gather's receive buffer.
pub(crate) fn check_gather(send: usize, recv: usize, size: usize) -> Result<()> {
    if recv != send * size {
        return Err(DistError::Invalid(format!(
            "all_gather: the receive buffer holds {recv} values, but {size} ranks of {send} need {}",
            send * size
        )));
    }
    Ok(())
}

/// One process, no transport: every collective is the identity. What `gradus train` uses when it
/// is not started by `mpirun`.
///
/// ```
/// use gradus_dist::{Communicator, SingleProcess};
/// let mut v = vec![3.0];
/// SingleProcess.all_reduce_sum(&mut v).unwrap();
/// SingleProcess.broadcast(&mut v, 0).unwrap();
/// assert_eq!((SingleProcess.rank(), SingleProcess.size(), v[0]), (0, 1, 3.0));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SingleProcess;

impl Communicator for SingleProcess {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn all_reduce_sum(&self, _buf: &mut [f64]) -> Result<()> {
        Ok(())
    }
    fn all_gather(&self, send: &[f64], recv: &mut [f64]) -> Result<()> {
        check_gather(send.len(), recv.len(), 1)?;
        recv.copy_from_slice(send);
        Ok(())
    }
    fn broadcast(&self, _buf: &mut [f64], root: usize) -> Result<()> {
        if root != 0 {
            return Err(DistError::Invalid(format!(
                "broadcast: root {root} is not a rank of a single process"
            )));
        }
        Ok(())
    }
    fn barrier(&self) -> Result<()> {
        Ok(())
    }
    fn transport(&self) -> &'static str {
        "one process"
    }
}
