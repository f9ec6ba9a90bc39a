//! The gradient all-reduce overlapped with the backward pass, as PyTorch DDP's `Reducer` does
//! it: a hook on the backward pass ([`Tensor::backward_with_hook`]) copies each parameter's
//! gradient into its bucket's flat buffer as soon as it is final; a bucket whose gradients are
//! all in starts its all-reduce (a non-blocking one over MPI) while backward goes on with the
//! earlier layers. Buckets start in order ([`crate::overlap`]), so a bucket ready early waits for
//! the buckets before it; a bucket holding a parameter that no gradient reaches starts after
//! backward.
//!
//! Each gradient is read in place and written, times the rank's weight, into its bucket's flat
//! f64 buffer; a bucket travels as [`WireDtype::for_params`] (f32 for an all-f32 model),
//! converted when it starts and back when it completes. After the all-reduce the means are
//! written once per bucket into a buffer in the parameters' dtype, and each `.grad` is a view
//! of it ([`crate::grad_buffer`]).

use crate::bucket::{plan_buckets, GradientReducer};
use crate::communicator::{Communicator, WireDtype};
use crate::error::{DistError, Result};
use crate::grad_buffer::{set_bucket_mean, write_scaled};
use gradus_nn::Param;
use gradus_tensor::{Tensor, TensorError, TensorId};
use std::collections::HashMap;

/// The outcome of [`GradientReducer::backward_all_reduce_sum`]: the buckets' sums over the
/// ranks, waiting to be divided by the total weight and written to the gradients.
#[derive(Debug)]
pub struct OverlappedSums {
    /// Parameter indices of each bucket.
    buckets: Vec<Vec<usize>>,
    /// Each bucket's flat sums: the weighted gradients, then one presence count per parameter.
    flats: Vec<Vec<f64>>,
    /// The buckets' dtype on the wire.
    wire: WireDtype,
    /// This rank's gradient sum of squares per parameter (before the all-reduce; 0 where none).
    own_squares: Vec<f64>,
    /// What backward returned.
    backward: gradus_tensor::Result<()>,
}

impl OverlappedSums {
    /// What the backward pass returned (the all-reduces ran either way).
    pub fn backward(&self) -> &gradus_tensor::Result<()> {
        &self.backward
    }

    /// This rank's gradient squared norm before the all-reduce, added in parameter order.
    pub fn own_squared_norm(&self) -> f64 {
        self.own_squares.iter().sum()
    }

    /// Bytes all-reduced: the buckets' values times the wire dtype's bytes (a ring all-reduce
    /// sends 2(N-1)/N of them from each rank).
    pub fn bytes(&self) -> usize {
        self.flats.iter().map(|f| f.len() * self.wire.bytes()).sum()
    }

    /// The buckets' dtype on the wire.
    pub fn wire(&self) -> WireDtype {
        self.wire
    }

    /// Writes `sum / total_weight` to every parameter's gradient (none where no rank had one),
    /// as [`GradientReducer::all_reduce_mean`] does: the gradients of a bucket (of one dtype)
    /// are views of one buffer ([`crate::grad_buffer`]).
    ///
    /// # Errors
    /// A gradient cannot be made in its parameter's shape and dtype.
    pub fn write_mean(&self, params: &[(String, Param)], total_weight: f64) -> Result<()> {
        for (bucket, flat) in self.buckets.iter().zip(&self.flats) {
            set_bucket_mean(params, bucket, flat, total_weight)?;
        }
        Ok(())
    }
}

/// Where a parameter's gradient goes: its bucket, offset, and presence slot.
#[derive(Clone, Copy)]
struct Place {
    bucket: usize,
    at: usize,
    presence: usize,
}

impl GradientReducer {
    /// Runs `root.backward()` with the all-reduce of the gradients overlapped (see the module
    /// docs): each parameter's gradient, times `weight` (this rank's samples), is summed over
    /// the ranks in buckets of `bucket_cap_mb`, in reverse parameter order. The gradients are
    /// left as this rank's; [`OverlappedSums::write_mean`] writes the mean once the total weight
    /// is known. Every rank runs the same collectives even when its backward fails.
    ///
    /// # Errors
    /// The transport fails. (A failed backward is in [`OverlappedSums::backward`].)
    pub fn backward_all_reduce_sum(
        &self,
        comm: &dyn Communicator,
        params: &[(String, Param)],
        weight: f64,
        root: &Tensor,
    ) -> Result<OverlappedSums> {
        let numels: Vec<usize> = params.iter().map(|(_, p)| p.tensor().numel()).collect();
        let wire = WireDtype::for_params(params);
        let buckets = plan_buckets(&numels, (self.bucket_cap_mb * 1e6) as usize, wire);
        let mut places = vec![None; params.len()];
        let mut flats = Vec::with_capacity(buckets.len());
        for (b, bucket) in buckets.iter().enumerate() {
            let values: usize = bucket.iter().map(|&i| numels[i]).sum();
            let mut at = 0;
            for (k, &i) in bucket.iter().enumerate() {
                places[i] = Some(Place {
                    bucket: b,
                    at,
                    presence: values + k,
                });
                at += numels[i];
            }
            flats.push(vec![0.0; values + bucket.len()]);
        }
        let mut owners: HashMap<TensorId, Vec<usize>> = HashMap::new();
        for (i, (_, p)) in params.iter().enumerate() {
            owners.entry(p.tensor().id()).or_default().push(i);
        }
        let mut left: Vec<usize> = buckets.iter().map(Vec::len).collect();
        let mut own_squares = vec![0.0; params.len()];
        let mut failure: Option<DistError> = None;
        let mut backward = Ok(());
        comm.all_reduce_overlapped(&mut flats, self.order, wire, &mut |launcher| {
            backward = root.backward_with_hook(|leaf| {
                let Some(owned) = owners.get(&leaf.id()) else {
                    return Ok(()); // a leaf that is not a parameter (an input)
                };
                let g = leaf.grad();
                let mut fill = || -> Result<()> {
                    for &i in owned {
                        let Some(place) = places[i] else { continue };
                        let buf = launcher.buffer(place.bucket)?;
                        if let Some(g) = &g {
                            let region = &mut buf[place.at..place.at + numels[i]];
                            own_squares[i] = write_scaled(g, weight, region)?;
                        }
                        buf[place.presence] = 1.0;
                        left[place.bucket] -= 1;
                    }
                    while launcher.started() < launcher.buckets() && left[launcher.started()] == 0 {
                        launcher.start_next()?;
                    }
                    Ok(())
                };
                fill().map_err(|e| {
                    let message = e.to_string();
                    failure = Some(e);
                    TensorError::Autodiff(format!("gradient all-reduce: {message}"))
                })
            });
            Ok(())
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(OverlappedSums {
            buckets,
            flats,
            wire,
            own_squares,
            backward,
        })
    }
}
