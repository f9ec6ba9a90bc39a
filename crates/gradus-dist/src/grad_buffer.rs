//! The flat gradient buffer: after a bucket's all-reduce, its mean gradients are written once
//! into one buffer in the parameters' dtype, and each parameter's `.grad` is a view of its
//! region (PyTorch DDP's `gradient_as_bucket_view=True`), not a tensor of its own. On the way
//! in, each gradient is read in place (borrowed, not copied to a vector) and written, times the
//! rank's weight, straight into its bucket.
//!
//! Per step this makes one allocation per bucket (and dtype) instead of two per parameter (a
//! vector of means, then its conversion to the parameter's dtype), with the same bits: each mean
//! is `sum / total_weight` in f64, rounded once to the parameter's dtype, as before.
//!
//! What stays a copy, and why: backward gives each gradient in a fresh tensor (gradus adds a
//! leaf's contributions into a new total, never in place into an existing `.grad`), so the hook
//! copies it into the bucket, as DDP's `Reducer` copies a gradient into its bucket view when the
//! gradient was set to `None` by `zero_grad`. The bucket itself is an f64 staging buffer that
//! the transport converts to the wire dtype when it starts; see the design notes in
//! `docs/distributed.md` for what making the wire buffer the gradients' storage would take.

use crate::error::Result;
use gradus_nn::Param;
use gradus_tensor::{DType, Tensor};

/// Runs `f` on `t`'s values as f64, read in place: a contiguous tensor's values are borrowed,
/// not copied into a vector first.
///
/// # Errors
/// The values cannot be read (a dtype gradus cannot read as f64).
pub(crate) fn with_values_f64<R>(
    t: &Tensor,
    f: impl FnOnce(&mut dyn Iterator<Item = f64>) -> R,
) -> Result<R> {
    Ok(match t.dtype() {
        DType::F32 => t.with_data(|v: &[f32]| f(&mut v.iter().map(|&x| f64::from(x))))?,
        DType::F64 => t.with_data(|v: &[f64]| f(&mut v.iter().copied()))?,
        _ => f(&mut t.to_vec_f64().into_iter()),
    })
}

/// Writes `weight * g` into `dst`, `g` read in place, and returns `g`'s sum of squares (added
/// in order).
///
/// # Errors
/// As [`with_values_f64`], or `dst` is not as long as `g` (a gradient whose shape is not its
/// parameter's).
pub(crate) fn write_scaled(g: &Tensor, weight: f64, dst: &mut [f64]) -> Result<f64> {
    if dst.len() != g.numel() {
        return Err(crate::DistError::Invalid(format!(
            "a gradient of shape {:?} ({} values) for a parameter of {} values",
            g.shape(),
            g.numel(),
            dst.len()
        )));
    }
    with_values_f64(g, |values| {
        let mut squares = 0.0;
        for (d, v) in dst.iter_mut().zip(values) {
            squares += v * v;
            *d = v * weight;
        }
        squares
    })
}

/// Sets the gradients of the parameters `bucket` (indices into `params`) from a reduced bucket:
/// `flat` holds their summed values in bucket order, then one presence count per parameter.
/// Parameter `i` gets `flat[its region] / total_weight` where its count is above 0 and keeps
/// no gradient otherwise. The present gradients of each dtype share one new buffer, each a view
/// of its region in bucket order.
///
/// # Errors
/// `flat` does not match the bucket's parameters, or a view cannot be made.
pub(crate) fn set_bucket_mean(
    params: &[(String, Param)],
    bucket: &[usize],
    flat: &[f64],
    total_weight: f64,
) -> Result<()> {
    let values: usize = bucket.iter().map(|&i| params[i].1.tensor().numel()).sum();
    if flat.len() != values + bucket.len() {
        return Err(crate::DistError::Invalid(format!(
            "a bucket of {} parameters ({values} values) reduced into {} values; expected {}",
            bucket.len(),
            flat.len(),
            values + bucket.len()
        )));
    }
    // (parameter, its offset in `flat`) of the present gradients, in bucket order
    let mut present = Vec::with_capacity(bucket.len());
    let mut at = 0;
    for (k, &i) in bucket.iter().enumerate() {
        if flat[values + k] > 0.0 {
            present.push((i, at));
        }
        at += params[i].1.tensor().numel();
    }
    let mut dtypes: Vec<DType> = Vec::new();
    for &(i, _) in &present {
        let d = params[i].1.tensor().dtype();
        if !dtypes.contains(&d) {
            dtypes.push(d);
        }
    }
    for dtype in dtypes {
        let members: Vec<(usize, usize)> = present
            .iter()
            .copied()
            .filter(|&(i, _)| params[i].1.tensor().dtype() == dtype)
            .collect();
        let means = members.iter().flat_map(|&(i, at)| {
            let n = params[i].1.tensor().numel();
            flat[at..at + n].iter().map(|v| v / total_weight)
        });
        let buffer = buffer_of(means, dtype)?;
        let mut offset = 0;
        for (i, _) in members {
            let t = params[i].1.tensor();
            let n = t.numel();
            let view = buffer.narrow(0, offset, n)?.reshape(t.shape())?;
            t.set_grad(Some(view));
            offset += n;
        }
    }
    Ok(())
}

/// A flat tensor of `dtype` holding `values`, each rounded once from f64.
fn buffer_of(values: impl Iterator<Item = f64>, dtype: DType) -> Result<Tensor> {
    Ok(match dtype {
        DType::F32 => {
            let v: Vec<f32> = values.map(|x| x as f32).collect();
            let n = v.len();
            Tensor::from_vec(v, &[n])?
        }
        _ => {
            let v: Vec<f64> = values.collect();
            let n = v.len();
            Tensor::from_vec(v, &[n])?.to_dtype(dtype)?
        }
    })
}
