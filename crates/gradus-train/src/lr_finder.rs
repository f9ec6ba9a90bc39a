//! The learning-rate range test (Smith 2017, "Cyclical Learning Rates for Training Neural
//! Networks", §3.3; fastai's `lr_find`, pytorch-lr-finder's `LRFinder.range_test`): train for a
//! few steps with the learning rate growing exponentially from `start_lr` to `end_lr`, record
//! the loss against the rate, stop once the loss blows up, put the weights back, and suggest a
//! rate.
//!
//! As fastai: the loss is smoothed by an exponential moving average with `beta = 0.98` and bias
//! correction (`avg / (1 - beta^(i+1))`), and the test stops when the smoothed loss exceeds 4×
//! the best smoothed loss seen (or is not finite).
//!
//! The suggestion ([`LrRangeTest::suggested_lr`]) is the rate of steepest descent of the
//! smoothed loss against `log10(lr)` (pytorch-lr-finder's `suggest_lr`, fastai's `steep`),
//! searched only before the loss's minimum and with the first 10 points skipped (fastai's
//! `skip_start`); when fewer than 5 points remain it falls back to fastai's `minimum / 10`
//! ([`LrRangeTest::min_lr`]` / 10`), which is also reported. With small, noisy mini-batches the
//! smoothed curve can still dip by chance early on and move the steepest point there: compare
//! it with `min_lr / 10` (fastai's `minimum`) before trusting it.

use crate::batch::to_device;
use crate::error::{Result, TrainError};
use crate::task::Task;
use gradus_data::{BatchMode, Batcher, Dataset};
use gradus_nn::Module;
use gradus_optim::{Optimizer, Schedule, SharedLr};
use gradus_tensor::{DType, Tensor};
use serde::Serialize;

/// Settings of [`lr_range_test`]; the defaults are fastai's `lr_find`.
#[derive(Clone, Debug, PartialEq)]
pub struct LrFinderOptions {
    /// The rate of the first step [default 1e-7].
    pub start_lr: f64,
    /// The rate of the last step [default 10].
    pub end_lr: f64,
    /// Optimizer steps at most [default 100].
    pub steps: usize,
    /// The smoothing factor of the loss's moving average [default 0.98].
    pub beta: f64,
    /// Stop when the smoothed loss exceeds this multiple of the best one [default 4].
    pub diverge_factor: f64,
    /// Seeds the order of the batches.
    pub seed: u64,
}

impl Default for LrFinderOptions {
    fn default() -> Self {
        LrFinderOptions {
            start_lr: 1e-7,
            end_lr: 10.0,
            steps: 100,
            beta: 0.98,
            diverge_factor: 4.0,
            seed: 0,
        }
    }
}

impl LrFinderOptions {
    /// The rate of step `i` (0-based): `start_lr · (end_lr / start_lr)^(i / (steps − 1))`.
    ///
    /// ```
    /// use gradus_train::lr_finder::LrFinderOptions;
    /// let o = LrFinderOptions { start_lr: 1e-4, end_lr: 1.0, steps: 5, ..Default::default() };
    /// assert!((o.lr_at(0) - 1e-4).abs() < 1e-18 && (o.lr_at(4) - 1.0).abs() < 1e-12);
    /// assert!((o.lr_at(2) - 1e-2).abs() < 1e-14);
    /// ```
    pub fn lr_at(&self, i: usize) -> f64 {
        let t = i as f64 / (self.steps.max(2) - 1) as f64;
        self.start_lr * (self.end_lr / self.start_lr).powf(t)
    }

    fn check(&self) -> Result<()> {
        let ok = self.start_lr > 0.0
            && self.end_lr > self.start_lr
            && self.end_lr.is_finite()
            && self.steps >= 2
            && (0.0..1.0).contains(&self.beta)
            && self.diverge_factor > 1.0;
        if ok {
            Ok(())
        } else {
            Err(TrainError::Setup(format!(
                "learning-rate range test: needs 0 < start_lr < end_lr (got {:e}, {:e}), steps >= 2 (got {}), 0 <= beta < 1 (got {}) and diverge_factor > 1 (got {})",
                self.start_lr, self.end_lr, self.steps, self.beta, self.diverge_factor
            )))
        }
    }
}

/// What [`lr_range_test`] measured, one entry per step taken.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LrRangeTest {
    /// The rate of each step.
    pub lrs: Vec<f64>,
    /// Each step's batch loss (before its update).
    pub losses: Vec<f64>,
    /// The bias-corrected moving average of the losses.
    pub smoothed: Vec<f64>,
    /// Whether the test stopped early: the smoothed loss exceeded `diverge_factor` × its best,
    /// or a loss was not finite. The last entry is then the first rate past that point.
    pub diverged: bool,
    /// The rate of the lowest smoothed loss.
    pub min_lr: f64,
    /// The rate of steepest descent of the smoothed loss against `log10(lr)`, before its
    /// minimum and after the first 10 points; `None` when fewer than 5 points are left.
    pub steepest_lr: Option<f64>,
    /// The suggestion: `steepest_lr`, else `min_lr / 10`.
    pub suggested_lr: f64,
}

impl LrRangeTest {
    /// The suggestions from recorded rates and smoothed losses (see the module's docs).
    ///
    /// # Errors
    /// When no point was recorded or the lengths differ.
    ///
    /// ```
    /// use gradus_train::lr_finder::LrRangeTest;
    /// // a loss that falls fastest around lr = 1e-3, is lowest at 1e-1, then rises
    /// let lrs: Vec<f64> = (0..41).map(|i| 10f64.powf(-6.0 + 0.15 * i as f64)).collect();
    /// let smoothed: Vec<f64> = lrs.iter().map(|&r| {
    ///     let x = r.log10();
    ///     1.0 - (x + 3.0).tanh() + if x > -1.0 { 10.0 * (x + 1.0).powi(2) } else { 0.0 }
    /// }).collect();
    /// let t = LrRangeTest::from_curve(lrs, smoothed.clone(), smoothed, false).unwrap();
    /// assert!((t.steepest_lr.unwrap().log10() + 3.0).abs() < 0.2);
    /// assert!((t.min_lr.log10() + 1.0).abs() < 0.2);
    /// assert_eq!(t.suggested_lr, t.steepest_lr.unwrap());
    /// ```
    pub fn from_curve(
        lrs: Vec<f64>,
        losses: Vec<f64>,
        smoothed: Vec<f64>,
        diverged: bool,
    ) -> Result<LrRangeTest> {
        if lrs.is_empty() || lrs.len() != smoothed.len() || lrs.len() != losses.len() {
            return Err(TrainError::Setup(format!(
                "learning-rate range test: {} rates, {} losses, {} smoothed losses (needs as many, at least one)",
                lrs.len(),
                losses.len(),
                smoothed.len()
            )));
        }
        let best = (0..smoothed.len())
            .filter(|&i| smoothed[i].is_finite())
            .min_by(|&a, &b| smoothed[a].total_cmp(&smoothed[b]))
            .unwrap_or(0);
        let min_lr = lrs[best];
        let steepest_lr = steepest(&lrs[..=best], &smoothed[..=best]);
        Ok(LrRangeTest {
            suggested_lr: steepest_lr.unwrap_or(min_lr / 10.0),
            lrs,
            losses,
            smoothed,
            diverged,
            min_lr,
            steepest_lr,
        })
    }
}

/// Points skipped at the start of the curve before the steepest slope is searched (fastai's
/// `skip_start`): the moving average is still mostly its first losses there.
const SKIP_START: usize = 10;

/// The rate where `loss` falls fastest against `log10(lr)` (numpy's `gradient`: central
/// differences inside, one-sided at the ends), skipping [`SKIP_START`] points; `None` when
/// fewer than 5 points are left.
fn steepest(lrs: &[f64], loss: &[f64]) -> Option<f64> {
    let x: Vec<f64> = lrs.iter().map(|r| r.log10()).collect();
    let n = x.len();
    if n < SKIP_START + 5 {
        return None;
    }
    let slope = |i: usize| {
        let (a, b) = (i.saturating_sub(1), (i + 1).min(n - 1));
        (loss[b] - loss[a]) / (x[b] - x[a])
    };
    (SKIP_START..n)
        .map(|i| (i, slope(i)))
        .filter(|(_, s)| s.is_finite())
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| lrs[i])
}

/// A copy of `t` in new storage (the optimizer updates parameters in place).
fn deep_copy(t: &Tensor) -> Result<Tensor> {
    let c = t.detach().zeros_like();
    c.copy_from(&t.detach())?;
    Ok(c)
}

/// Runs the range test on `model` (in training mode) with the optimizer `make_optimizer` builds
/// around the rate schedule it is given, on batches of `data` cut by `mode` (shuffled by
/// `options.seed`, epoch after epoch as needed), in `dtype`. The parameters and buffers (batch
/// norm's running statistics) are put back as they were, whatever happens; the optimizer is
/// dropped. Dropout's random stream is not put back.
///
/// # Errors
/// Invalid options, no data, a batch that does not fit the model, or an optimizer that cannot
/// be built or stepped. A loss that blows up is not an error: it ends the test
/// ([`LrRangeTest::diverged`]).
///
/// ```
/// use gradus_data::{BatchMode, Dataset, Targets};
/// use gradus_nn::{layers::Linear, Module};
/// use gradus_optim::{Optimizer, Sgd};
/// use gradus_tensor::{DType, Rng};
/// use gradus_train::{lr_finder::{lr_range_test, LrFinderOptions}, task::Task};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // y = 3x on 64 points in [-1, 1], full batches (a smooth curve)
/// let x: Vec<f32> = (0..64).map(|i| i as f32 / 32.0 - 1.0).collect();
/// let y = x.iter().map(|v| 3.0 * v).collect();
/// let data = Dataset::new(x, vec![1], Targets::Values { values: y, dim: 1 })?;
/// let model = Linear::new(1, 1, true, &mut Rng::seed(0));
/// let before = model.named_parameters()[0].1.tensor().to_vec_f64();
/// let t = lr_range_test(&model, &Task::Regression { outputs: 1 }, &data,
///     BatchMode::Full, DType::F32,
///     |lr| Ok(Optimizer::with_named_params(Sgd::new(lr), &model.named_parameters())?),
///     &LrFinderOptions::default())?;
/// assert!(t.diverged && t.suggested_lr > 1e-3 && t.suggested_lr < 1.0, "{}", t.suggested_lr);
/// assert_eq!(model.named_parameters()[0].1.tensor().to_vec_f64(), before); // restored
/// # Ok(()) }
/// ```
pub fn lr_range_test(
    model: &dyn Module,
    task: &Task,
    data: &Dataset,
    mode: BatchMode,
    dtype: DType,
    make_optimizer: impl FnOnce(Schedule) -> Result<Optimizer>,
    options: &LrFinderOptions,
) -> Result<LrRangeTest> {
    options.check()?;
    if data.is_empty() {
        return Err(TrainError::Setup(
            "learning-rate range test: the training data is empty".into(),
        ));
    }
    let params: Vec<Tensor> = model
        .named_parameters()
        .into_iter()
        .map(|(_, p)| p.tensor())
        .collect();
    let buffers = model.named_buffers();
    let saved_params = params.iter().map(deep_copy).collect::<Result<Vec<_>>>()?;
    let saved_buffers: Vec<Tensor> = buffers.iter().map(|(_, b)| b.tensor()).collect();
    let lr = SharedLr::new(options.start_lr);
    let curve = make_optimizer(Schedule::Shared(lr.clone()))
        .and_then(|opt| sweep(model, task, data, mode, dtype, opt, &lr, options));
    // put the weights back whatever happened
    for (p, s) in model.named_parameters().iter().zip(&saved_params) {
        p.1.tensor().copy_from(s)?;
    }
    for ((_, b), s) in buffers.iter().zip(saved_buffers) {
        b.set(s);
    }
    model.zero_grad();
    let (lrs, losses, smoothed, diverged) = curve?;
    LrRangeTest::from_curve(lrs, losses, smoothed, diverged)
}

/// Rates, losses, smoothed losses and whether it stopped early.
type Curve = (Vec<f64>, Vec<f64>, Vec<f64>, bool);

/// The steps of the range test.
#[allow(clippy::too_many_arguments)]
fn sweep(
    model: &dyn Module,
    task: &Task,
    data: &Dataset,
    mode: BatchMode,
    dtype: DType,
    mut opt: Optimizer,
    lr: &SharedLr,
    o: &LrFinderOptions,
) -> Result<Curve> {
    let batcher = Batcher::new(data.len(), mode)?
        .shuffled(o.seed)
        .merge_single_last();
    let (mut lrs, mut losses, mut smoothed) = (Vec::new(), Vec::new(), Vec::new());
    let (mut avg, mut best) = (0.0, f64::INFINITY);
    let mut batches = Vec::new().into_iter();
    let mut epoch = 0;
    model.train(true);
    opt.zero_grad();
    for i in 0..o.steps {
        let idx = match batches.next() {
            Some(b) => b,
            None => {
                batches = batcher.epoch(epoch).into_iter();
                epoch += 1;
                batches
                    .next()
                    .ok_or_else(|| TrainError::Setup("learning-rate range test: no batch".into()))?
            }
        };
        let rate = o.lr_at(i);
        lr.set(rate);
        let batch = to_device(data, &idx, task, dtype)?;
        let loss = task.loss(&model.forward(&batch.x)?, &batch.y)?;
        let value = loss.item()?;
        avg = o.beta * avg + (1.0 - o.beta) * value;
        let smooth = avg / (1.0 - o.beta.powi(i as i32 + 1));
        lrs.push(rate);
        losses.push(value);
        smoothed.push(smooth);
        if !smooth.is_finite() || smooth > o.diverge_factor * best {
            return Ok((lrs, losses, smoothed, true));
        }
        best = best.min(smooth);
        if loss.backward().is_err() {
            return Ok((lrs, losses, smoothed, true));
        }
        opt.step()?;
        opt.zero_grad();
    }
    Ok((lrs, losses, smoothed, false))
}
