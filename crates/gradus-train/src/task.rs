//! What is being learned: the loss to minimize and the metrics to report for it.
//!
//! Losses and the regression metrics are tensor ops; the host reads only the final numbers. Class
//! targets are a tensor too, so a training step's loss reads nothing on the host. Accuracy
//! (`gradus eval`, evaluations at sync points) compares predicted classes with the labels on the
//! host, through the transfer API, once per evaluation.

use gradus_nn::loss::{bce_with_logits, cross_entropy, mse_loss, CrossEntropyOptions, Reduction};
use gradus_tensor::{autodiff::no_grad, DType, Result, Tensor, TensorError};

/// The names of the metrics any task reports ([`Task::metrics`]): accuracy for classification,
/// RMSE and R² for regression.
pub const TASK_METRICS: [&str; 3] = ["accuracy", "rmse", "r2"];

/// A learning task: it turns model outputs and targets into a loss and into metrics.
///
/// ```
/// use gradus_train::task::{Targets, Task};
/// use gradus_tensor::Tensor;
/// let logits = Tensor::from_vec(vec![2.0f64, 0.0, 0.0, 2.0], &[2, 2]).unwrap();
/// let targets = Targets::Classes(Tensor::from_vec(vec![0.0f64, 1.0], &[2]).unwrap());
/// let m = Task::Classification { classes: 2 }.metrics(&logits, &targets).unwrap();
/// assert_eq!(m[0], ("accuracy".to_string(), 1.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Task {
    /// Softmax cross-entropy over `classes` logits; reports accuracy.
    Classification {
        /// Number of classes.
        classes: usize,
    },
    /// One logit per sample, sigmoid cross-entropy against 0/1; reports accuracy.
    Binary,
    /// Mean squared error on `outputs` values per sample; reports RMSE and R².
    Regression {
        /// Number of target values per sample.
        outputs: usize,
    },
}

/// Targets of a batch, in the form each task needs.
#[derive(Clone, Debug)]
pub enum Targets {
    /// Class indices `[n]`: whole numbers in a float dtype (as losses take them), `n` the
    /// samples, or the samples times the positions of a sequence model's output.
    Classes(Tensor),
    /// Real values as a tensor shaped like the model output.
    Values(Tensor),
}

fn wrong_targets(task: &Task) -> TensorError {
    TensorError::InvalidArgument {
        op: "loss",
        detail: format!("targets do not fit the task {task:?}"),
    }
}

impl Task {
    /// The mean loss of a batch.
    ///
    /// # Errors
    /// When outputs and targets do not fit (shapes, class counts).
    pub fn loss(&self, output: &Tensor, targets: &Targets) -> Result<Tensor> {
        match (self, targets) {
            (Task::Classification { .. }, Targets::Classes(c)) => {
                let n = c.numel();
                let logits = if output.rank() > 2 {
                    output.reshape(&[n, output.numel() / n.max(1)])?
                } else {
                    output.clone()
                };
                cross_entropy(&logits, &c.reshape(&[n])?, &CrossEntropyOptions::default())
            }
            (Task::Binary, Targets::Classes(c)) => {
                let y = c.reshape(output.shape())?.to_dtype(output.dtype())?;
                bce_with_logits(output, &y, Reduction::Mean)
            }
            (Task::Regression { .. }, Targets::Values(y)) => {
                mse_loss(&like(output, y)?, y, Reduction::Mean)
            }
            _ => Err(wrong_targets(self)),
        }
    }

    /// The weighted mean loss of a batch with per-sample weights `w [n]` (scikit-learn's
    /// `sample_weight`, PyTorch's `(w * loss(reduction="none")).sum() / w.sum()`):
    /// `Σᵢ wᵢ lossᵢ / Σᵢ wᵢ`, where `lossᵢ` is sample `i`'s mean over its outputs (regression)
    /// or positions (sequence classification). Equal weights give [`Task::loss`]; a weight of
    /// 2 counts a sample twice, 0 drops it. A batch whose weights are all zero has loss 0 and
    /// no gradient (a mini-batch may hold only dropped samples).
    ///
    /// # Errors
    /// As [`Task::loss`], and when `w` is not `[n]`.
    ///
    /// ```
    /// use gradus_train::task::{Targets, Task};
    /// use gradus_tensor::Tensor;
    /// let out = Tensor::from_vec(vec![1.0f64, 2.0, 4.0], &[3, 1]).unwrap();
    /// let y = Targets::Values(Tensor::from_vec(vec![0.0f64; 3], &[3, 1]).unwrap());
    /// let w = Tensor::from_vec(vec![2.0f64, 1.0, 0.0], &[3]).unwrap();
    /// let l = Task::Regression { outputs: 1 }.weighted_loss(&out, &y, &w).unwrap();
    /// assert_eq!(l.item().unwrap(), (2.0 * 1.0 + 4.0) / 3.0);
    /// ```
    pub fn weighted_loss(&self, output: &Tensor, targets: &Targets, w: &Tensor) -> Result<Tensor> {
        let n = output.shape().first().copied().unwrap_or(0);
        if w.shape() != [n] {
            return Err(TensorError::InvalidArgument {
                op: "weighted_loss",
                detail: format!(
                    "sample weights of shape {:?} for a batch of {n} samples",
                    w.shape()
                ),
            });
        }
        let per_element = match (self, targets) {
            (Task::Classification { .. }, Targets::Classes(c)) => {
                let m = c.numel();
                let logits = if output.rank() > 2 {
                    output.reshape(&[m, output.numel() / m.max(1)])?
                } else {
                    output.clone()
                };
                let options = CrossEntropyOptions {
                    reduction: Reduction::None,
                    ..CrossEntropyOptions::default()
                };
                cross_entropy(&logits, &c.reshape(&[m])?, &options)?
            }
            (Task::Binary, Targets::Classes(c)) => {
                let y = c.reshape(output.shape())?.to_dtype(output.dtype())?;
                bce_with_logits(output, &y, Reduction::None)?
            }
            (Task::Regression { .. }, Targets::Values(y)) => {
                mse_loss(&like(output, y)?, y, Reduction::None)?
            }
            _ => return Err(wrong_targets(self)),
        };
        // [n, per-sample elements]: each sample's mean, then the weighted mean over samples
        let per_sample = per_element
            .reshape(&[n, per_element.numel() / n.max(1)])?
            .mean(&[1], false)?;
        let w = w.to_dtype(per_sample.dtype())?;
        // Σw is a constant (weights take no gradient); at least 1e-30, so that 0 / Σw is 0
        let total = w.sum_all()?.clamp(1e-30, f64::INFINITY)?;
        per_sample.mul(&w)?.sum_all()?.div(&total)
    }

    /// Metrics of a set of outputs: accuracy for classification, RMSE and R² for regression.
    ///
    /// Accuracy compares predicted classes (see [`Task::predicted_classes`]) with the labels, both
    /// read on the host; RMSE and R² are sums of squares in f64 on the outputs' device, read on
    /// the host as two numbers.
    ///
    /// # Errors
    /// When outputs and targets do not fit.
    pub fn metrics(&self, output: &Tensor, targets: &Targets) -> Result<Vec<(String, f64)>> {
        match (self, targets) {
            (Task::Classification { .. } | Task::Binary, Targets::Classes(c)) => {
                let predicted = self.predicted_classes(output)?;
                Ok(vec![(
                    "accuracy".into(),
                    fraction_equal(&predicted, &c.to_vec_f64()),
                )])
            }
            (Task::Regression { .. }, Targets::Values(y)) => {
                let n = y.numel().max(1) as f64;
                let [sse, sst] = regression_squares(&like(output, y)?, y)?;
                let r2 = if sst > 0.0 { 1.0 - sse / sst } else { 0.0 };
                Ok(vec![("rmse".into(), (sse / n).sqrt()), ("r2".into(), r2)])
            }
            _ => Err(wrong_targets(self)),
        }
    }

    /// The sums a batch adds to the task's metrics over many batches (and ranks):
    /// `[correct, samples]` for classification and binary classification, `[Σ(p − t)², Σt, Σt²,
    /// elements]` in f64 for regression. [`Task::metrics_from_sums`] makes the metrics of the
    /// batches summed, equal to [`Task::metrics`] over all of them at once (up to rounding for
    /// R²). The training metrics of a run without a validation set are these over the epoch's
    /// batches, as Keras reports them, which costs no pass over the data.
    ///
    /// A host boundary: the predictions (or four sums) are read on the host.
    ///
    /// # Errors
    /// When outputs and targets do not fit.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// use gradus_train::task::{Targets, Task};
    /// let task = Task::Classification { classes: 2 };
    /// let logits = Tensor::from_vec(vec![2.0f64, 0.0, 0.0, 1.0, 3.0, 0.0], &[3, 2]).unwrap();
    /// let y = Targets::Classes(Tensor::from_vec(vec![0.0f64, 1.0, 1.0], &[3]).unwrap());
    /// assert_eq!(task.metric_sums(&logits, &y).unwrap(), vec![2.0, 3.0]);
    /// assert_eq!(task.metrics_from_sums(&[2.0, 4.0]), vec![("accuracy".to_string(), 0.5)]);
    /// ```
    pub fn metric_sums(&self, output: &Tensor, targets: &Targets) -> Result<Vec<f64>> {
        match (self, targets) {
            (Task::Classification { .. } | Task::Binary, Targets::Classes(c)) => {
                let predicted = self.predicted_classes(output)?;
                let labels = c.to_vec_f64();
                let n = labels.len() as f64;
                Ok(vec![fraction_equal(&predicted, &labels) * n, n])
            }
            (Task::Regression { .. }, Targets::Values(y)) => {
                let p = like(output, y)?;
                no_grad(|| {
                    let (p, t) = (flat_f64(&p)?, flat_f64(y)?);
                    let d = p.sub(&t)?;
                    let sums = [d.mul(&d)?, t.clone(), t.mul(&t)?]
                        .iter()
                        .map(|x| x.sum_all()?.reshape(&[1]))
                        .collect::<Result<Vec<_>>>()?;
                    let mut v = Tensor::concat(&sums.iter().collect::<Vec<_>>(), 0)?.to_vec_f64();
                    v.push(y.numel() as f64);
                    Ok(v)
                })
            }
            _ => Err(wrong_targets(self)),
        }
    }

    /// How many sums [`Task::metric_sums`] gives: 2 for classification, 4 for regression.
    pub fn metric_sums_len(&self) -> usize {
        match self {
            Task::Classification { .. } | Task::Binary => 2,
            Task::Regression { .. } => 4,
        }
    }

    /// The metrics of [`Task::metric_sums`] added over batches: accuracy, or RMSE and R² (0
    /// when the targets do not vary, as [`Task::metrics`]). Missing sums count as zero.
    pub fn metrics_from_sums(&self, sums: &[f64]) -> Vec<(String, f64)> {
        let at = |i: usize| sums.get(i).copied().unwrap_or(0.0);
        match self {
            Task::Classification { .. } | Task::Binary => {
                vec![("accuracy".into(), at(0) / at(1).max(1.0))]
            }
            Task::Regression { .. } => {
                let (sse, st, st2, n) = (at(0), at(1), at(2), at(3).max(1.0));
                // Σ(t − mean)² from the sums; targets that do not vary leave only rounding
                let sst = st2 - st * st / n;
                let r2 = if sst > 1e-12 * st2 {
                    1.0 - sse / sst
                } else {
                    0.0
                };
                vec![("rmse".into(), (sse / n).sqrt()), ("r2".into(), r2)]
            }
        }
    }

    /// The class each sample is predicted to be: the index of the largest logit (the first one on
    /// a tie, as `torch.argmax`) for classification, over the last axis of any rank; `logit > 0`
    /// (probability above 0.5) for binary. Accuracy, `gradus eval` and `gradus predict` all pick
    /// classes here. Empty for regression.
    ///
    /// A host boundary: the classes come back as host indices (binary logits are read with
    /// `to_vec_f64`, classification through `argmax`), to be compared with host labels or
    /// printed.
    ///
    /// # Errors
    /// When classification logits have no class axis (rank below 2, or an empty last axis).
    ///
    /// ```
    /// use gradus_train::task::Task;
    /// use gradus_tensor::Tensor;
    /// let logits = Tensor::from_vec(vec![1.0f64, 3.0, 3.0, 2.0, 0.0, 0.0], &[2, 3]).unwrap();
    /// assert_eq!(Task::Classification { classes: 3 }.predicted_classes(&logits).unwrap(), vec![1, 0]);
    /// let z = Tensor::from_vec(vec![-0.5f64, 0.0, 0.5], &[3, 1]).unwrap();
    /// assert_eq!(Task::Binary.predicted_classes(&z).unwrap(), vec![0, 0, 1]);
    /// ```
    pub fn predicted_classes(&self, output: &Tensor) -> Result<Vec<usize>> {
        match self {
            Task::Classification { .. } if output.rank() < 2 => Err(TensorError::InvalidArgument {
                op: "predicted_classes",
                detail: format!("logits of shape {:?} have no class axis", output.shape()),
            }),
            Task::Classification { .. } => {
                let classes = output.shape().last().copied().unwrap_or(0);
                let rows = output.numel() / classes.max(1);
                output.reshape(&[rows, classes])?.argmax(1)
            }
            Task::Binary => Ok(output
                .to_vec_f64()
                .iter()
                .map(|&z| (z > 0.0) as usize)
                .collect()),
            Task::Regression { .. } => Ok(Vec::new()),
        }
    }

    /// The metric that decides "better" for this task and whether higher is better.
    pub fn main_metric(&self) -> (&'static str, bool) {
        match self {
            Task::Classification { .. } | Task::Binary => ("accuracy", true),
            Task::Regression { .. } => ("rmse", false),
        }
    }
}

/// The output viewed with the targets' shape (a model giving `[n]` for targets `[n, 1]`), so that
/// the loss never broadcasts outputs against targets by accident.
fn like(output: &Tensor, y: &Tensor) -> Result<Tensor> {
    if output.shape() == y.shape() {
        return Ok(output.clone());
    }
    if output.numel() != y.numel() {
        return Err(TensorError::ShapeMismatch {
            op: "regression loss",
            lhs: output.shape().to_vec(),
            rhs: y.shape().to_vec(),
            detail: ": model outputs and targets differ in size".into(),
        });
    }
    output.reshape(y.shape())
}

/// `x`'s elements as a vector of f64, detached.
fn flat_f64(x: &Tensor) -> Result<Tensor> {
    x.detach()
        .contiguous()?
        .reshape(&[x.numel()])?
        .to_dtype(DType::F64)
}

/// `[sum (p - t)^2, sum (t - mean t)^2]` over all elements, in f64 in element order, computed on
/// the tensors' device and read on the host as two numbers.
fn regression_squares(p: &Tensor, t: &Tensor) -> Result<[f64; 2]> {
    no_grad(|| {
        let (p, t) = (flat_f64(p)?, flat_f64(t)?);
        let count = Tensor::full(&[], t.numel().max(1) as f64, DType::F64);
        let mean = t.sum_all()?.div(&count)?;
        let square_sum = |d: Tensor| d.mul(&d)?.sum_all()?.reshape(&[1]);
        let sse = square_sum(p.sub(&t)?)?;
        let sst = square_sum(t.sub(&mean)?)?;
        let both = Tensor::concat(&[&sse, &sst], 0)?.to_vec_f64();
        Ok([both[0], both[1]])
    })
}

/// The fraction of `labels` equal to the `predicted` class at their place.
fn fraction_equal(predicted: &[usize], labels: &[f64]) -> f64 {
    let hits = predicted
        .iter()
        .zip(labels)
        .filter(|(&p, &l)| p as f64 == l)
        .count();
    hits as f64 / labels.len().max(1) as f64
}
