//! The training loop: epochs of batches, each a step in stages ([`crate::step`]), validation,
//! early stopping, checkpoints and the run directory's files.

use crate::batch::{to_device, to_device_augmented, DeviceBatch};
use crate::checkpoint::{self, Durability, RunState};
use crate::diagnostics::GradientWatch;
use crate::early_stop::EarlyStopping;
use crate::epoch::{EpochProgress, EpochStats};
use crate::error::{Result, TrainError};
use crate::hook::{GradientHook, SharedGradientHook};
use crate::metrics::{EpochLogs, EpochRecord};
use crate::observer::{SharedObserver, TrainObserver};
use crate::parallel::DataParallel;
use crate::progress::Progress;
use crate::step::{Ledger, StepSite};
use crate::stop::StopReason;
use crate::sync::Pending;
use crate::task::{Targets, Task};
use crate::timing::{Phase, PhaseClock, PhaseTimes};
use gradus_data::{BatchMode, Batcher, Dataset};
use gradus_nn::Module;
use gradus_optim::{Optimizer, ReduceOnPlateau, Schedule};
use gradus_tensor::{autodiff::no_grad, DType, Tensor};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// How to train: length, batching, safety nets and outputs.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Passes over the training data.
    pub epochs: usize,
    /// Stop after this many optimizer steps (across epochs), if set.
    pub max_steps: Option<u64>,
    /// Full batch, stochastic or mini-batch.
    pub batch: BatchMode,
    /// Seeds the data order of mini-batch and stochastic runs (each epoch's order depends only on
    /// seed and epoch); a full batch keeps the rows in order (shuffled only for the noise-scale
    /// estimate's halves).
    pub seed: u64,
    /// Model and data dtype.
    pub dtype: DType,
    /// Early stopping on the validation loss, if set.
    pub early_stopping: Option<EarlyStopping>,
    /// With early stopping: put the best epoch's weights back at the end.
    pub restore_best: bool,
    /// Write a checkpoint every this many epochs (0: only at the end).
    pub checkpoint_every: usize,
    /// Also write a checkpoint every this many optimizer steps, inside epochs too (0: never).
    pub checkpoint_every_steps: u64,
    /// Stop when the running mean of the training loss exceeds this multiple of its mean over
    /// the first `divergence_window` samples (see [`crate::divergence`]).
    pub divergence_factor: f64,
    /// Samples in the divergence check's reference and running mean (capped at the training
    /// set's size).
    pub divergence_window: usize,
    /// Order the first this-many epochs from easy to hard by the initial model's per-sample loss.
    pub curriculum_epochs: usize,
    /// Vanishing / exploding gradient thresholds.
    pub watch: GradientWatch,
    /// Measure the update-to-parameter ratio every this many steps.
    pub diagnostics_every: u64,
    /// Rows per forward pass during evaluation.
    pub eval_batch: usize,
    /// No progress output at all.
    pub quiet: bool,
    /// Set from outside (a signal handler) to stop the run cleanly: the current step finishes,
    /// then the checkpoint, the model and the report are written and `fit` returns a summary
    /// with `stopped = StopReason::Interrupted`.
    pub interrupt: Option<Arc<AtomicBool>>,
    /// Read the loss and the gradient norms on the host every this many steps (at least 1; 1:
    /// every step). Between reads they stay on the device and the divergence guard waits for
    /// the next read, so a divergence is caught up to `sync_every - 1` steps late; the recorded
    /// values (`metrics.csv`, warnings) are the same at any interval. Epoch ends and checkpoints
    /// always read first. See [`crate::step`].
    pub sync_every: u64,
    /// Sees and may change every step's gradients between backward and the guard (none: the
    /// identity). See [`crate::hook`] and [`Trainer::set_gradient_hook`].
    pub gradient_hook: Option<SharedGradientHook>,
    /// Estimate the gradient noise scale on one process: each batch's backward runs as two
    /// micro-batches (the step's gradient is the same), whose gradient norms give
    /// [`EpochRecord::noise_scale`](crate::metrics::EpochRecord::noise_scale). Data parallel
    /// runs always estimate it, from the ranks' gradients. Default false.
    pub noise_scale: bool,
    /// See every recorded step, epoch and the run's end, in order (TensorBoard logging); see
    /// [`crate::observer`] and [`Trainer::add_observer`].
    pub observers: Vec<SharedObserver>,
    /// Data parallelism over the ranks of a communicator (none: one process); see
    /// [`crate::parallel`].
    pub parallel: Option<DataParallel>,
    /// Mixed precision: autocast of the forward pass, and loss scaling for f16
    /// ([`crate::precision`]).
    pub precision: crate::precision::Precision,
    /// Round the optimizer's bf16 parameter updates stochastically (with
    /// [`crate::precision::Precision::Bf16True`]; see [`gradus_tensor::precision::stochastic`]),
    /// drawing from `(seed, step)`.
    pub stochastic_rounding: bool,
    /// Random augmentation of the training batches' images (none: the data as it is), each
    /// sample's transform drawn from `(seed, epoch, index in the training set)`, so a resumed
    /// run and any batch size see the same images ([`gradus_data::augment`]). Validation,
    /// evaluation and the curriculum's scoring read the data unchanged.
    pub augment: Option<gradus_data::Augment>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 10,
            max_steps: None,
            batch: BatchMode::MiniBatch {
                size: 32,
                drop_last: false,
            },
            seed: 0,
            dtype: DType::F32,
            early_stopping: None,
            restore_best: true,
            checkpoint_every: 1,
            checkpoint_every_steps: 0,
            divergence_factor: 1e3,
            divergence_window: crate::divergence::DEFAULT_WINDOW,
            curriculum_epochs: 0,
            watch: GradientWatch::default(),
            diagnostics_every: 10,
            eval_batch: 1024,
            quiet: false,
            interrupt: None,
            sync_every: 1,
            gradient_hook: None,
            noise_scale: false,
            observers: Vec::new(),
            parallel: None,
            precision: crate::precision::Precision::Full,
            stochastic_rounding: false,
            augment: None,
        }
    }
}

/// Everything a run needs, built by the caller (the CLI builds it from a config file).
pub struct Trainer {
    /// The model being trained.
    pub model: Box<dyn Module>,
    /// The optimizer over the model's parameters.
    pub optimizer: Optimizer,
    /// The learning-rate schedule the optimizer uses (for reporting).
    pub schedule: Schedule,
    /// Reduce-on-plateau, driven by the validation loss, if used.
    pub plateau: Option<ReduceOnPlateau>,
    /// Loss and metrics.
    pub task: Task,
    /// Options.
    pub options: TrainOptions,
    /// Metadata stored in the model file (configuration, scaler) so it can be rebuilt.
    pub model_metadata: BTreeMap<String, String>,
}

/// Final and best results of a run (`summary.json`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Epochs completed.
    pub epochs: usize,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Why training ended; written as "completed", "early stopping", "max steps" or
    /// "interrupted".
    pub stopped: StopReason,
    /// The last epoch's record (of the unfinished epoch when the run stopped inside one).
    pub last: Option<EpochRecord>,
    /// The epoch with the best validation loss (or training loss without validation).
    pub best: Option<EpochRecord>,
    /// Number of parameters.
    pub parameters: usize,
    /// Warnings raised during training.
    pub warnings: Vec<String>,
    /// Optimizer steps skipped by the f16 loss scaler for inf/NaN gradients (counted in
    /// `steps`; [`crate::precision`]).
    #[serde(default)]
    pub skipped_steps: u64,
    /// Wall-clock seconds by phase: steps, data, validation, diagnostics, writing
    /// ([`crate::timing`]).
    #[serde(default)]
    pub time: PhaseTimes,
}

impl Trainer {
    /// Installs a gradient hook (replacing any), run on every step's gradients between backward
    /// and the divergence guard; see [`crate::hook`].
    ///
    /// ```
    /// use gradus_data::{Dataset, Targets};
    /// use gradus_nn::{layers::Linear, Module, Param};
    /// use gradus_optim::{Optimizer, Schedule, Sgd};
    /// use gradus_tensor::{Rng, Tensor};
    /// use gradus_train::{task::Task, TrainOptions, Trainer};
    /// use std::sync::{atomic::{AtomicU64, Ordering}, Arc};
    ///
    /// let model = Linear::new(1, 1, true, &mut Rng::seed(0));
    /// let params: Vec<Tensor> = model.parameters().iter().map(|p| p.tensor()).collect();
    /// let mut t = Trainer {
    ///     model: Box::new(model),
    ///     optimizer: Optimizer::new(Sgd::new(0.1), &params).unwrap(),
    ///     schedule: Schedule::Constant(0.1),
    ///     plateau: None,
    ///     task: Task::Regression { outputs: 1 },
    ///     options: TrainOptions { epochs: 2, quiet: true, ..TrainOptions::default() },
    ///     model_metadata: Default::default(),
    /// };
    /// let steps = Arc::new(AtomicU64::new(0));
    /// let seen = steps.clone();
    /// t.set_gradient_hook(move |params: &[(String, Param)], step: u64| {
    ///     assert_eq!(params.len(), 2); // weight and bias
    ///     seen.store(step, Ordering::SeqCst);
    ///     Ok(())
    /// });
    /// let data = Dataset::new(vec![0.0, 1.0], vec![1],
    ///     Targets::Values { values: vec![1.0, 3.0], dim: 1 }).unwrap();
    /// let dir = tempfile::tempdir().unwrap();
    /// t.fit(&data, None, dir.path(), false).unwrap();
    /// assert_eq!(steps.load(Ordering::SeqCst), 2);
    /// ```
    pub fn set_gradient_hook(&mut self, hook: impl GradientHook + 'static) -> &mut Trainer {
        self.options.gradient_hook = Some(SharedGradientHook::new(hook));
        self
    }

    /// Adds an observer (after any already there), told of every recorded step, every epoch's
    /// record and the run's end; see [`crate::observer`].
    pub fn add_observer(&mut self, observer: impl TrainObserver + 'static) -> &mut Trainer {
        self.options.observers.push(SharedObserver::new(observer));
        self
    }

    /// Runs `f` on every observer, in order; the first error stops.
    pub(crate) fn observe(
        &self,
        mut f: impl FnMut(&mut dyn TrainObserver) -> Result<()>,
    ) -> Result<()> {
        self.options
            .observers
            .iter()
            .try_for_each(|o| o.with(&mut f))
    }

    pub(crate) fn named_params(&self) -> Vec<(String, gradus_nn::Param)> {
        self.model
            .named_parameters()
            .into_iter()
            .filter(|(_, p)| p.requires_grad())
            .collect()
    }

    pub(crate) fn lr(&self, step: u64) -> f64 {
        match &self.plateau {
            Some(p) => p.lr().get(),
            None => self.schedule.value(step),
        }
    }

    /// Loss and metrics of the model on a whole data set, in evaluation mode: means over its
    /// samples, however it is cut into forward passes.
    ///
    /// # Errors
    /// When the data does not fit the model.
    pub fn evaluate(&self, data: &Dataset) -> Result<(f64, Vec<(String, f64)>)> {
        self.model.eval();
        let result = no_grad(|| -> Result<(f64, Vec<(String, f64)>)> {
            let (mut outputs, mut targets) = (Vec::new(), Vec::new());
            let all: Vec<usize> = (0..data.len()).collect();
            for idx in all.chunks(self.options.eval_batch.max(1)) {
                let p = to_device(data, idx, &self.task, self.options.dtype)?;
                outputs.push(self.model.forward(&p.x)?);
                targets.push(p.y);
            }
            let output = Tensor::concat(&outputs.iter().collect::<Vec<_>>(), 0)?;
            let y = match targets.first() {
                Some(Targets::Classes(_)) => {
                    let ts: Vec<&Tensor> = targets
                        .iter()
                        .filter_map(|t| match t {
                            Targets::Classes(c) => Some(c),
                            Targets::Values(_) => None,
                        })
                        .collect();
                    Targets::Classes(Tensor::concat(&ts, 0)?)
                }
                _ => {
                    let ts: Vec<&Tensor> = targets
                        .iter()
                        .filter_map(|t| match t {
                            Targets::Values(v) => Some(v),
                            Targets::Classes(_) => None,
                        })
                        .collect();
                    Targets::Values(Tensor::concat(&ts, 0)?)
                }
            };
            let loss = self.task.loss(&output, &y)?.item()?;
            Ok((loss, self.task.metrics(&output, &y)?))
        });
        self.model.train(true);
        result
    }

    /// Per-sample loss of the current model (the curriculum's difficulty score), in evaluation
    /// mode: scoring must not draw dropout masks nor feed batch norm one sample in training mode.
    fn difficulty(&self, data: &Dataset) -> Result<Vec<f64>> {
        let mut scores = Vec::with_capacity(data.len());
        self.model.eval();
        let result = no_grad(|| -> Result<()> {
            for i in 0..data.len() {
                let p = to_device(data, &[i], &self.task, self.options.dtype)?;
                scores.push(self.task.loss(&self.model.forward(&p.x)?, &p.y)?.item()?);
            }
            Ok(())
        });
        self.model.train(true);
        result.map(|()| scores)
    }

    /// The index batches of an epoch: curriculum order (easy first) for the first epochs, else
    /// the batcher's order; both cut by the same batcher (size, `drop_last`, merging).
    fn epoch_batches(
        &self,
        batcher: &Batcher,
        epoch: usize,
        curriculum: &[usize],
    ) -> Vec<Vec<usize>> {
        if epoch <= self.options.curriculum_epochs && !curriculum.is_empty() {
            return batcher.batches_of(curriculum);
        }
        batcher.epoch(epoch as u64)
    }

    /// Why the run must stop before its next step, if it must (data parallel: when any rank
    /// was interrupted, every rank stops at the same step).
    fn halt(&self, step: u64, progress: &Progress) -> Result<Option<StopReason>> {
        let mut interrupted = self
            .options
            .interrupt
            .as_ref()
            .is_some_and(|f| f.load(Ordering::SeqCst));
        if let Some(p) = &self.options.parallel {
            interrupted = p.any(interrupted)?;
        }
        Ok(if interrupted {
            progress.line("interrupted: writing the checkpoint, the model and the report (interrupt again to quit at once)");
            Some(StopReason::Interrupted)
        } else if self.options.max_steps.is_some_and(|m| step >= m) {
            Some(StopReason::MaxSteps)
        } else {
            None
        })
    }

    /// Whether this process writes the run directory (always, but rank 0 only when data
    /// parallel).
    fn writes(&self) -> bool {
        self.options.parallel.as_ref().is_none_or(|p| p.is_writer())
    }

    /// Refuses settings that would run no step at all (the message gives the numbers).
    fn check_length(&self) -> Result<()> {
        if self.options.epochs == 0 {
            return Err(TrainError::Setup(
                "no training steps: epochs = 0 (the number of passes over the data must be at least 1)".into(),
            ));
        }
        if self.options.max_steps == Some(0) {
            return Err(TrainError::Setup(
                "no training steps: max_steps = 0 (must be at least 1, or left out)".into(),
            ));
        }
        if self.options.sync_every == 0 {
            return Err(TrainError::Setup(
                "sync_every = 0: the loss must be read on the host every 1 or more steps".into(),
            ));
        }
        Ok(())
    }

    /// Checkpoints a run stopped inside an epoch, at `at` (the position it resumes from).
    fn save_checkpoint_inside(
        &self,
        path: &Path,
        saved: &mut RunState,
        at: EpochProgress,
    ) -> Result<()> {
        saved.partial = Some(at);
        self.save_checkpoint(path, saved)
    }

    fn save_checkpoint(&self, path: &Path, saved: &mut RunState) -> Result<()> {
        saved.watch = Some(self.options.watch.clone());
        if !self.writes() {
            return Ok(());
        }
        checkpoint::save_with_model_metadata(
            path,
            self.model.as_ref(),
            &self.optimizer,
            self.plateau.as_ref(),
            saved,
            &self.model_metadata,
        )
    }

    /// Trains on `train`, validating on `val` each epoch, writing the run files into `out`.
    /// With `resume`, continues from `out/checkpoint.safetensors` (written at epoch ends, every
    /// `checkpoint_every_steps` steps, and where the run stopped, inside an epoch too) so that the
    /// final weights are bitwise identical to an uninterrupted run's.
    ///
    /// A run stopped inside an epoch (`max_steps`, an interrupt) ends `metrics.csv` with a row
    /// for the unfinished epoch, whose `step` column tells how far it got; a resumed run
    /// finishes that epoch and replaces the row. Reduce-on-plateau and early stopping only see
    /// whole epochs.
    ///
    /// # Errors
    /// On settings that give no training step (no samples, no batch, no epoch; the message gives
    /// the numbers), divergence (with the step, the layer and a hint), data that does not fit
    /// the model, or files that cannot be written.
    pub fn fit(
        &mut self,
        train: &Dataset,
        val: Option<&Dataset>,
        out: &Path,
        resume: bool,
    ) -> Result<Summary> {
        let result = self.fit_epochs(train, val, out, resume);
        let told = self.observe(|o| o.on_end(result.as_ref().ok()));
        let summary = result?;
        told.map(|()| summary)
    }

    fn fit_epochs(
        &mut self,
        train: &Dataset,
        val: Option<&Dataset>,
        out: &Path,
        resume: bool,
    ) -> Result<Summary> {
        let clock = PhaseClock::start();
        self.check_length()?;
        // optimizer errors then name a parameter by its module path (`layers.0.weight`)
        self.optimizer.name_params(&self.model.named_parameters());
        let batch_norm = crate::plan::has_batch_norm(self.model.as_ref());
        let batcher = crate::plan::epoch_batcher(
            train.len(),
            self.options.batch,
            self.options.seed,
            batch_norm,
        )
        .map_err(|e| match (e, val) {
            (TrainError::Setup(m), Some(v)) if train.is_empty() => {
                TrainError::Setup(format!("{m}; the validation set has {} samples", v.len()))
            }
            (e, _) => e,
        })?;
        // the noise-scale estimate compares a batch's two halves, which must be random samples:
        // a full batch is shuffled then too; otherwise its one gathered batch serves every epoch
        let split = self.options.noise_scale && self.options.parallel.is_none();
        let batcher = if split {
            batcher.shuffled(self.options.seed)
        } else {
            batcher
        };
        let keeps_batch = matches!(self.options.batch, BatchMode::Full) && !split;
        std::fs::create_dir_all(out).map_err(TrainError::io(out))?;
        let ckpt_path = out.join("checkpoint.safetensors");
        let mut saved = RunState::default();
        if resume {
            saved = checkpoint::load(
                &ckpt_path,
                self.model.as_ref(),
                &mut self.optimizer,
                self.plateau.as_mut(),
            )?;
            if let (Some(es), Some(state)) =
                (&mut self.options.early_stopping, &saved.early_stopping)
            {
                *es = state.clone();
            }
            if let Some(watch) = &saved.watch {
                self.options.watch.resume_from(watch);
            }
        }
        if let Some(p) = &self.options.parallel {
            p.broadcast_params(&self.named_params())?;
        }
        if self.options.curriculum_epochs > 0 && saved.curriculum.is_empty() {
            let scores = self.difficulty(train)?;
            let mut order: Vec<usize> = (0..train.len()).collect();
            order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
            saved.curriculum = order;
        }
        let window = self.options.divergence_window.clamp(1, train.len());
        let progress = Progress::new(true, self.options.quiet);
        let mut logs = EpochLogs::new(out);
        let params_count = self.model.num_parameters();
        progress.line(&format!(
            "training {} parameters on {} samples ({} validation)",
            params_count,
            train.len(),
            val.map_or(0, |v| v.len())
        ));
        if batcher.batches_per_epoch() < self.options.batch.batches_per_epoch(train.len()) {
            progress.line("note: the model has batch norm, which cannot train on one sample; the last batch of each epoch (one sample) is merged into the batch before it");
        }
        let mut stopped = StopReason::Completed;
        let mut unfinished = None;
        self.model.train(true);
        let first = saved.partial.as_ref().map_or(saved.epoch + 1, |p| p.epoch);
        // a full batch, with its rows, for the next epoch
        let mut kept: Option<(Vec<usize>, DeviceBatch)> = None;
        for epoch in first..=self.options.epochs {
            let started = Instant::now();
            let batches = self.epoch_batches(&batcher, epoch, &saved.curriculum);
            let (mut done, mut stats) = match saved.partial.take() {
                Some(p) if p.batches_total != batches.len() => {
                    return Err(TrainError::Checkpoint {
                        path: ckpt_path,
                        detail: format!("was written inside epoch {} of {} batches, but these settings cut it into {}; resume with the batch settings of the interrupted run", p.epoch, p.batches_total, batches.len()),
                    });
                }
                Some(p) => (p.batches_done, p.stats),
                None => (0, EpochStats::default()),
            };
            progress.epoch_started(epoch, batches.len());
            progress.skip(done);
            let site = StepSite {
                epoch,
                train_metrics: val.is_none_or(|v| v.is_empty()),
                window,
                ckpt: &ckpt_path,
                progress: &progress,
                clock: &clock,
            };
            let mut pending = Pending::default();
            while done < batches.len() {
                if let Some(reason) = self.halt(saved.step, &progress)? {
                    stopped = reason;
                    break;
                }
                let (idx, weight) = match &self.options.parallel {
                    Some(p) => {
                        let s = p.shard(&batches[done]);
                        (std::borrow::Cow::Owned(s.indices), s.weight)
                    }
                    None => (
                        std::borrow::Cow::Borrowed(batches[done].as_slice()),
                        batches[done].len(),
                    ),
                };
                let b = clock.time(Phase::Data, || -> Result<_> {
                    Ok(match &self.options.augment {
                        Some(a) => to_device_augmented(
                            train,
                            &idx,
                            &self.task,
                            self.options.dtype,
                            (a, self.options.seed, epoch as u64),
                        )?,
                        // a full batch steps on the same rows every epoch (curriculum epochs
                        // aside): gathered once
                        None => match &kept {
                            Some((rows, b)) if rows[..] == idx[..] => b.clone(),
                            _ => {
                                kept = None;
                                let b = to_device(train, &idx, &self.task, self.options.dtype)?;
                                if keeps_batch {
                                    kept = Some((idx.to_vec(), b.clone()));
                                }
                                b
                            }
                        },
                    })
                })?;
                let mut ledger = Ledger {
                    saved: &mut saved,
                    stats: &mut stats,
                    pending: &mut pending,
                };
                // the step's own diagnostics are counted as such, not as step time
                let (started_step, diagnostics) = (Instant::now(), clock.spent(Phase::Diagnostics));
                self.train_step(&b, weight, &site, &mut ledger)?;
                let inside = clock.spent(Phase::Diagnostics) - diagnostics;
                clock.add(Phase::Step, started_step.elapsed().saturating_sub(inside));
                done += 1;
                let every = self.options.checkpoint_every_steps;
                if every > 0 && ledger.saved.step.is_multiple_of(every) && done < batches.len() {
                    self.sync(&site, &mut ledger)?;
                    let at = EpochProgress::at(epoch, done, batches.len(), ledger.stats);
                    clock.time(Phase::Writing, || {
                        self.save_checkpoint_inside(&ckpt_path, ledger.saved, at)
                    })?;
                    ledger.saved.partial = None;
                }
            }
            // the epoch's last sync: its sums are complete before anything is written
            self.sync(
                &site,
                &mut Ledger {
                    saved: &mut saved,
                    stats: &mut stats,
                    pending: &mut pending,
                },
            )?;
            if done < batches.len() {
                // stopped inside the epoch: keep the position to resume (checkpoint first, so a
                // second interrupt during the evaluation below loses nothing), then record how
                // far it got
                let at = EpochProgress::at(epoch, done, batches.len(), &stats);
                clock.time(Phase::Writing, || {
                    self.save_checkpoint_inside(&ckpt_path, &mut saved, at)
                })?;
                if stats.batches > 0 {
                    let record = self.end_epoch(epoch, &stats, started, val, &saved, &clock)?;
                    progress.epoch_done(&format!(
                        "{}  [stopped after {done} of {} batches]",
                        epoch_line(&record),
                        batches.len()
                    ));
                    clock.time(Phase::Writing, || self.observe_epoch(&record))?;
                    unfinished = Some(record);
                }
                if self.writes() {
                    clock.time(Phase::Writing, || {
                        logs.write(&saved.history, unfinished.as_ref(), Durability::Replace)
                    })?;
                }
                break;
            }
            let record = self.end_epoch(epoch, &stats, started, val, &saved, &clock)?;
            progress.epoch_done(&epoch_line(&record));
            clock.time(Phase::Writing, || self.observe_epoch(&record))?;
            saved.epoch = epoch;
            saved.history.push(record.clone());
            if self.writes() {
                clock.time(Phase::Writing, || {
                    logs.write(&saved.history, None, Durability::Replace)
                })?;
            }
            let monitored = record.val_loss.unwrap_or(record.train_loss);
            if let Some(plateau) = &mut self.plateau {
                plateau.step(monitored);
            }
            let mut stop = false;
            if let Some(mut es) = self.options.early_stopping.take() {
                if es.improved(monitored) {
                    saved.best_epoch = epoch;
                    if self.writes() {
                        clock.time(Phase::Writing, || {
                            self.write_model(&out.join("best.safetensors"))
                        })?;
                    }
                }
                stop = es.should_stop();
                saved.early_stopping = Some(es.clone());
                self.options.early_stopping = Some(es);
            }
            if epoch < self.options.epochs && !stop {
                if let Some(reason) = self.halt(saved.step, &progress)? {
                    stopped = reason;
                }
            }
            let last = stop || epoch == self.options.epochs || stopped != StopReason::Completed;
            if last
                || (self.options.checkpoint_every > 0 && epoch % self.options.checkpoint_every == 0)
            {
                clock.time(Phase::Writing, || {
                    self.save_checkpoint(&ckpt_path, &mut saved)
                })?;
            }
            if stop {
                stopped = StopReason::EarlyStopped;
                break;
            }
            if stopped != StopReason::Completed {
                break;
            }
        }
        drop(kept);
        progress.finish();
        if let Some(p) = &self.options.parallel {
            // also a barrier: rank 0 has written best.safetensors before any rank reads it
            p.check_in_sync(&self.named_params())?;
        }
        self.finish(
            out,
            &mut logs,
            &saved,
            (unfinished, stopped, params_count),
            &clock,
        )
    }

    fn observe_epoch(&self, record: &EpochRecord) -> Result<()> {
        if self.options.observers.is_empty() {
            return Ok(());
        }
        let named = self.named_params();
        self.observe(|o| o.on_epoch_end(record, &named))
    }

    /// The task's metrics over the epoch's training batches, from their sums (added over the
    /// ranks of a data-parallel run).
    fn train_metrics(&self, s: &EpochStats) -> Result<Vec<(String, f64)>> {
        let mut sums = s.metric_sums.clone();
        if let Some(p) = &self.options.parallel {
            // every rank has the same number of sums: those of its task (zeros for no batch)
            sums.resize(self.task.metric_sums_len(), 0.0);
            p.communicator()
                .all_reduce_sum(&mut sums)
                .map_err(TrainError::from)?;
        }
        Ok(self.task.metrics_from_sums(&sums))
    }

    fn end_epoch(
        &self,
        epoch: usize,
        s: &EpochStats,
        started: Instant,
        val: Option<&Dataset>,
        saved: &RunState,
        clock: &PhaseClock,
    ) -> Result<EpochRecord> {
        let (val_loss, metrics) = match val {
            Some(v) if !v.is_empty() => {
                let (l, m) = clock.time(Phase::Validation, || self.evaluate(v))?;
                (Some(l), m)
            }
            // no validation set: the metrics of the epoch's training batches
            _ => (None, self.train_metrics(s)?),
        };
        Ok(EpochRecord {
            epoch,
            step: saved.step,
            train_loss: s.mean_loss(),
            val_loss,
            grad_norm: s.mean_grad_norm(),
            lr: self.lr(saved.step),
            update_ratio: s.mean_update_ratio(),
            metrics: metrics.into_iter().collect(),
            layer_grad_norms: s.mean_layer_norms(),
            layer_update_ratios: s.mean_layer_update_ratios(),
            noise_scale: s.noise.b_simple(),
            skipped_steps: self.options.precision.scales_loss().then_some(s.skipped),
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Writes the model with its metadata (atomically, streaming tensor by tensor).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_model(&self, path: &Path) -> Result<()> {
        crate::checkpoint_file::write(path, self.model.as_ref(), &[], self.model_metadata.clone())
            .map_err(TrainError::io(path))
    }

    fn finish(
        &mut self,
        out: &Path,
        logs: &mut EpochLogs,
        saved: &RunState,
        (unfinished, stopped, parameters): (Option<EpochRecord>, StopReason, usize),
        clock: &PhaseClock,
    ) -> Result<Summary> {
        let best_path = out.join("best.safetensors");
        if self.options.early_stopping.is_some() && self.options.restore_best && best_path.exists()
        {
            gradus_nn::state_dict::load(self.model.as_ref(), &best_path)?;
        }
        let best = saved
            .history
            .iter()
            .min_by(|a, b| {
                a.val_loss
                    .unwrap_or(a.train_loss)
                    .total_cmp(&b.val_loss.unwrap_or(b.train_loss))
            })
            .cloned();
        let mut summary = Summary {
            epochs: saved.epoch,
            steps: saved.step,
            stopped,
            last: unfinished.clone().or_else(|| saved.history.last().cloned()),
            best,
            parameters,
            warnings: saved.warnings.clone(),
            skipped_steps: saved.grad_scaler.as_ref().map_or(0, |s| s.skipped_steps()),
            time: PhaseTimes::default(),
        };
        if !self.writes() {
            summary.time = clock.times();
            return Ok(summary);
        }
        // the logs, appended to at each epoch without flushing, are flushed to disk once
        clock.time(Phase::Writing, || {
            logs.write(&saved.history, unfinished.as_ref(), Durability::Flushed)
        })?;
        summary.time = clock.times();
        self.write_model(&out.join("model.safetensors"))?;
        let json = serde_json::to_string_pretty(&summary).expect("summary serializes");
        checkpoint::write_atomic(&out.join("summary.json"), json.as_bytes())
            .map_err(TrainError::io(out.join("summary.json")))?;
        let table = summary_table(&summary);
        let records: Vec<EpochRecord> = saved.history.iter().cloned().chain(unfinished).collect();
        let html = crate::report::html_report("gradus training report", &table, &records);
        checkpoint::write_atomic(&out.join("report.html"), html.as_bytes())
            .map_err(TrainError::io(out.join("report.html")))?;
        Ok(summary)
    }
}

fn epoch_line(r: &EpochRecord) -> String {
    let mut s = format!("epoch {:>3}  train_loss {:.5}", r.epoch, r.train_loss);
    if let Some(v) = r.val_loss {
        s += &format!("  val_loss {v:.5}");
    }
    for (k, v) in &r.metrics {
        s += &format!("  {k} {v:.4}");
    }
    if let Some(n) = r.skipped_steps {
        s += &format!("  skipped_steps {n}");
    }
    s + &format!(
        "  grad_norm {:.3e}  lr {:.3e}  ({:.1}s)",
        r.grad_norm, r.lr, r.seconds
    )
}

fn summary_table(s: &Summary) -> Vec<(String, String)> {
    let mut rows = vec![
        ("epochs".into(), s.epochs.to_string()),
        ("steps".into(), s.steps.to_string()),
        ("stopped".into(), s.stopped.to_string()),
        ("parameters".into(), s.parameters.to_string()),
    ];
    if let Some(last) = &s.last {
        rows.push(("final train loss".into(), format!("{:.6}", last.train_loss)));
        if let Some(v) = last.val_loss {
            rows.push(("final validation loss".into(), format!("{v:.6}")));
        }
        for (k, v) in &last.metrics {
            rows.push((format!("final {k}"), format!("{v:.4}")));
        }
    }
    if s.time.total > 0.0 {
        rows.push(("time".into(), s.time.line()));
    }
    rows
}

/// The default run directory for a config file: `runs/<config stem>`.
///
/// ```
/// let d = gradus_train::trainer::default_run_dir(std::path::Path::new("examples/mnist-mlp.toml"));
/// assert_eq!(d, std::path::PathBuf::from("runs/mnist-mlp"));
/// ```
pub fn default_run_dir(config: &Path) -> PathBuf {
    PathBuf::from("runs").join(config.file_stem().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradus_nn::layers::Linear;
    use gradus_optim::Sgd;
    use gradus_tensor::Rng;

    fn trainer(curriculum_epochs: usize) -> Trainer {
        let model = Linear::new(1, 1, true, &mut Rng::seed(0));
        let params = model.parameters();
        Trainer {
            model: Box::new(model),
            optimizer: Optimizer::with_params(Sgd::new(0.1), &params).unwrap(),
            schedule: Schedule::Constant(0.1),
            plateau: None,
            task: Task::Regression { outputs: 1 },
            options: TrainOptions {
                curriculum_epochs,
                batch: BatchMode::MiniBatch {
                    size: 2,
                    drop_last: false,
                },
                ..TrainOptions::default()
            },
            model_metadata: BTreeMap::new(),
        }
    }

    #[test]
    fn curriculum_orders_the_first_epochs_easy_to_hard_then_shuffles() {
        // targets far from the initial model's outputs are hard: sample i has target 10 * i
        let x: Vec<f32> = vec![0.0; 6];
        let y: Vec<f32> = [3.0, 0.0, 5.0, 1.0, 4.0, 2.0]
            .iter()
            .map(|v| v * 10.0)
            .collect();
        let data = Dataset::new(
            x,
            vec![1],
            gradus_data::Targets::Values { values: y, dim: 1 },
        )
        .unwrap();
        let t = trainer(1);
        let scores = t.difficulty(&data).unwrap();
        let mut order: Vec<usize> = (0..6).collect();
        order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        let batcher = Batcher::new(6, t.options.batch).unwrap().shuffled(0);
        let first = t.epoch_batches(&batcher, 1, &order);
        assert_eq!(
            first,
            vec![vec![1, 3], vec![5, 0], vec![4, 2]],
            "easy (small targets) first"
        );
        assert_eq!(
            t.epoch_batches(&batcher, 2, &order),
            batcher.epoch(2),
            "then the shuffled order"
        );
    }
}
