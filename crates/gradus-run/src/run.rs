//! [`Run`]: a built run (data, model spec, trainer) and [`Run::train`], which trains it and
//! writes its run directory as `gradus train` does.

use crate::config::Config;
use crate::error::{Result, RunError};
use crate::setup::ModelSpec;
use gradus_data::Dataset;
use gradus_train::tensorboard::TensorBoardObserver;
use gradus_train::{Summary, Trainer};
use std::path::{Path, PathBuf};

/// A run built by [`RunBuilder`](crate::RunBuilder): its data shaped for the model and a ready
/// [`Trainer`] (model, optimizer, schedules, options). The fields may be changed before
/// [`train`](Run::train) (the CLI sets `trainer.options.interrupt` to its signal flag).
pub struct Run {
    /// The config the run was built from.
    pub config: Config,
    /// The model's description, stored in its model file (see [`crate::load_model`]).
    pub spec: ModelSpec,
    /// Training data, shaped `[samples, model input shape]`.
    pub train: Dataset,
    /// Validation data, if the config holds some out or names a file.
    pub val: Option<Dataset>,
    /// Test data, evaluated once after training, if the config names it.
    pub test: Option<Dataset>,
    /// The trainer: model, optimizer, schedule, plateau scheduler, task and options.
    pub trainer: Trainer,
    /// Optimizer steps per epoch (the schedules are sized from it).
    pub steps_per_epoch: u64,
    /// Warnings raised while building, in order.
    pub warnings: Vec<String>,
    pub(crate) out_dir: PathBuf,
    pub(crate) resume: bool,
}

/// The result of [`Run::train`].
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Final and best epochs, steps, why training ended (also in `summary.json`).
    pub summary: Summary,
    /// Loss and metrics on the test data, when the config names some and the run was not
    /// interrupted.
    pub test: Option<(f64, Vec<(String, f64)>)>,
}

impl Outcome {
    /// True when the run was stopped from outside (`trainer.options.interrupt` was set): its
    /// checkpoint is written and it can be resumed.
    pub fn interrupted(&self) -> bool {
        self.summary.stopped == gradus_train::StopReason::Interrupted
    }
}

impl Run {
    /// The run directory.
    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    /// Trains the model, resuming from the run directory's checkpoint when built with
    /// [`resume`](crate::RunBuilder::resume), then evaluates the test data (unless
    /// interrupted). Writes the run directory: `config.toml` (the resolved config, first),
    /// `metrics.csv`, `layers.csv`, `model.safetensors`, the checkpoint, `report.html`,
    /// `summary.json` (with the test results and `peak_memory_bytes`, the most tensor storage
    /// alive at once during training, see [`gradus_tensor::memory`]) and, with `train.tensorboard`, an event file in
    /// `tensorboard/`.
    ///
    /// # Errors
    /// The run directory cannot be made or written; training fails (divergence, data that does
    /// not fit the model, a checkpoint that cannot be resumed).
    pub fn train(&mut self) -> Result<Outcome> {
        let out = self.out_dir.clone();
        let writes = self.is_writer();
        std::fs::create_dir_all(&out).map_err(|source| RunError::RunDir {
            dir: out.clone(),
            source,
        })?;
        let write = |name: &str, bytes: &[u8]| {
            gradus_train::checkpoint::write_atomic(&out.join(name), bytes)
                .map_err(|e| RunError::Setup(format!("{}: {e}", out.display())))
        };
        let resolved = toml::to_string(&self.config).map_err(|e| e.to_string())?;
        if writes {
            write("config.toml", resolved.as_bytes())?;
        }
        if self.config.train.tensorboard && writes {
            let hparams = crate::hparams::hparams(&self.config);
            let tb = TensorBoardObserver::create(&out.join("tensorboard"), hparams)?;
            self.trainer.add_observer(tb);
        }
        if writes {
            self.trainer
                .add_observer(crate::steps::StepsCsv::new(&out, self.resume));
        }
        gradus_tensor::memory::reset_peak();
        let summary = self
            .trainer
            .fit(&self.train, self.val.as_ref(), &out, self.resume)?;
        // read before evaluation: the most tensor storage training held at once
        let peak_memory_bytes = gradus_tensor::memory::peak_bytes();
        let mut outcome = Outcome {
            summary,
            test: None,
        };
        let mut json = serde_json::to_value(&outcome.summary).map_err(|e| e.to_string())?;
        json["peak_memory_bytes"] = peak_memory_bytes.into();
        if let Some(test) = self.test.as_ref().filter(|_| !outcome.interrupted()) {
            let (loss, metrics) = self.trainer.evaluate(test)?;
            let mut t = serde_json::Map::new();
            t.insert("loss".into(), loss.into());
            for (k, v) in &metrics {
                t.insert(k.clone(), (*v).into());
            }
            json["test"] = serde_json::Value::Object(t);
            outcome.test = Some((loss, metrics));
        }
        let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
        if writes {
            write("summary.json", text.as_bytes())?;
            let html = self.report(&outcome)?;
            write("report.html", html.as_bytes())?;
        }
        if self.spec.model.lora.is_some() && !outcome.interrupted() {
            self.merge_lora(writes)?;
        }
        Ok(outcome)
    }

    /// Folds the LoRA adapters into the weights and rewrites `model.safetensors` as the plain
    /// model (its spec without `model.lora`), which PyTorch, `gradus export` and
    /// `model.init_from` take like any other; the checkpoint keeps the adapters.
    fn merge_lora(&mut self, writes: bool) -> Result<()> {
        gradus_nn::layers::merge_lora(self.trainer.model.as_ref()).map_err(|e| e.to_string())?;
        let mut plain = self.spec.clone();
        plain.model.lora = None;
        let json = serde_json::to_string(&plain).map_err(|e| e.to_string())?;
        self.trainer
            .model_metadata
            .insert(crate::SPEC_KEY.to_string(), json);
        self.spec = plain;
        if writes {
            self.trainer
                .write_model(&self.out_dir.join("model.safetensors"))?;
        }
        Ok(())
    }

    /// Text the trained model writes, for the report: a GPT or LSTM language model on text only.
    fn text_samples(&self) -> Result<Vec<(String, String)>> {
        use crate::generate::{generate, SampleOptions};
        if !["gpt", "lstm_lm"].contains(&self.spec.model.kind.as_str()) || self.spec.vocab.is_none()
        {
            return Ok(Vec::new());
        }
        (0..2)
            .map(|seed| {
                let options = SampleOptions {
                    tokens: 300,
                    temperature: 0.8,
                    top_k: None,
                    seed,
                };
                let text = generate(self.trainer.model.as_ref(), &self.spec, "", &options)?;
                Ok((format!("seed {seed}, temperature 0.8: "), text))
            })
            .collect()
    }

    /// The report page of the trained run, from its folder's files and the model.
    fn report(&self, outcome: &Outcome) -> Result<String> {
        use crate::report::{self, predictions, ReportInput};
        let files = report::run_files::RunFiles::read(&self.out_dir)?;
        let test = self.test.as_ref().filter(|_| outcome.test.is_some());
        let (data, name) = match (test, self.val.as_ref()) {
            (Some(t), _) => (t, "test"),
            (None, Some(v)) if !v.is_empty() => (v, "validation"),
            _ => (&self.train, "training"),
        };
        let s = &outcome.summary;
        let restored = self.trainer.options.early_stopping.is_some()
            && self.trainer.options.restore_best
            && self.out_dir.join("best.safetensors").exists();
        let weights_epoch = if restored {
            s.best.as_ref()
        } else {
            s.last.as_ref()
        }
        .map(|r| r.epoch);
        let input = ReportInput {
            title: self
                .out_dir
                .file_name()
                .map_or_else(|| "gradus run".into(), |n| n.to_string_lossy().into_owned()),
            test: outcome.test.clone(),
            parameters: self
                .trainer
                .model
                .named_parameters()
                .into_iter()
                .filter(|(_, p)| p.requires_grad())
                .map(|(n, p)| (n, p.tensor().shape().to_vec()))
                .collect(),
            train_samples: self.train.len(),
            thresholds: (
                self.trainer.options.watch.vanishing_below,
                self.trainer.options.watch.exploding_above,
            ),
            view: predictions::compute(&self.trainer, data, name)?,
            peak_memory: report::peak_memory(),
            weights_epoch,
            samples: self.text_samples()?,
        };
        Ok(report::page(&files, &input))
    }

    /// Whether this process writes the run directory: always, but only rank 0 when data
    /// parallel.
    pub fn is_writer(&self) -> bool {
        self.trainer
            .options
            .parallel
            .as_ref()
            .is_none_or(|p| p.is_writer())
    }
}
