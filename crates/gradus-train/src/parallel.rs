//! Data parallelism: one model trained by the N ranks of a [`Communicator`] (MPI processes, or
//! threads in tests), as PyTorch's `DistributedDataParallel` trains it.
//!
//! - At the start, rank 0's parameters are broadcast to every rank.
//! - Every rank cuts the same global batches (the order is a function of seed and epoch only)
//!   and trains on its shard of each: samples `rank, rank + N, rank + 2N, ...` of the batch, as
//!   `DistributedSampler` strides an epoch.
//! - The gradients are averaged in buckets ([`GradientReducer`]), weighted by each rank's
//!   samples, each bucket's all-reduce started by a hook on the backward pass as soon as its
//!   gradients are final (overlapped with the rest of backward, as DDP does; or after backward), so the step uses the gradient of the global batch's mean loss: N ranks
//!   reach one process's parameters up to floating-point summation order. The loss recorded is
//!   the global batch's mean too.
//! - Only rank 0 writes the run directory; the others read its checkpoint to resume (with any
//!   number of ranks: the state is the same on every rank).
//! - At the end every rank checks that it holds rank 0's parameters bit for bit.
//!
//! Batch norm keeps per-rank batch statistics (as DDP without `SyncBatchNorm`), so a model with
//! batch norm does not match one process exactly.

use crate::error::Result;
use crate::noise_scale::NoiseSample;
use gradus_dist::bucket::{check_in_sync, flatten_params, load_flat_params};
use gradus_dist::{Communicator, GradientReducer};
use gradus_nn::Param;
use gradus_tensor::Tensor;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The data-parallel seam of the trainer: set
/// [`TrainOptions::parallel`](crate::TrainOptions::parallel) on every rank.
#[derive(Clone)]
pub struct DataParallel {
    comm: Arc<dyn Communicator>,
    reducer: GradientReducer,
    /// Bytes this rank sent into the last step's all-reduces.
    bytes: Arc<AtomicUsize>,
}

/// What [`DataParallel::all_reduce_step`] returns.
#[derive(Clone, Debug)]
pub struct ReducedStep {
    /// The global batch's mean loss, a scalar f64 tensor.
    pub loss: Tensor,
    /// Samples in the global batch.
    pub samples: usize,
    /// The ranks' gradients against the global one, for the gradient noise scale (none on one
    /// rank).
    pub noise: Option<NoiseSample>,
}

/// One rank's share of a global batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Sample indices to run forward on.
    pub indices: Vec<usize>,
    /// Samples that count (0 when the global batch has fewer samples than ranks and this rank
    /// runs one sample only to take part in the collectives).
    pub weight: usize,
}

impl DataParallel {
    /// Data parallelism over `comm`, averaging gradients with `reducer`.
    pub fn new(comm: Arc<dyn Communicator>, reducer: GradientReducer) -> DataParallel {
        DataParallel {
            comm,
            reducer,
            bytes: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// This rank.
    pub fn rank(&self) -> usize {
        self.comm.rank()
    }

    /// Ranks.
    pub fn size(&self) -> usize {
        self.comm.size()
    }

    /// The communicator.
    pub fn communicator(&self) -> &dyn Communicator {
        self.comm.as_ref()
    }

    /// Whether this rank writes the run directory (rank 0).
    pub fn is_writer(&self) -> bool {
        self.rank() == 0
    }

    /// Bytes this rank sent into the all-reduces of the last step.
    pub fn bytes_per_step(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// This rank's samples of the global `batch`: every N-th, from its rank. A rank left without
    /// a sample (a batch smaller than N) runs the batch's first sample with weight 0.
    ///
    /// ```
    /// use gradus_dist::{GradientReducer, LocalGroup};
    /// use gradus_train::parallel::DataParallel;
    /// let ranks: Vec<DataParallel> = LocalGroup::new(3).into_iter()
    ///     .map(|c| DataParallel::new(std::sync::Arc::new(c), GradientReducer::default()))
    ///     .collect();
    /// assert_eq!(ranks[1].shard(&[10, 11, 12, 13, 14]).indices, vec![11, 14]);
    /// let empty = ranks[2].shard(&[10, 11]);
    /// assert_eq!((empty.indices, empty.weight), (vec![10], 0));
    /// ```
    pub fn shard(&self, batch: &[usize]) -> Shard {
        let indices: Vec<usize> = batch
            .iter()
            .skip(self.rank())
            .step_by(self.size())
            .copied()
            .collect();
        match indices.len() {
            0 => Shard {
                indices: batch.iter().take(1).copied().collect(),
                weight: 0,
            },
            n => Shard { indices, weight: n },
        }
    }

    /// Replaces every rank's parameters with rank 0's.
    ///
    /// # Errors
    /// The transport fails.
    pub fn broadcast_params(&self, params: &[(String, Param)]) -> Result<()> {
        let mut flat = flatten_params(params);
        self.comm.broadcast(&mut flat, 0)?;
        Ok(load_flat_params(params, &flat)?)
    }

    /// Whether [`DataParallel::backward_all_reduce_step`] overlaps the all-reduce with
    /// backward (the reducer's setting).
    pub fn overlaps(&self) -> bool {
        self.reducer.overlap
    }

    /// After backward: averages the gradients over the ranks (weighted by `weight`, this rank's
    /// samples) and returns the global batch's mean loss and samples, with the squared norms of
    /// the ranks' gradients and of the averaged one (the gradient noise scale's measurements).
    ///
    /// # Errors
    /// The transport fails, or the loss cannot be read.
    pub fn all_reduce_step(
        &self,
        params: &[(String, Param)],
        weight: usize,
        loss: &Tensor,
    ) -> Result<ReducedStep> {
        let own_sq = crate::step::host_grads(params).iter().map(|g| g * g).sum();
        self.finish_step(params, weight, loss, own_sq, |total| {
            Ok(self
                .reducer
                .all_reduce_mean(self.comm.as_ref(), params, weight as f64, total)?)
        })
    }

    /// Backward from `root` (the loss, or the loss scaled for f16) with the gradient all-reduce
    /// overlapped ([`GradientReducer::backward_all_reduce_sum`]), then as
    /// [`DataParallel::all_reduce_step`]: the same averaged gradients and records. Returns what
    /// backward returned, and the reduced step when it succeeded.
    ///
    /// # Errors
    /// The transport fails, or the loss cannot be read.
    pub fn backward_all_reduce_step(
        &self,
        params: &[(String, Param)],
        weight: usize,
        loss: &Tensor,
        root: &Tensor,
    ) -> Result<(gradus_tensor::Result<()>, Option<ReducedStep>)> {
        let sums = self.reducer.backward_all_reduce_sum(
            self.comm.as_ref(),
            params,
            weight as f64,
            root,
        )?;
        if let Err(e) = sums.backward() {
            return Ok((Err(e.clone()), None));
        }
        let reduced = self.finish_step(params, weight, loss, sums.own_squared_norm(), |total| {
            sums.write_mean(params, total)?;
            Ok(sums.bytes())
        })?;
        Ok((Ok(()), Some(reduced)))
    }

    /// The all-reduce of the step's loss, samples and gradient norm, then `reduce_grads(total
    /// weight)` (which returns the bytes it sent), then the noise measurements.
    fn finish_step(
        &self,
        params: &[(String, Param)],
        weight: usize,
        loss: &Tensor,
        own_sq: f64,
        reduce_grads: impl FnOnce(f64) -> Result<usize>,
    ) -> Result<ReducedStep> {
        let w = weight as f64;
        let local_loss = if weight > 0 { loss.item()? * w } else { 0.0 };
        let (local_sq, counted) = match weight {
            0 => (0.0, 0.0),
            _ => (own_sq, 1.0),
        };
        let mut head = [w, local_loss, local_sq, counted];
        self.comm.reduce_sum(&mut head, self.reducer.order)?;
        let total = head[0];
        let sent = reduce_grads(total)?;
        self.bytes.store(sent + 32, Ordering::Relaxed);
        let ranks = head[3];
        let noise = (ranks > 1.0).then(|| NoiseSample {
            small_sq: head[2] / ranks,
            b_small: total / ranks,
            big_sq: crate::step::host_grads(params).iter().map(|g| g * g).sum(),
            b_big: total,
        });
        Ok(ReducedStep {
            loss: Tensor::from_vec(vec![head[1] / total], &[])?,
            samples: total as usize,
            noise,
        })
    }

    /// Whether any rank has `flag` set (all ranks get the same answer), so that every rank stops
    /// at the same step when one is interrupted.
    ///
    /// # Errors
    /// The transport fails.
    pub fn any(&self, flag: bool) -> Result<bool> {
        let mut v = [if flag { 1.0 } else { 0.0 }];
        self.comm.all_reduce_sum(&mut v)?;
        Ok(v[0] > 0.0)
    }

    /// Checks that every rank holds rank 0's parameters bit for bit.
    ///
    /// # Errors
    /// [`gradus_dist::DistError::OutOfSync`] naming the parameter, or a transport error.
    pub fn check_in_sync(&self, params: &[(String, Param)]) -> Result<()> {
        Ok(check_in_sync(self.comm.as_ref(), params)?)
    }
}

impl fmt::Debug for DataParallel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DataParallel(rank {} of {} over {}, {:?})",
            self.rank(),
            self.size(),
            self.comm.transport(),
            self.reducer
        )
    }
}
