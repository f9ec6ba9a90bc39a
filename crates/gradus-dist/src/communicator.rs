//! [`Communicator`]: the collectives data-parallel training and federated averaging need
//! (all-reduce, all-gather, broadcast, barrier), over MPI ([`crate::mpi`], with the `mpi`
//! feature), over threads of one process ([`crate::local::LocalGroup`]), or over nothing
//! ([`SingleProcess`], always available).
//!
//! The collectives take f64 buffers; [`Communicator::reduce_sum_wire`] sends them as the
//! [`WireDtype`] asked: gradients of an all-f32 model travel as f32 (half the bytes, as PyTorch
//! DDP all-reduces in the gradients' dtype), others as f64.
//!
//! [`ReduceOrder::Fixed`] is a reduce-scatter then an all-gather, the two halves of a ring
//! all-reduce: the buffer, padded to a multiple of N values, is cut into N chunks; an
//! all-to-all gives rank r chunk r of every rank, which it adds in rank order in f64 and rounds
//! once to the wire dtype; an all-gather then gives every rank every summed chunk. Each rank
//! sends 2(N-1)/N of the buffer, what a ring all-reduce sends, and every value is the same
//! rank-order sum on every rank and in every run.

use crate::error::{DistError, Result};
use crate::overlap::{run_blocking, BucketLauncher};
use gradus_tensor::DType;
use std::time::Duration;

/// The element type values travel in on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WireDtype {
    /// 4-byte floats: gradients of a model whose parameters are all f32 (as PyTorch DDP
    /// all-reduces in the gradients' dtype).
    F32,
    /// 8-byte floats: any other model, and the collectives' f64 API.
    #[default]
    F64,
}

impl WireDtype {
    /// Bytes of one value.
    pub fn bytes(self) -> usize {
        match self {
            WireDtype::F32 => 4,
            WireDtype::F64 => 8,
        }
    }

    /// The wire dtype for gradients of parameters of `dtypes`: f32 when there is at least one
    /// and all are f32, f64 otherwise.
    ///
    /// ```
    /// use gradus_dist::WireDtype;
    /// use gradus_tensor::DType;
    /// assert_eq!(WireDtype::for_dtypes([DType::F32, DType::F32]), WireDtype::F32);
    /// assert_eq!(WireDtype::for_dtypes([DType::F32, DType::F64]), WireDtype::F64);
    /// ```
    pub fn for_dtypes(dtypes: impl IntoIterator<Item = DType>) -> WireDtype {
        let mut any = false;
        for d in dtypes {
            if d != DType::F32 {
                return WireDtype::F64;
            }
            any = true;
        }
        if any {
            WireDtype::F32
        } else {
            WireDtype::F64
        }
    }
}

/// How an all-reduce orders its sum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReduceOrder {
    /// Add every value in rank order, in f64, and round it once to the wire dtype (a
    /// reduce-scatter by all-to-all, then an all-gather; see the module docs): the same bits on
    /// every rank and in every run, whatever the transport's algorithm, for the bytes of a ring
    /// all-reduce.
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

    /// As [`Communicator::all_reduce_sum`] in f32 (sums rounded to f32 as the transport adds).
    ///
    /// # Errors
    /// As [`Communicator::all_reduce_sum`].
    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> Result<()>;

    /// As [`Communicator::all_gather`] in f32.
    ///
    /// # Errors
    /// As [`Communicator::all_gather`].
    fn all_gather_f32(&self, send: &[f32], recv: &mut [f32]) -> Result<()>;

    /// Cuts `send` into `size()` equal chunks and sends chunk k to rank k; fills `recv` (as long
    /// as `send`) with chunk `rank()` of every rank, rank-major (MPI_Alltoall).
    ///
    /// # Errors
    /// `send` and `recv` differ in length or are not a multiple of `size()` long, or the
    /// transport fails.
    fn all_to_all(&self, send: &[f64], recv: &mut [f64]) -> Result<()>;

    /// As [`Communicator::all_to_all`] in f32.
    ///
    /// # Errors
    /// As [`Communicator::all_to_all`].
    fn all_to_all_f32(&self, send: &[f32], recv: &mut [f32]) -> Result<()>;

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
    /// use gradus_dist::{Communicator, ReduceOrder, SingleProcess, WireDtype};
    /// let mut buckets = vec![vec![0.0; 2], vec![0.0; 1]];
    /// let (order, wire) = (ReduceOrder::Fixed, WireDtype::F64);
    /// SingleProcess.all_reduce_overlapped(&mut buckets, order, wire, &mut |l| {
    ///     l.buffer(0)?.copy_from_slice(&[1.0, 2.0]);
    ///     l.start_next() // bucket 0 is full: start it; bucket 1 starts when work returns
    /// }).unwrap();
    /// assert_eq!(buckets, vec![vec![1.0, 2.0], vec![0.0]]);
    /// ```
    fn all_reduce_overlapped(
        &self,
        buffers: &mut [Vec<f64>],
        order: ReduceOrder,
        wire: WireDtype,
        work: &mut dyn FnMut(&mut dyn BucketLauncher) -> Result<()>,
    ) -> Result<()> {
        run_blocking(buffers, &|b| self.reduce_sum_wire(b, order, wire), work)
    }

    /// Sums `buf` over the ranks in `order` (see [`ReduceOrder`]), as f64 on the wire.
    ///
    /// # Errors
    /// As [`Communicator::all_reduce_sum`], [`Communicator::all_to_all`] and
    /// [`Communicator::all_gather`].
    ///
    /// ```
    /// use gradus_dist::{Communicator, ReduceOrder, SingleProcess};
    /// let mut v = vec![1.5, -2.0];
    /// SingleProcess.reduce_sum(&mut v, ReduceOrder::Fixed).unwrap();
    /// assert_eq!(v, vec![1.5, -2.0]);
    /// ```
    fn reduce_sum(&self, buf: &mut [f64], order: ReduceOrder) -> Result<()> {
        self.reduce_sum_wire(buf, order, WireDtype::F64)
    }

    /// Sums `buf` over the ranks in `order`, its values sent as `wire` (rounded to f32 for
    /// [`WireDtype::F32`]; the sums come back as f64 holding f32 values). One rank: `buf` is
    /// left as it is.
    ///
    /// # Errors
    /// As [`Communicator::reduce_sum`].
    fn reduce_sum_wire(&self, buf: &mut [f64], order: ReduceOrder, wire: WireDtype) -> Result<()> {
        if self.size() == 1 || buf.is_empty() {
            return Ok(());
        }
        match (order, wire) {
            (ReduceOrder::Transport, WireDtype::F64) => self.all_reduce_sum(buf),
            (ReduceOrder::Transport, WireDtype::F32) => {
                let mut w: Vec<f32> = buf.iter().map(|&v| v as f32).collect();
                self.all_reduce_sum_f32(&mut w)?;
                unload(&w, buf);
                Ok(())
            }
            (ReduceOrder::Fixed, WireDtype::F64) => fixed_sum::<f64>(self, buf),
            (ReduceOrder::Fixed, WireDtype::F32) => fixed_sum::<f32>(self, buf),
        }
    }
}

/// A value type on the wire (f32 or f64), with its collectives.
pub(crate) trait WireValue: Copy + Default + Send + Sync + 'static {
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn all_to_all(
        comm: &(impl Communicator + ?Sized),
        send: &[Self],
        recv: &mut [Self],
    ) -> Result<()>;
    fn all_gather(
        comm: &(impl Communicator + ?Sized),
        send: &[Self],
        recv: &mut [Self],
    ) -> Result<()>;
}

impl WireValue for f64 {
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn all_to_all(
        comm: &(impl Communicator + ?Sized),
        send: &[Self],
        recv: &mut [Self],
    ) -> Result<()> {
        comm.all_to_all(send, recv)
    }
    fn all_gather(
        comm: &(impl Communicator + ?Sized),
        send: &[Self],
        recv: &mut [Self],
    ) -> Result<()> {
        comm.all_gather(send, recv)
    }
}

impl WireValue for f32 {
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn all_to_all(
        comm: &(impl Communicator + ?Sized),
        send: &[Self],
        recv: &mut [Self],
    ) -> Result<()> {
        comm.all_to_all_f32(send, recv)
    }
    fn all_gather(
        comm: &(impl Communicator + ?Sized),
        send: &[Self],
        recv: &mut [Self],
    ) -> Result<()> {
        comm.all_gather_f32(send, recv)
    }
}

/// Values per chunk of a [`ReduceOrder::Fixed`] sum of `len` values over `ranks` ranks.
pub(crate) fn chunk_len(len: usize, ranks: usize) -> usize {
    len.div_ceil(ranks)
}

/// `buf` in the wire type, padded with zeros to `ranks` chunks of [`chunk_len`].
pub(crate) fn padded<T: WireValue>(buf: &[f64], ranks: usize) -> Vec<T> {
    let mut out = vec![T::default(); chunk_len(buf.len(), ranks) * ranks];
    for (o, &v) in out.iter_mut().zip(buf) {
        *o = T::from_f64(v);
    }
    out
}

/// This rank's chunk of the sum from an all-to-all's `recv` (chunk r of every rank, rank-major):
/// each value added in rank order in f64 from rank 0's, rounded once to `T`.
pub(crate) fn sum_chunks<T: WireValue>(recv: &[T], ranks: usize, out: &mut [T]) {
    let c = out.len();
    for (i, o) in out.iter_mut().enumerate() {
        let mut s = recv[i].to_f64();
        for k in 1..ranks {
            s += recv[k * c + i].to_f64();
        }
        *o = T::from_f64(s);
    }
}

/// Copies wire values back into `buf` (the first `buf.len()` of them).
pub(crate) fn unload<T: WireValue>(wire: &[T], buf: &mut [f64]) {
    for (b, &v) in buf.iter_mut().zip(wire) {
        *b = v.to_f64();
    }
}

/// [`ReduceOrder::Fixed`]'s sum in `T` over blocking collectives (see the module docs).
fn fixed_sum<T: WireValue>(comm: &(impl Communicator + ?Sized), buf: &mut [f64]) -> Result<()> {
    let ranks = comm.size();
    let send = padded::<T>(buf, ranks);
    let mut recv = vec![T::default(); send.len()];
    T::all_to_all(comm, &send, &mut recv)?;
    let mut mine = vec![T::default(); send.len() / ranks];
    sum_chunks(&recv, ranks, &mut mine);
    T::all_gather(comm, &mine, &mut recv)?;
    unload(&recv, buf);
    Ok(())
}

/// Checks the buffers of an all-to-all.
pub(crate) fn check_all_to_all(send: usize, recv: usize, size: usize) -> Result<()> {
    if send != recv || !send.is_multiple_of(size) {
        return Err(DistError::Invalid(format!(
            "all_to_all: {send} values sent and {recv} received over {size} ranks; both must be \
             the same multiple of {size}"
        )));
    }
    Ok(())
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
    fn all_reduce_sum_f32(&self, _buf: &mut [f32]) -> Result<()> {
        Ok(())
    }
    fn all_gather_f32(&self, send: &[f32], recv: &mut [f32]) -> Result<()> {
        check_gather(send.len(), recv.len(), 1)?;
        recv.copy_from_slice(send);
        Ok(())
    }
    fn all_to_all(&self, send: &[f64], recv: &mut [f64]) -> Result<()> {
        check_all_to_all(send.len(), recv.len(), 1)?;
        recv.copy_from_slice(send);
        Ok(())
    }
    fn all_to_all_f32(&self, send: &[f32], recv: &mut [f32]) -> Result<()> {
        check_all_to_all(send.len(), recv.len(), 1)?;
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
