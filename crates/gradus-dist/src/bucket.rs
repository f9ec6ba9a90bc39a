//! Gradient buckets, as PyTorch DDP's `Reducer` cuts them (`bucket_cap_mb`, default 25): the
//! parameters in reverse order (the order backward finishes their gradients), packed into flat
//! buffers of at most the cap, one all-reduce per bucket.
//!
//! A bucket is one flat f64 buffer: each parameter's gradient scaled by the rank's weight (its
//! samples), then one presence value per parameter (1 where the rank has a gradient), so that a
//! parameter no rank's loss reached keeps no gradient, as in one process. After the all-reduce
//! the bucket's mean gradients are views of one buffer in their dtype ([`crate::grad_buffer`]).
//!
//! On the wire a bucket travels in the gradients' dtype, as DDP's does: f32 when every
//! parameter is f32 ([`WireDtype::for_params`]), f64 otherwise; the cap counts wire bytes.

use crate::communicator::{Communicator, ReduceOrder, WireDtype};
use crate::error::{DistError, Result};
use crate::grad_buffer::{set_bucket_mean, write_scaled};
use gradus_nn::Param;
use gradus_tensor::Tensor;

/// PyTorch DDP's default `bucket_cap_mb`.
pub const DEFAULT_BUCKET_CAP_MB: f64 = 25.0;

impl WireDtype {
    /// The wire dtype of `params`' gradients: f32 when every parameter is f32, f64 otherwise.
    pub fn for_params(params: &[(String, Param)]) -> WireDtype {
        WireDtype::for_dtypes(params.iter().map(|(_, p)| p.tensor().dtype()))
    }
}

/// Cuts parameters of `numels` elements (in model order) into buckets of at most `cap_bytes`
/// on the wire (values of `wire`), in reverse model order; a parameter larger than the cap gets
/// a bucket of its own. Returns indices into `numels`.
///
/// ```
/// use gradus_dist::{bucket::plan_buckets, WireDtype};
/// // 8-byte values, one presence value per parameter: a 64-byte cap holds 2 + 1 and 3 + 1
/// // values, or 3 + 1 twice; the 20-value parameter is over the cap and alone
/// let f64_plan = plan_buckets(&[3, 3, 20, 2], 64, WireDtype::F64);
/// assert_eq!(f64_plan, vec![vec![3], vec![2], vec![1, 0]]);
/// // 4-byte values: 16 fit in 64 bytes, so three small parameters share one bucket
/// assert_eq!(plan_buckets(&[3, 3, 2], 64, WireDtype::F64), vec![vec![2, 1], vec![0]]);
/// assert_eq!(plan_buckets(&[3, 3, 2], 64, WireDtype::F32), vec![vec![2, 1, 0]]);
/// ```
pub fn plan_buckets(numels: &[usize], cap_bytes: usize, wire: WireDtype) -> Vec<Vec<usize>> {
    let mut buckets: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut bytes = 0;
    for i in (0..numels.len()).rev() {
        let b = (numels[i] + 1) * wire.bytes();
        if !current.is_empty() && bytes + b > cap_bytes {
            buckets.push(std::mem::take(&mut current));
            bytes = 0;
        }
        current.push(i);
        bytes += b;
    }
    if !current.is_empty() {
        buckets.push(current);
    }
    buckets
}

/// Averages gradients over the ranks of a [`Communicator`] in buckets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradientReducer {
    /// Largest bucket, in MB (10^6 bytes) on the wire.
    pub bucket_cap_mb: f64,
    /// Summation order of each bucket's all-reduce.
    pub order: ReduceOrder,
    /// Whether the all-reduces overlap the backward pass
    /// ([`GradientReducer::backward_all_reduce_sum`]) rather than follow it
    /// ([`GradientReducer::all_reduce_mean`]); both give the same sums.
    pub overlap: bool,
}

impl Default for GradientReducer {
    fn default() -> Self {
        GradientReducer {
            bucket_cap_mb: DEFAULT_BUCKET_CAP_MB,
            order: ReduceOrder::Fixed,
            overlap: true,
        }
    }
}

impl GradientReducer {
    /// A reducer with buckets of `bucket_cap_mb` and the summation `order`.
    ///
    /// # Errors
    /// `bucket_cap_mb` is not a positive finite number.
    pub fn new(bucket_cap_mb: f64, order: ReduceOrder) -> Result<GradientReducer> {
        if !(bucket_cap_mb.is_finite() && bucket_cap_mb > 0.0) {
            return Err(DistError::Invalid(format!(
                "bucket_cap_mb = {bucket_cap_mb}: must be a positive number of megabytes"
            )));
        }
        Ok(GradientReducer {
            bucket_cap_mb,
            order,
            overlap: true,
        })
    }

    /// This reducer, overlapping the all-reduces with backward or not (the default: overlap).
    pub fn with_overlap(self, overlap: bool) -> GradientReducer {
        GradientReducer { overlap, ..self }
    }

    /// Replaces every gradient with the weighted mean over the ranks,
    /// `sum_r weight_r * grad_r / total_weight` (a rank's weight: its samples in the step, so the
    /// mean is the gradient of the global batch's mean loss). A missing gradient counts as zero;
    /// a parameter without a gradient on every rank keeps none. The buckets travel as
    /// [`WireDtype::for_params`]; the gradients of a bucket (of one dtype) come back as views of
    /// one buffer ([`crate::grad_buffer`]). Returns the bytes all-reduced (the buckets' values
    /// times the wire dtype's bytes).
    ///
    /// # Errors
    /// The transport fails, or a gradient's shape does not match its parameter.
    pub fn all_reduce_mean(
        &self,
        comm: &dyn Communicator,
        params: &[(String, Param)],
        weight: f64,
        total_weight: f64,
    ) -> Result<usize> {
        let numels: Vec<usize> = params.iter().map(|(_, p)| p.tensor().numel()).collect();
        let cap = (self.bucket_cap_mb * 1e6) as usize;
        let wire = WireDtype::for_params(params);
        let mut sent = 0;
        for bucket in plan_buckets(&numels, cap, wire) {
            let mut flat = Vec::with_capacity(bucket.iter().map(|&i| numels[i] + 1).sum());
            for &i in &bucket {
                let at = flat.len();
                flat.resize(at + numels[i], 0.0);
                if let Some(g) = params[i].1.tensor().grad() {
                    write_scaled(&g, weight, &mut flat[at..])?;
                }
            }
            for &i in &bucket {
                let present = params[i].1.tensor().grad().is_some();
                flat.push(if present { 1.0 } else { 0.0 });
            }
            sent += flat.len() * wire.bytes();
            comm.reduce_sum_wire(&mut flat, self.order, wire)?;
            set_bucket_mean(params, &bucket, &flat, total_weight)?;
        }
        Ok(sent)
    }
}

/// All parameters' values as one flat f64 vector, in order.
pub fn flatten_params(params: &[(String, Param)]) -> Vec<f64> {
    params
        .iter()
        .flat_map(|(_, p)| p.tensor().to_vec_f64())
        .collect()
}

/// Copies `flat` (as [`flatten_params`] lays it out) into the parameters, in place.
///
/// # Errors
/// `flat` has the wrong length.
pub fn load_flat_params(params: &[(String, Param)], flat: &[f64]) -> Result<()> {
    let total: usize = params.iter().map(|(_, p)| p.tensor().numel()).sum();
    if flat.len() != total {
        return Err(DistError::Invalid(format!(
            "{} values for parameters of {total} values",
            flat.len()
        )));
    }
    let mut at = 0;
    for (_, p) in params {
        let t = p.tensor();
        let n = t.numel();
        let v = Tensor::from_vec(flat[at..at + n].to_vec(), t.shape())?.to_dtype(t.dtype())?;
        t.copy_from(&v)?;
        at += n;
    }
    Ok(())
}

/// Checks that every rank holds rank 0's parameters bit for bit (one broadcast).
///
/// # Errors
/// [`DistError::OutOfSync`] naming the first parameter that differs, or a transport error.
pub fn check_in_sync(comm: &dyn Communicator, params: &[(String, Param)]) -> Result<()> {
    let mine = flatten_params(params);
    let mut root = mine.clone();
    comm.broadcast(&mut root, 0)?;
    let Some(at) = (0..mine.len()).find(|&i| mine[i].to_bits() != root[i].to_bits()) else {
        return Ok(());
    };
    let mut start = 0;
    for (name, p) in params {
        let n = p.tensor().numel();
        if at < start + n {
            return Err(DistError::OutOfSync {
                rank: comm.rank(),
                detail: format!(
                    "{name}[{}] is {} here, {} on rank 0",
                    at - start,
                    mine[at],
                    root[at]
                ),
            });
        }
        start += n;
    }
    Err(DistError::OutOfSync {
        rank: comm.rank(),
        detail: format!("value {at} is {} here, {} on rank 0", mine[at], root[at]),
    })
}
