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
    /// Targets equal to this contribute nothing (and do not count in the mean).
    pub ignore_index: Option<usize>,
    /// Mixes the one-hot target with the uniform distribution: `(1 - e) y + e / C`.
    pub label_smoothing: f64,
    /// `Mean` is the weighted mean: divided by the sum of the targets' weights.
    pub reduction: Reduction,
}

/// Cross-entropy of logits `[N, C]` against class indices `targets [N]`.
///
/// # Errors
/// On a non-2-D input, a target count other than `N`, a target out of range or a weight of
/// the wrong shape.
///
/// ```
/// use gradus_nn::loss::{cross_entropy, CrossEntropyOptions};
/// use gradus_tensor::{DType, Tensor};
/// let logits = Tensor::zeros(&[2, 4], DType::F64);
/// let l = cross_entropy(&logits, &[1, 3], &CrossEntropyOptions::default()).unwrap();
/// assert!((l.item().unwrap() - 4f64.ln()).abs() < 1e-12);
/// ```
pub fn cross_entropy(
    logits: &Tensor,
    targets: &[usize],
    options: &CrossEntropyOptions,
) -> Result<Tensor> {
    check(logits, targets, options)?;
    weighted_nll(&logits.log_softmax(1)?, targets, options)
}

/// Negative log-likelihood of log-probabilities `[N, C]` (`F.nll_loss`); label smoothing is
/// ignored.
///
/// # Errors
/// As [`cross_entropy`].
///
/// ```
/// use gradus_nn::loss::{nll_loss, CrossEntropyOptions, Reduction};
/// use gradus_tensor::Tensor;
/// let logp = Tensor::from_vec(vec![-1.0f64, -2.0, -3.0, -4.0], &[2, 2]).unwrap();
/// let o = CrossEntropyOptions { reduction: Reduction::Sum, ..Default::default() };
/// assert_eq!(nll_loss(&logp, &[0, 1], &o).unwrap().item().unwrap(), 5.0);
/// ```
pub fn nll_loss(
    log_probs: &Tensor,
    targets: &[usize],
    options: &CrossEntropyOptions,
) -> Result<Tensor> {
    check(log_probs, targets, options)?;
    weighted_nll(
        log_probs,
        targets,
        &CrossEntropyOptions {
            label_smoothing: 0.0,
            ..options.clone()
        },
    )
}

fn check(x: &Tensor, targets: &[usize], options: &CrossEntropyOptions) -> Result<()> {
    let s = x.shape();
    let invalid = |detail: String| {
        Err(TensorError::InvalidShape {
            op: "cross_entropy",
            shape: s.to_vec(),
            detail,
        })
    };
    if s.len() != 2 || s[0] != targets.len() {
        return invalid(format!(
            "expected [N, C] logits with N = {} targets",
            targets.len()
        ));
    }
    if let Some(bad) = targets
        .iter()
        .find(|&&t| t >= s[1] && Some(t) != options.ignore_index)
    {
        return Err(TensorError::IndexOutOfRange {
            op: "cross_entropy",
            index: *bad,
            size: s[1],
        });
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

fn weighted_nll(logp: &Tensor, targets: &[usize], o: &CrossEntropyOptions) -> Result<Tensor> {
    let (n, c) = (logp.shape()[0], logp.shape()[1]);
    let dtype = logp.dtype();
    let class_w = o
        .weight
        .as_ref()
        .map(|w| w.to_vec_f64())
        .unwrap_or_else(|| vec![1.0; c]);
    let ignored = |t: usize| Some(t) == o.ignore_index;
    let safe: Vec<usize> = targets
        .iter()
        .map(|&t| if ignored(t) { 0 } else { t })
        .collect();
    let w_t: Vec<f64> = targets
        .iter()
        .map(|&t| if ignored(t) { 0.0 } else { class_w[t] })
        .collect();
    let keep: Vec<f64> = targets
        .iter()
        .map(|&t| if ignored(t) { 0.0 } else { 1.0 })
        .collect();
    let w_t_tensor = Tensor::from_vec(w_t.clone(), &[n, 1])?.to_dtype(dtype)?;
    // -w[y_i] log p_i[y_i]
    let nll = logp.gather(1, &safe)?.mul(&w_t_tensor)?.neg()?;
    let mut per_sample = nll;
    if o.label_smoothing > 0.0 {
        let row = Tensor::from_vec(class_w, &[1, c])?.to_dtype(dtype)?;
        let keep = Tensor::from_vec(keep, &[n, 1])?.to_dtype(dtype)?;
        // -sum_c w_c log p_ic, zero for ignored samples
        let smooth = logp.mul(&row)?.sum(&[1], true)?.neg()?.mul(&keep)?;
        per_sample = per_sample
            .mul_scalar(1.0 - o.label_smoothing)?
            .add(&smooth.mul_scalar(o.label_smoothing / c as f64)?)?;
    }
    let per_sample = per_sample.reshape(&[n])?;
    match o.reduction {
        Reduction::Mean => per_sample
            .sum_all()?
            .mul_scalar(1.0 / w_t.iter().sum::<f64>()),
        r => reduce(&per_sample, r),
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
