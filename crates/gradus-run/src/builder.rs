//! [`RunBuilder`]: from a validated [`Config`] to a [`Run`] ready to train: the data read and
//! shaped for the model, the model with seeded weights, the optimizer and its schedules sized to
//! the steps the run will take, and the [`Trainer`] holding them.

use crate::config::{self, Config};
use crate::error::{Result, RunError};
use crate::model_file::SPEC_KEY;
use crate::run::Run;
use crate::setup::{self, reshape_for_model};
use gradus_data::Dataset;
use gradus_dist::{Communicator, GradientReducer, ReduceOrder};
use gradus_optim::Schedule;
use gradus_tensor::Rng;
use gradus_train::early_stop::EarlyStopping;
use gradus_train::hook::{GradientHook, SharedGradientHook};
use gradus_train::parallel::DataParallel;
use gradus_train::{TrainOptions, Trainer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a run writes when [`RunBuilder::out_dir`] is not called.
pub const DEFAULT_OUT_DIR: &str = "runs/run";

/// Builds a [`Run`] from a [`Config`], as `gradus train` does.
///
/// Warnings (a schedule shorter or longer than the run, `max_steps` out of reach, a resumed run
/// that changes its learning rate) are kept in [`Run::warnings`] and, as they arise, passed to
/// the [`on_warning`](RunBuilder::on_warning) callback if one is set (the CLI prints them).
pub struct RunBuilder {
    config: Config,
    out_dir: PathBuf,
    resume: bool,
    quiet: bool,
    on_warning: Option<WarningSink>,
    gradient_hook: Option<SharedGradientHook>,
    arrays: Option<(Dataset, Option<Dataset>)>,
    communicator: Option<Arc<dyn Communicator>>,
}

/// Where [`RunBuilder::on_warning`] sends warnings.
type WarningSink = Box<dyn FnMut(&str)>;

impl RunBuilder {
    /// A builder for a run of `config`, writing to [`DEFAULT_OUT_DIR`], not resuming, with
    /// progress output.
    pub fn new(config: Config) -> RunBuilder {
        RunBuilder {
            config,
            out_dir: PathBuf::from(DEFAULT_OUT_DIR),
            resume: false,
            quiet: false,
            on_warning: None,
            gradient_hook: None,
            arrays: None,
            communicator: None,
        }
    }

    /// The run directory: `metrics.csv`, `model.safetensors`, `config.toml`, `summary.json`,
    /// `report.html` and the checkpoint are written there.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> RunBuilder {
        self.out_dir = dir.into();
        self
    }

    /// Continue from the run directory's checkpoint. The config must be the one the run was
    /// started with, except for the keys in [`config::resume::MAY_CHANGE`]; `build` checks it
    /// against the run directory's `config.toml`.
    pub fn resume(mut self, resume: bool) -> RunBuilder {
        self.resume = resume;
        self
    }

    /// No progress output while training.
    pub fn quiet(mut self, quiet: bool) -> RunBuilder {
        self.quiet = quiet;
        self
    }

    /// Called with each warning as it arises (it is also kept in [`Run::warnings`]).
    pub fn on_warning(mut self, f: impl FnMut(&str) + 'static) -> RunBuilder {
        self.on_warning = Some(Box::new(f));
        self
    }

    /// Runs `hook` on every step's gradients, after backward and before the divergence guard and
    /// the optimizer step (see [`gradus_train::hook`]): all-reduce for data parallelism,
    /// unscaling for mixed precision, or gradient statistics plug in here. The built run's
    /// trainer holds it in [`TrainOptions::gradient_hook`]; a hook's error stops the run.
    ///
    /// ```
    /// use gradus_run::{Config, RunBuilder};
    /// use gradus_nn::Param;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let csv = dir.path().join("line.csv");
    /// std::fs::write(&csv, "x,y\n0,1\n1,3\n2,5\n3,7\n")?;
    /// let config = Config::from_toml_str(&format!(
    ///     "epochs = 3\n[data]\nformat = \"csv\"\npath = {csv:?}\ntarget = \"y\"\n\
    ///      task = \"regression\"\n[model]\nkind = \"linear\"\n\
    ///      [optimizer]\nname = \"sgd\"\nlr = 0.01\n[batch]\nmode = \"full\"\n"
    /// ))?;
    /// let steps = Arc::new(AtomicU64::new(0));
    /// let seen = Arc::clone(&steps);
    /// let mut run = RunBuilder::new(config)
    ///     .out_dir(dir.path().join("run"))
    ///     .quiet(true)
    ///     .gradient_hook(move |params: &[(String, Param)], step: u64| {
    ///         assert_eq!(params[0].0, "weight"); // trainable parameters by name
    ///         seen.store(step, Ordering::SeqCst);
    ///         Ok(())
    ///     })
    ///     .build()?;
    /// run.train()?;
    /// assert_eq!(steps.load(Ordering::SeqCst), 3); // full batch: one step per epoch
    /// # Ok(()) }
    /// ```
    pub fn gradient_hook(mut self, hook: impl GradientHook + 'static) -> RunBuilder {
        self.gradient_hook = Some(SharedGradientHook::new(hook));
        self
    }

    /// Trains on these samples (and validates on `val`) instead of reading the config's data
    /// files: the Python package's `fit(X, y)` comes through here. `[data]` still gives the
    /// task, `validation` (a fraction held out of `train` when `val` is `None`) and
    /// `standardize`; see [`crate::arrays::spec_for`].
    pub fn data(mut self, train: Dataset, val: Option<Dataset>) -> RunBuilder {
        self.arrays = Some((train, val));
        self
    }

    /// Trains data parallel over the ranks of `comm` (an `MpiCommunicator` under `mpirun`):
    /// every rank builds the same run, trains on its shard of each global batch with gradients
    /// averaged by the config's `[distributed]` settings, and only rank 0 writes the run
    /// directory (see [`gradus_train::parallel`]). A group of one rank trains as without it.
    pub fn communicator(mut self, comm: Arc<dyn Communicator>) -> RunBuilder {
        self.communicator = Some(comm);
        self
    }

    /// Reads the data, builds the model, the schedules and the optimizer, and the trainer.
    ///
    /// # Errors
    /// A data file that cannot be read or does not fit the config (naming the file and the
    /// problem), a model that does not fit the data, a schedule or optimizer that cannot be
    /// built (naming the key), or, when resuming, a config that changed keys a resumed run must
    /// keep ([`RunError::Resume`]).
    pub fn build(mut self) -> Result<Run> {
        let arrays = self.arrays.take();
        let c = &self.config;
        let dtype = setup::dtype_of(&c.dtype)?;
        let (data, spec) = match arrays {
            Some((train, val)) => crate::arrays::spec_for(c, train, val)?,
            None => setup::load_data(c)?,
        };
        let augment = augment_for(c, data.train.feature_shape())?;
        let shape = spec.model_input_shape();
        let train = reshape_for_model(data.train, &shape)?;
        let val = data.val.map(|v| reshape_for_model(v, &shape)).transpose()?;
        let test = data
            .test
            .map(|t| reshape_for_model(t, &shape))
            .transpose()?;
        let mut rng = Rng::seed(c.seed);
        let model = spec.build_base(&mut rng)?;
        if let Some(path) = &c.model.init_from {
            crate::init_from::load_weights(model.as_ref(), path)?;
        }
        spec.add_lora(model.as_ref(), &mut rng)?;
        let precision = gradus_train::precision::Precision::parse(
            c.train.precision.as_deref().unwrap_or("f32"),
        )?;
        // pure 16 bits: the model is cast before the optimizer makes its state
        let dtype = precision.model_dtype(dtype);
        model.cast(dtype).map_err(|e| e.to_string())?;
        let batch = setup::batch_mode(c)?;
        // the schedule follows the steps the run will take (the trainer's own count per epoch)
        let batch_norm = gradus_train::plan::has_batch_norm(model.as_ref());
        let steps_per_epoch = gradus_train::plan::steps_per_epoch(train.len(), batch, batch_norm);
        let run = setup::run_schedule(c, steps_per_epoch)?;
        let mut warnings = Vec::new();
        let mut warn = |w: String| {
            if let Some(f) = self.on_warning.as_mut() {
                f(&w);
            }
            warnings.push(w);
        };
        run.warnings.into_iter().for_each(&mut warn);
        if self.resume {
            check_resume(&self.out_dir, c, steps_per_epoch, &run.lr, &mut warn)?;
        }
        let (schedule, plateau, momentum) = (run.lr, run.plateau, run.momentum);
        let optimizer = setup::optimizer(&c.optimizer, model.as_ref(), &schedule, momentum)?;
        let options = TrainOptions {
            epochs: c.epochs,
            max_steps: c.max_steps,
            batch,
            seed: c.seed,
            dtype,
            early_stopping: c
                .train
                .early_stopping_patience
                .map(|p| EarlyStopping::new(p, c.train.min_delta)),
            restore_best: c.train.restore_best.unwrap_or(true),
            checkpoint_every: c.train.checkpoint_every,
            checkpoint_every_steps: c.train.checkpoint_every_steps,
            divergence_factor: c.train.divergence_factor,
            curriculum_epochs: c.train.curriculum_epochs,
            sync_every: c.train.sync_every,
            noise_scale: c.train.noise_scale,
            quiet: self.quiet,
            gradient_hook: self.gradient_hook.take(),
            parallel: self.data_parallel()?,
            precision,
            stochastic_rounding: c.train.stochastic_rounding,
            augment,
            ..TrainOptions::default()
        };
        let spec_json = serde_json::to_string(&spec).map_err(|e| e.to_string())?;
        let trainer = Trainer {
            model,
            optimizer,
            schedule,
            plateau,
            task: spec.task(),
            options,
            model_metadata: BTreeMap::from([(SPEC_KEY.to_string(), spec_json)]),
        };
        Ok(Run {
            config: self.config,
            spec,
            train,
            val,
            test,
            trainer,
            steps_per_epoch,
            warnings,
            out_dir: self.out_dir,
            resume: self.resume,
        })
    }
}

impl RunBuilder {
    /// The data-parallel seam for a communicator of more than one rank.
    fn data_parallel(&self) -> Result<Option<DataParallel>> {
        let Some(comm) = self.communicator.clone().filter(|c| c.size() > 1) else {
            return Ok(None);
        };
        let d = self.config.distributed.clone().unwrap_or_default();
        let order = if d.deterministic {
            ReduceOrder::Fixed
        } else {
            ReduceOrder::Transport
        };
        let reducer = GradientReducer::new(d.bucket_cap_mb, order)
            .map_err(|e| RunError::Setup(format!("distributed.bucket_cap_mb: {e}")))?
            .with_overlap(d.overlap);
        comm.set_timeout(
            std::time::Duration::try_from_secs_f64(d.timeout_s).unwrap_or(std::time::Duration::MAX),
        );
        Ok(Some(DataParallel::new(comm, reducer)))
    }
}

/// Before resuming: the config must be the one the run in `out` was started with, except for
/// its length and checkpoints ([`config::resume`]); when the length changed, a schedule sized to
/// the run is rebuilt for the new length, and the user hears that the result then differs from a
/// straight run of that length.
fn check_resume(
    out: &Path,
    c: &Config,
    steps_per_epoch: u64,
    lr: &Schedule,
    warn: &mut impl FnMut(String),
) -> Result<(), RunError> {
    let saved = out.join("config.toml");
    let Ok(text) = std::fs::read_to_string(&saved) else {
        return Ok(()); // no run there: the checkpoint's absence is reported when it is read
    };
    // paths compared resolved: runs written before paths were resolved hold them relative to
    // the working directory, and a config given as a string may hold them unresolved
    let mut previous = Config::parse(&text, &saved.display().to_string(), &[])?;
    config::paths::resolve_config(&mut previous, Path::new("."), &[]);
    let mut resolved = c.clone();
    config::paths::resolve_config(&mut resolved, Path::new("."), &[]);
    let c = &resolved;
    config::resume::check(&previous, c)?;
    for (key, before, now) in config::resume::changes(&previous, c) {
        if key.starts_with("optimizer.") {
            warn(format!(
                "resuming with {key} = {now} (the run used {before} so far)"
            ));
        }
    }
    let steps = |c: &Config| setup::run_steps(c.epochs, steps_per_epoch, c.max_steps).0;
    let (before, now) = (steps(&previous), steps(c));
    // the schedule as it would be for the old length (everything else as now: a changed
    // optimizer.lr is reported above); warn only when the two differ at a step this run takes
    let sized_to_run = || -> Result<bool, RunError> {
        let mut old = c.clone();
        (old.epochs, old.max_steps) = (previous.epochs, previous.max_steps);
        let old_lr = setup::run_schedule(&old, steps_per_epoch)?.lr;
        Ok((0..before.max(now)).any(|t| old_lr.value(t) != lr.value(t)))
    };
    if before != now && lr.horizon().is_some() && sized_to_run()? {
        warn(format!(
            "the run being resumed was {before} steps long and is now {now}: its \
             learning-rate schedule is rebuilt for {now} steps, so from the step it resumes at the \
             rate follows the new schedule and the result differs from a straight {now}-step run"
        ));
    }
    Ok(())
}

/// The augmentation `[data] augment` asks for, of training samples of `shape` (as read, before
/// the model's reshape: `[1, 28, 28]` for MNIST).
///
/// # Errors
/// [`RunError::Setup`] naming `data.augment` when the samples are not images.
fn augment_for(c: &Config, shape: &[usize]) -> Result<Option<gradus_data::Augment>> {
    c.data
        .augment
        .as_ref()
        .map(|a| {
            gradus_data::Augment::new(a.params(), shape)
                .map_err(|e| RunError::Setup(format!("data.augment: {e}")))
        })
        .transpose()
}
