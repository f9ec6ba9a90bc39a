//! Classification losses on class indices: cross-entropy, NLL; and KL divergence.

use super::{reduce, Reduction};
use gradus_tensor::{Result, Tensor, TensorError};

/// Options of [`cross_entropy`] and [`nll_loss`] (PyTorch's arguments and defaults).
///
/// ```
/// use gradus_nn::loss::{CrossEntropyOptions, Reduction};
/// let o = CrossEntropyOptions { label_smoothing: 0.1, ..Default::default() };
/// assert_eq!(o.reduction, Reduction::Mean);
/// ```
#[derive(Debug, Clone, Default)]
pub struct CrossEntropyOptions {
    /// Per-class weights `[C]` (constants, no gradient).
    pub weight: Option<Tensor>,
    /// Targets equal to this contribute nothing (and do not count in the mean); it may lie
    /// outside `0..C`, as PyTorch's `-100`.
    pub ignore_index: Option<i64>,
    /// Mixes the one-hot target with the uniform distribution: `(1 - e) y + e / C`.
    pub label_smoothing: f64,
    /// `Mean` is the weighted mean: divided by the sum of the targets' weights.
    pub reduction: Reduction,
}

/// Cross-entropy of logits `[N, C]` against class indices `targets [N]` (`F.cross_entropy`).
///
/// The targets are a tensor, as a data loader yields a batch's labels, read where they live (no
/// host read): whole numbers in a float dtype, where PyTorch takes int64 (gradus has no integer
/// dtype; f32 holds classes exactly up to 2^24). Their dtype need not be the logits'.
///
/// # Errors
/// On a non-2-D input, targets of a shape other than `[N]`, class weights of a shape other than
/// `[C]`, or a target (not equal to `ignore_index`) that is negative, fractional or not below
/// `C`: [`TensorError::InvalidIndex`] naming `cross_entropy`, the target's position and value.
///
/// ```
/// use gradus_nn::loss::{cross_entropy, CrossEntropyOptions};
/// use gradus_tensor::{DType, Tensor};
/// let logits = Tensor::zeros(&[2, 4], DType::F64);
/// let targets = Tensor::from_vec(vec![1.0f32, 3.0], &[2]).unwrap();
/// let l = cross_entropy(&logits, &targets, &CrossEntropyOptions::default()).unwrap();
/// assert!((l.item().unwrap() - 4f64.ln()).abs() < 1e-12);
/// let bad = Tensor::from_vec(vec![1.0f32, 4.0], &[2]).unwrap();
/// assert_eq!(
///     cross_entropy(&logits, &bad, &CrossEntropyOptions::default()).unwrap_err().to_string(),
///     "cross_entropy: index 4 at position [1] is out of range for an axis of size 4"
/// );
/// ```
pub fn cross_entropy(
    logits: &Tensor,
    targets: &Tensor,
    options: &CrossEntropyOptions,
) -> Result<Tensor> {
    check("cross_entropy", logits, targets, options)?;
    let plain = options.weight.is_none()
        && options.ignore_index.is_none()
        && options.label_smoothing == 0.0;
    match options.reduction {
        // log-softmax and NLL in one fused pass (`Tensor::cross_entropy`)
        Reduction::Mean if plain => return logits.cross_entropy(targets, true),
        Reduction::Sum if plain => return logits.cross_entropy(targets, false),
        _ => {}
    }
    weighted_nll("cross_entropy", &logits.log_softmax(1)?, targets, options)
}

/// Negative log-likelihood of log-probabilities `[N, C]` against class indices `targets [N]`
/// (`F.nll_loss`); label smoothing is ignored.
///
/// # Errors
/// As [`cross_entropy`], naming `nll_loss`.
///
/// ```
/// use gradus_nn::loss::{nll_loss, CrossEntropyOptions, Reduction};
/// use gradus_tensor::Tensor;
/// let logp = Tensor::from_vec(vec![-1.0f64, -2.0, -3.0, -4.0], &[2, 2]).unwrap();
/// let targets = Tensor::from_vec(vec![0.0f64, 1.0], &[2]).unwrap();
/// let o = CrossEntropyOptions { reduction: Reduction::Sum, ..Default::default() };
/// assert_eq!(nll_loss(&logp, &targets, &o).unwrap().item().unwrap(), 5.0);
/// ```
pub fn nll_loss(
    log_probs: &Tensor,
    targets: &Tensor,
    options: &CrossEntropyOptions,
) -> Result<Tensor> {
    check("nll_loss", log_probs, targets, options)?;
    weighted_nll(
        "nll_loss",
        log_probs,
        targets,
        &CrossEntropyOptions {
            label_smoothing: 0.0,
            ..options.clone()
        },
    )
}

/// The shapes: `[N, C]` input, `[N]` targets, `[C]` weights. The targets' values are checked by
/// the gather that picks them.
fn check(
    op: &'static str,
    x: &Tensor,
    targets: &Tensor,
    options: &CrossEntropyOptions,
) -> Result<()> {
    let s = x.shape();
    let invalid = |detail: String| {
        Err(TensorError::InvalidShape {
            op,
            shape: s.to_vec(),
            detail,
        })
    };
    if s.len() != 2 || targets.shape() != [s[0]] {
        return invalid(format!(
            "expected [N, C] logits and [N] targets, got targets of shape {:?}",
            targets.shape()
        ));
    }
    match &options.weight {
        Some(w) if w.shape() != [s[1]] => invalid(format!(
            "class weights have shape {:?}, expected [{}]",
            w.shape(),
            s[1]
        )),
        _ => Ok(()),
    }
}

/// `-w[y_i] log p_i[y_i]` per sample (smoothed, reduced), all in tensor ops on the targets'
/// device: ignored targets become class 0 with weight 0.
fn weighted_nll(
    op: &'static str,
    logp: &Tensor,
    targets: &Tensor,
    o: &CrossEntropyOptions,
) -> Result<Tensor> {
    let (n, c) = (logp.shape()[0], logp.shape()[1]);
    let dtype = logp.dtype();
    // 1 for the targets that count, 0 for the ignored ones (in the logits' dtype)
    let (safe, keep) = match o.ignore_index {
        Some(ignored) => {
            let value = Tensor::full_on(&[], ignored as f64, targets.dtype(), targets.device());
            let keep = targets.eq_elem(&value)?.affine(-1.0, 1.0)?;
            (targets.mul(&keep)?, Some(keep.to_dtype(dtype)?))
        }
        None => (targets.clone(), None),
    };
    let picked = logp
        .gather(1, &safe.reshape(&[n, 1])?)
        .map_err(|e| e.for_indices(op, &[n, 1], &[n]))?;
    // w[y_i], 0 when ignored (constants: no gradient flows to the class weights)
    let class_w = match &o.weight {
        Some(w) => Some(w.detach().to_dtype(dtype)?),
        None => None,
    };
    let sample_w = match (&class_w, &keep) {
        (Some(w), keep) => {
            let w_t = w.index_select(0, &safe)?;
            Some(match keep {
                Some(k) => w_t.mul(k)?,
                None => w_t,
            })
        }
        (None, keep) => keep.clone(),
    };
    let mut per_sample = match &sample_w {
        Some(w) => picked.mul(&w.reshape(&[n, 1])?)?.neg()?,
        None => picked.neg()?,
    };
    if o.label_smoothing > 0.0 {
        // -sum_c w_c log p_ic, zero for ignored samples
        let total = match &class_w {
            Some(w) => logp.mul(&w.reshape(&[1, c])?)?.sum(&[1], true)?,
            None => logp.sum(&[1], true)?,
        };
        let mut smooth = total.neg()?;
        if let Some(k) = &keep {
            smooth = smooth.mul(&k.reshape(&[n, 1])?)?;
        }
        per_sample = per_sample
            .mul_scalar(1.0 - o.label_smoothing)?
            .add(&smooth.mul_scalar(o.label_smoothing / c as f64)?)?;
    }
    let per_sample = per_sample.reshape(&[n])?;
    match (o.reduction, &sample_w) {
        // the weighted mean: divided by the sum of the targets' weights, on the device
        (Reduction::Mean, Some(w)) => per_sample.sum_all()?.div(&w.sum_all()?),
        (Reduction::Mean, None) => per_sample.sum_all()?.mul_scalar(1.0 / n as f64),
        (r, _) => reduce(&per_sample, r),
    }
}

/// KL divergence `sum target (log target - input)` with `input` log-probabilities and `target`
/// probabilities (`F.kl_div(log_target=False)`); zero targets contribute zero. Use
/// `Reduction::BatchMean` for the mathematical KL per sample.
///
/// # Errors
/// On shapes that do not broadcast.
///
/// ```
/// use gradus_nn::loss::{kl_div, Reduction};
/// use gradus_tensor::Tensor;
/// let p = Tensor::from_vec(vec![0.5f64, 0.5, 1.0, 0.0], &[2, 2]).unwrap();
/// let logq = p.clamp(1e-30, 1.0).unwrap().log().unwrap();
/// assert!(kl_div(&logq, &p, Reduction::BatchMean).unwrap().item().unwrap().abs() < 1e-12);
/// ```
pub fn kl_div(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    let tiny = f32::MIN_POSITIVE as f64;
    let log_t = target.clamp(tiny, f64::INFINITY)?.log()?;
    reduce(&target.mul(&log_t.sub(input)?)?, reduction)
}
