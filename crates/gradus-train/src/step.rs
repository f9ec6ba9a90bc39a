//! One training step in named stages: forward, backward, the gradient hook, the divergence guard,
//! the optimizer step and recording (see [`crate::hook`] and [`crate::sync`]).
//!
//! The guard and the records work on host numbers, so they run at sync points: every
//! [`TrainOptions::sync_every`](crate::TrainOptions::sync_every) steps (before that step's
//! optimizer step), before a checkpoint, and at the end of an epoch. Between syncs a step leaves
//! its loss and gradient sums of squares on the device. With `sync_every = 1` every step is
//! guarded before its optimizer step, as the trainer always did; with more, a divergence is caught
//! at the next sync, after the optimizer steps in between (the error still names the step it
//! began at, and no checkpoint is ever written over unguarded steps).

use crate::batch::DeviceBatch;
use crate::checkpoint::RunState;
use crate::epoch::EpochStats;
use crate::error::{Result, TrainError};
use crate::noise_scale::NoiseSample;
use crate::observer::StepRecord;
use crate::progress::Progress;
use crate::sync::{Pending, SyncedStep};
use crate::task::{Targets, Task};
use crate::timing::{Phase, PhaseClock};
use crate::Trainer;
use gradus_nn::Param;
use gradus_tensor::Tensor;
use std::path::Path;

/// Where a step runs: its epoch, the divergence window, the checkpoint path (named in a
/// divergence error) and the progress display.
pub(crate) struct StepSite<'a> {
    pub epoch: usize,
    /// Whether the steps add their batches' metric sums to the epoch's (a run without a
    /// validation set reports its training metrics from them).
    pub train_metrics: bool,
    pub window: usize,
    pub ckpt: &'a Path,
    pub progress: &'a Progress,
    /// The run's time per phase (the step's diagnostics add to it).
    pub clock: &'a PhaseClock,
}

/// What a step updates on the host: the run's state, the epoch's sums and the values not yet
/// read.
pub(crate) struct Ledger<'a> {
    pub saved: &'a mut RunState,
    pub stats: &'a mut EpochStats,
    pub pending: &'a mut Pending,
}

impl Trainer {
    /// One optimizer step on `batch` (of which `weight` samples count: all of them, but for a
    /// data-parallel rank left without a sample): forward, backward, all-reduce (data
    /// parallel), gradient hook, (at a sync) guard and records, optimizer step.
    pub(crate) fn train_step(
        &mut self,
        batch: &DeviceBatch,
        weight: usize,
        site: &StepSite<'_>,
        l: &mut Ledger<'_>,
    ) -> Result<()> {
        let step = l.saved.step + 1;
        let named = self.named_params();
        let measure = self.measures_update(step, l.stats.batches + l.pending.steps());
        if self.options.precision.scales_loss() && l.saved.grad_scaler.is_none() {
            l.saved.grad_scaler = Some(gradus_optim::GradScaler::new());
        }
        // the micro-batch split measures unscaled gradients: not with f16's loss scaling
        let split = self.options.noise_scale
            && self.options.parallel.is_none()
            && l.saved.grad_scaler.is_none();
        let mut overlapped = None;
        let (mut loss, backward, mut noise) = if split && batch.samples >= 2 {
            self.micro_batch_backward(batch, &named, site.train_metrics.then_some(&mut *l.stats))?
        } else {
            let (loss, output) = self.forward_autocast(batch, site.train_metrics)?;
            if let Some(output) = &output {
                l.stats
                    .add_metric_sums(&self.task.metric_sums(output, &batch.y)?);
            }
            let root = crate::precision::scaled(&loss, l.saved.grad_scaler.as_ref())?;
            let backward = match &self.options.parallel {
                // the all-reduce starts from backward's gradient-ready hook
                Some(p) if p.overlaps() => {
                    let (backward, reduced) =
                        p.backward_all_reduce_step(&named, weight, &loss, &root)?;
                    overlapped = reduced;
                    backward
                }
                _ => root.backward(),
            };
            (loss, backward, None)
        };
        let mut samples = batch.samples;
        let mut skipped = false;
        if backward.is_ok() {
            if let Some(p) = &self.options.parallel {
                // the ranks' (scaled) gradients are averaged before the scaler looks at them,
                // so every rank skips the same steps
                let reduced = match overlapped {
                    Some(r) => r,
                    None => p.all_reduce_step(&named, weight, &loss)?,
                };
                (loss, samples, noise) = (reduced.loss, reduced.samples, reduced.noise);
            }
            if let Some(scaler) = l.saved.grad_scaler.as_mut() {
                let tensors: Vec<Tensor> = named.iter().map(|(_, p)| p.tensor()).collect();
                let skips = &mut l.saved.consecutive_skips;
                skipped = crate::precision::unscale_or_skip(scaler, skips, &tensors, step)?;
            }
            self.run_gradient_hook(&named, step)?;
            self.observe(|o| o.on_gradients(site.epoch, step, &named))?;
        }
        site.clock.time(Phase::Diagnostics, || {
            l.pending
                .record_step(step, samples, &loss, &named, (noise, skipped))
        })?;
        if let Err(e) = backward {
            // a non-finite loss may fail backward: the guard then says so, with the layer
            self.sync(site, l)?;
            return Err(e.into());
        }
        if l.pending.steps() as u64 >= self.options.sync_every.max(1) {
            self.sync(site, l)?;
        }
        if skipped {
            self.optimizer.zero_grad();
        } else {
            self.optimizer_step(&named, (step, measure), l.pending)?;
        }
        l.saved.step = step;
        Ok(())
    }

    /// Backward over the two halves of `batch` in turn (each half's mean loss scaled by its
    /// share, so the accumulated gradient is the whole batch's), measuring each half's gradient
    /// for the noise scale. Returns the batch's mean loss, the backward result and the
    /// measurements. A model with batch norm sees half-batch statistics.
    fn micro_batch_backward(
        &self,
        batch: &DeviceBatch,
        named: &[(String, Param)],
        mut metric_sums: Option<&mut EpochStats>,
    ) -> Result<(Tensor, gradus_tensor::Result<()>, Option<NoiseSample>)> {
        let n = batch.samples;
        let halves = [(0, n / 2), (n / 2, n - n / 2)];
        let mut losses = Vec::with_capacity(2);
        let mut before: Vec<f64> = Vec::new();
        let mut small = [0.0; 2];
        for (i, &(start, len)) in halves.iter().enumerate() {
            let half = batch.narrow(start, len)?;
            let share = len as f64 / n as f64;
            let (loss, output) = self.forward_autocast(&half, metric_sums.is_some())?;
            if let (Some(stats), Some(output)) = (metric_sums.as_deref_mut(), &output) {
                stats.add_metric_sums(&self.task.metric_sums(output, &half.y)?);
            }
            let loss = loss.mul_scalar(share)?;
            if let Err(e) = loss.backward() {
                return Ok((loss, Err(e), None));
            }
            let grads = host_grads(named);
            let own: f64 = if i == 0 {
                grads.iter().map(|g| g * g).sum()
            } else {
                grads
                    .iter()
                    .zip(&before)
                    .map(|(g, b)| (g - b).powi(2))
                    .sum()
            };
            small[i] = own / (share * share);
            before = grads;
            losses.push(loss.detach());
        }
        let big_sq = before.iter().map(|g| g * g).sum();
        let (a, b) = (halves[0].1 as f64, halves[1].1 as f64);
        let sample = NoiseSample {
            small_sq: (small[0] + small[1]) / 2.0,
            // E|G_small|² averaged over halves of a and b samples: |G|² + tr(Σ) (1/a + 1/b) / 2
            b_small: 2.0 / (1.0 / a + 1.0 / b),
            big_sq,
            b_big: n as f64,
        };
        Ok((losses[0].add(&losses[1])?, Ok(()), Some(sample)))
    }

    /// Whether this step measures its update-to-parameter ratio: the first step of an epoch
    /// (`done` steps into it) and every `diagnostics_every` steps.
    fn measures_update(&self, step: u64, done: usize) -> bool {
        let every = self.options.diagnostics_every;
        done == 0 || (every > 0 && step.is_multiple_of(every))
    }

    /// Forward under the run's autocast (none at full precision).
    fn forward_autocast(
        &self,
        batch: &DeviceBatch,
        output: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        gradus_tensor::precision::autocast::autocast(self.options.precision.autocast(), || {
            self.forward(batch, output)
        })
    }

    /// Forward: the batch's mean loss (weighted mean with sample weights), with its graph, and
    /// the model's output when `output` asks for it. An unweighted binary task's loss comes from
    /// the model's fused pass where it has one ([`gradus_nn::Module::fused_bce_with_logits`]:
    /// logistic regression reads the batch once for the loss, the gradients and the output).
    fn forward(&self, batch: &DeviceBatch, output: bool) -> Result<(Tensor, Option<Tensor>)> {
        if let (None, Task::Binary, Targets::Classes(c)) = (&batch.weights, &self.task, &batch.y) {
            let y = c.reshape(&[c.numel()])?.to_dtype(batch.x.dtype())?;
            if let Some(fused) = self.model.fused_bce_with_logits(&batch.x, &y) {
                let (loss, out) = fused?;
                return Ok((loss, output.then_some(out)));
            }
        }
        let out = self.model.forward(&batch.x)?;
        let loss = match &batch.weights {
            Some(w) => self.task.weighted_loss(&out, &batch.y, w)?,
            None => self.task.loss(&out, &batch.y)?,
        };
        Ok((loss, output.then_some(out)))
    }

    /// The gradient hook (identity without one).
    fn run_gradient_hook(&self, named: &[(String, Param)], step: u64) -> Result<()> {
        match &self.options.gradient_hook {
            Some(hook) => hook.on_gradients(named, step),
            None => Ok(()),
        }
    }

    /// The optimizer step, then the update sums of squares of a measured step (left on the
    /// device).
    fn optimizer_step(
        &mut self,
        named: &[(String, Param)],
        (step, measure): (u64, bool),
        pending: &mut Pending,
    ) -> Result<()> {
        let tensors = || -> Vec<Tensor> { named.iter().map(|(_, p)| p.tensor()).collect() };
        if measure {
            pending.snapshot(&tensors())?;
        }
        if self.options.stochastic_rounding {
            // each step draws its own bits, from the run's seed: a rerun repeats them
            let seed = self.options.seed ^ step.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            gradus_tensor::precision::stochastic::stochastic_rounding(seed, || {
                self.optimizer.step()
            })?;
        } else {
            self.optimizer.step()?;
        }
        self.optimizer.zero_grad();
        if measure {
            let names = named.iter().map(|(n, _)| n.clone()).collect();
            pending.record_ratio(&tensors(), names)?;
        }
        Ok(())
    }

    /// A sync point: reads every pending value on the host in one transfer, then guards and
    /// records each step in order.
    ///
    /// # Errors
    /// [`TrainError::Diverged`] for the first pending step that diverged.
    pub(crate) fn sync(&mut self, site: &StepSite<'_>, l: &mut Ledger<'_>) -> Result<()> {
        site.clock
            .time(Phase::Diagnostics, || self.sync_pending(site, l))
    }

    fn sync_pending(&mut self, site: &StepSite<'_>, l: &mut Ledger<'_>) -> Result<()> {
        let (steps, ratios) = l.pending.read()?;
        for s in &steps {
            self.guard(site, l.saved, s)?;
            self.record(site, l, s);
            if !self.options.observers.is_empty() {
                let record = StepRecord {
                    epoch: site.epoch,
                    step: s.step,
                    samples: s.samples,
                    loss: s.loss,
                    lr: self.lr(s.step - 1),
                    grad_norms: s.norms.clone(),
                };
                self.observe(|o| o.on_step(&record))?;
            }
        }
        for r in ratios {
            l.stats.add_ratio(r.global, &r.per_layer);
        }
        Ok(())
    }

    /// The divergence guard on one step's host values: a non-finite loss or gradient, or a
    /// running mean of the loss far above its start.
    /// A step the f16 loss scaler skipped is not guarded: its inf/NaN is the overflow the scaler
    /// handles (its parameters were left untouched), not divergence; too many skips in a row
    /// stop the run with their own error (see [`crate::precision::MAX_CONSECUTIVE_SKIPS`]).
    fn guard(&self, site: &StepSite<'_>, saved: &mut RunState, s: &SyncedStep) -> Result<()> {
        if s.skipped {
            return Ok(());
        }
        if !s.loss.is_finite() {
            return Err(self.diverged(site, s, format!("loss is {}", s.loss)));
        }
        if !s.norms.global.is_finite() {
            let what = "the gradient is not finite".to_string();
            return Err(self.diverged(site, s, what));
        }
        let (window, factor) = (site.window, self.options.divergence_factor);
        if let Some((current, reference)) =
            saved.divergence.observe(s.loss, s.samples, window, factor)
        {
            let what = format!("loss {current:.4e} (running mean over ~{window} samples) is over {factor}x its start ({reference:.4e}, the mean over the first {window} samples)");
            return Err(self.diverged(site, s, what));
        }
        Ok(())
    }

    /// The divergence error for step `s`: the layer whose gradient blew up first, the learning
    /// rate it was taken with, and the last good checkpoint.
    fn diverged(&self, site: &StepSite<'_>, s: &SyncedStep, what: String) -> TrainError {
        let norms = &s.norms;
        let (layer, grad_norm) = norms
            .worst_layer()
            .map(|l| {
                let norm = norms
                    .per_layer
                    .iter()
                    .find(|(k, _)| k == l)
                    .map_or(f64::NAN, |x| x.1);
                (l.to_string(), norm)
            })
            .unwrap_or_else(|| ("(no gradient yet)".into(), f64::NAN));
        let checkpoint = if site.ckpt.exists() {
            format!(
                " The last good checkpoint is kept at {}.",
                site.ckpt.display()
            )
        } else {
            String::new()
        };
        TrainError::Diverged {
            epoch: site.epoch,
            step: s.step,
            what,
            layer,
            grad_norm,
            lr: self.lr(s.step - 1),
            checkpoint,
        }
    }

    /// Recording: gradient warnings, the epoch's sums and the progress display.
    fn record(&mut self, site: &StepSite<'_>, l: &mut Ledger<'_>, s: &SyncedStep) {
        if let Some(w) = self.options.watch.observe(s.step, &s.norms) {
            site.progress.line(&w);
            l.saved.warnings.push(w);
        }
        if s.skipped {
            l.stats.skipped += 1;
            site.progress.skipped_steps(l.stats.skipped);
        }
        // a skipped step's non-finite loss (an f16 overflow in the forward pass) is left out of
        // the epoch's mean loss; its (zeroed) gradient norms still count
        let (loss, samples) = if s.skipped && !s.loss.is_finite() {
            (0.0, 0)
        } else {
            (s.loss, s.samples)
        };
        l.stats
            .add_step(loss, samples, s.norms.global, &s.norms.per_layer);
        if let Some(noise) = &s.noise {
            l.stats.noise.add(noise);
        }
        site.progress.step(l.stats.mean_loss(), s.samples);
    }
}

/// Every parameter's gradient, flattened in parameter order on the host (zeros where a
/// parameter has none).
pub(crate) fn host_grads(named: &[(String, Param)]) -> Vec<f64> {
    let mut out = Vec::new();
    for (_, p) in named {
        let t = p.tensor();
        match t.grad() {
            Some(g) => out.extend(g.to_vec_f64()),
            None => out.resize(out.len() + t.numel(), 0.0),
        }
    }
    out
}
