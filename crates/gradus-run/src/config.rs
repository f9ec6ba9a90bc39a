//! The TOML config of a run. Every table rejects unknown keys, so a typo is an error that names it,
//! and every value is checked against its allowed range before the run starts ([`Config::validate`]).

pub(crate) mod check;
mod data_rules;
pub mod dist;
#[cfg(test)]
mod fuzz;
pub mod keys;
mod optim_rules;
pub mod paths;
pub mod resume;
#[cfg(test)]
mod tests;
mod validate;

pub use check::{ConfigError, Invalid};
pub use dist::{DistributedConfig, FederatedConfig};

use crate::error::{Result, RunError};
use serde::{Deserialize, Serialize};

/// A whole run: data, model, optimizer, schedule, batching and training options.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Seeds initialization, data order and dropout.
    #[serde(default)]
    pub seed: u64,
    /// Passes over the training data, at least 1 (`max_steps` may end the run earlier).
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// Stop after this many optimizer steps.
    #[serde(default)]
    pub max_steps: Option<u64>,
    /// "f32" (default) or "f64".
    #[serde(default = "default_dtype")]
    pub dtype: String,
    /// Where the data comes from.
    pub data: DataConfig,
    /// The model.
    pub model: ModelConfig,
    /// The optimizer.
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule (constant when absent).
    #[serde(default)]
    pub schedule: Option<ScheduleConfig>,
    /// Batching.
    #[serde(default)]
    pub batch: BatchConfig,
    /// Early stopping, checkpoints, divergence.
    #[serde(default)]
    pub train: TrainConfig,
    /// Data-parallel settings under `mpirun` (see `docs/distributed.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributed: Option<DistributedConfig>,
    /// Federated averaging instead of ordinary training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated: Option<FederatedConfig>,
}

fn default_epochs() -> usize {
    10
}
fn default_dtype() -> String {
    "f32".into()
}

/// Data source and preprocessing.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// "csv", "mnist" (also Fashion-MNIST: same files), "libsvm", "text" or "ratings".
    pub format: String,
    /// File (csv, libsvm, text, ratings) or folder (mnist).
    pub path: String,
    /// "classification", "binary" or "regression" (csv and libsvm; mnist is classification).
    #[serde(default)]
    pub task: Option<String>,
    /// Target column (csv).
    #[serde(default)]
    pub target: Option<String>,
    /// Feature columns (csv); all other columns when absent.
    #[serde(default)]
    pub features: Option<Vec<String>>,
    /// Number of features (libsvm), when the file does not show the largest index.
    #[serde(default)]
    pub n_features: Option<usize>,
    /// Fraction of the training file held out for validation.
    #[serde(default)]
    pub validation: Option<f64>,
    /// A separate validation file (same format).
    #[serde(default)]
    pub validation_path: Option<String>,
    /// A test file or folder evaluated once at the end (mnist: "test" uses the test split).
    #[serde(default)]
    pub test_path: Option<String>,
    /// Standardize features with statistics of the training part (stored with the model).
    #[serde(default)]
    pub standardize: bool,
    /// Use only the first this-many training samples (quick runs).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Tokens per training window (text).
    #[serde(default)]
    pub block_size: Option<usize>,
    /// Random shifts, rotations, zooms and flips of the training images (mnist), drawn per
    /// sample and epoch from the run's seed; validation and test data are never augmented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub augment: Option<AugmentConfig>,
}

/// `[data] augment = { ... }`: torchvision's `RandomAffine(degrees = rotation, translate =
/// (shift, shift), scale = scale, fill = fill)` after `RandomHorizontalFlip(hflip)`, on the
/// training split only (see [`gradus_data::augment`] for the geometry).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AugmentConfig {
    /// Largest shift as a fraction of the width and height (torchvision's `translate`),
    /// rounded to whole pixels: 0.1 moves a 28-pixel digit by up to 3 pixels each way.
    #[serde(default)]
    pub shift: f64,
    /// Largest rotation in degrees; the angle is uniform in [-rotation, rotation].
    #[serde(default)]
    pub rotation: f64,
    /// Zoom range [min, max]; the factor is uniform in it.
    #[serde(default = "unit_scale")]
    pub scale: [f64; 2],
    /// Probability of a left-right mirror (not for digits).
    #[serde(default)]
    pub hflip: f64,
    /// The value read outside the image, in the data's units (after `data.standardize`).
    #[serde(default)]
    pub fill: f64,
}

fn unit_scale() -> [f64; 2] {
    [1.0, 1.0]
}

impl AugmentConfig {
    /// The library's parameters ([`gradus_data::augment::AugmentParams`]).
    ///
    /// ```
    /// let c = gradus_run::Config::from_toml_str("[data]\nformat = \"mnist\"\npath = \"d\"\naugment = { shift = 0.1, rotation = 10 }\n[model]\nkind = \"cnn\"\n[optimizer]\nname = \"sgd\"\nlr = 0.1\n")?;
    /// let p = c.data.augment.unwrap().params();
    /// assert_eq!((p.shift, p.rotation, p.scale, p.hflip), (0.1, 10.0, [1.0, 1.0], 0.0));
    /// # Ok::<(), gradus_run::RunError>(())
    /// ```
    pub fn params(&self) -> gradus_data::augment::AugmentParams {
        gradus_data::augment::AugmentParams {
            shift: self.shift,
            rotation: self.rotation,
            scale: self.scale,
            hflip: self.hflip,
            fill: self.fill as f32,
        }
    }
}

/// Model architecture.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// "linear", "logistic", "softmax", "mlp", "cnn", "lstm", "lstm_lm" (a character-level
    /// LSTM language model on text), "gpt" or "mf".
    pub kind: String,
    /// Hidden layer sizes (mlp).
    #[serde(default)]
    pub hidden: Vec<usize>,
    /// Activation (mlp): relu, tanh, sigmoid, gelu, silu, leaky_relu, elu.
    #[serde(default)]
    pub activation: Option<String>,
    /// LSTM hidden size (lstm, lstm_lm: also its embedding width) / GPT embedding width / MF
    /// factor count.
    #[serde(default)]
    pub width: Option<usize>,
    /// LSTM (lstm, lstm_lm) or transformer layers.
    #[serde(default)]
    pub layers: Option<usize>,
    /// Attention heads (gpt).
    #[serde(default)]
    pub heads: Option<usize>,
    /// Tie the GPT's output projection to its token embedding.
    #[serde(default)]
    pub tie_weights: bool,
    /// Recompute each GPT transformer block's activations in the backward pass instead of
    /// keeping them (`torch.utils.checkpoint`): less memory, one more forward per block (gpt).
    #[serde(default)]
    pub checkpoint_activations: bool,
    /// A trained gradus model file to start from (a run's `model.safetensors` or checkpoint):
    /// its weights replace the fresh ones (names and shapes must match), a text run encodes
    /// its data with the file's vocabulary, and a run with `data.standardize` keeps the file's
    /// scaler. A relative path resolves against the config file's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<String>,
    /// LoRA adapters: the model is frozen and only the adapters train (see [`LoraConfig`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora: Option<LoraConfig>,
}

/// `[model.lora]`: low-rank adapters (Hu et al. 2021) on the layers `target_modules` names,
/// with PEFT's `LoraConfig` names and defaults (`r = 8`, `lora_alpha = 8`). The rest of the
/// model is frozen; the run's `model.safetensors` holds the model with the adapters merged
/// into its weights (a plain model), its checkpoint the adapters themselves.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LoraConfig {
    /// Rank `r` of each adapter.
    #[serde(default = "default_lora_rank")]
    pub rank: usize,
    /// The adapters' scale is `alpha / rank`.
    #[serde(default = "default_lora_alpha")]
    pub alpha: f64,
    /// Layer names (`in_proj`, `out_proj`, `linear1`, `linear2` in a GPT block; `0`, `2` in
    /// an MLP): a layer matches when its dotted name equals one or ends with `.` and one.
    #[serde(default = "default_lora_targets")]
    pub target_modules: Vec<String>,
}

fn default_lora_rank() -> usize {
    8
}

fn default_lora_alpha() -> f64 {
    8.0
}

fn default_lora_targets() -> Vec<String> {
    vec!["in_proj".into()]
}

impl LoraConfig {
    /// The library's parameters ([`gradus_nn::layers::LoraConfig`]).
    ///
    /// ```
    /// let c = gradus_run::Config::from_toml_str("[data]\nformat = \"text\"\npath = \"t.txt\"\nblock_size = 8\n[model]\nkind = \"gpt\"\nlora = { rank = 4 }\n[optimizer]\nname = \"adam\"\nlr = 0.01\n")?;
    /// let p = c.model.lora.unwrap().params();
    /// assert_eq!((p.rank, p.alpha, p.target_modules), (4, 8.0, vec!["in_proj".to_string()]));
    /// # Ok::<(), gradus_run::RunError>(())
    /// ```
    pub fn params(&self) -> gradus_nn::layers::LoraConfig {
        gradus_nn::layers::LoraConfig {
            rank: self.rank,
            alpha: self.alpha,
            target_modules: self.target_modules.clone(),
        }
    }
}

impl DataConfig {
    /// The task the data implies: "classification" for mnist and text, "regression" for
    /// ratings, otherwise `task` ("classification" when absent).
    ///
    /// ```
    /// let c = gradus_run::Config::parse("[data]\nformat = \"mnist\"\npath = \"d\"\n[model]\nkind = \"mlp\"\n[optimizer]\nname = \"sgd\"\nlr = 0.1\n", "c", &[]).unwrap();
    /// assert_eq!(c.data.task(), "classification");
    /// ```
    pub fn task(&self) -> &str {
        data_rules::task_of(self)
    }

    /// Whether the run holds out validation data (a fraction or a file), so that `val_loss`
    /// is written.
    pub fn has_validation(&self) -> bool {
        self.validation.is_some_and(|f| f > 0.0) || self.validation_path.is_some()
    }
}

/// Optimizer name and hyperparameters (PyTorch names).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// sgd, adam, adamw, rmsprop, adagrad, adadelta, adamax, nadam, radam, lion, lamb, lars,
    /// adabelief, yogi, kfac, natural_gradient, learned.
    pub name: String,
    /// Learning rate (the schedule's base).
    pub lr: f64,
    /// Momentum (sgd, rmsprop, lars, kfac).
    #[serde(default)]
    pub momentum: Option<f64>,
    /// Nesterov momentum (sgd).
    #[serde(default)]
    pub nesterov: bool,
    /// Weight decay (L2 for sgd/adam..., decoupled for adamw/lion/lamb).
    #[serde(default)]
    pub weight_decay: Option<f64>,
    /// Leave biases and normalization weights (1-D parameters) out of weight decay.
    #[serde(default)]
    pub no_decay_on_bias: bool,
    /// Adam-family betas.
    #[serde(default)]
    pub betas: Option<[f64; 2]>,
    /// Numerical epsilon.
    #[serde(default)]
    pub eps: Option<f64>,
    /// AMSGrad variant (adam, adamw).
    #[serde(default)]
    pub amsgrad: bool,
    /// Clip gradients to this global norm before the update.
    #[serde(default)]
    pub clip_grad_norm: Option<f64>,
    /// The dtype of the optimizer's per-parameter state (moments, accumulators): "f32" or "f64";
    /// the parameters' dtype (`dtype`) when absent. optax's `mu_dtype`, e.g. f64 moments for f32
    /// parameters ([`GradientTransformation::state_dtype`](gradus_optim::GradientTransformation::state_dtype)).
    /// A resumed run keeps the state dtype it was started with.
    #[serde(default)]
    pub state_dtype: Option<String>,
    /// Tikhonov damping λ (kfac: 1e-3, split between the Kronecker factors by the π-correction;
    /// natural_gradient: 1e-3, added to the Fisher).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub damping: Option<f64>,
    /// kfac: decay of the Kronecker factors' running averages (0.95).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat_decay: Option<f64>,
    /// kfac: the KL-clipping bound of the update (1e-3; 0 turns clipping off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kl_clip: Option<f64>,
    /// kfac: steps between updates of the Kronecker factors (10; KFAC-pytorch's `TCov`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat_freq: Option<u64>,
    /// kfac: steps between inversions of the factors (100; KFAC-pytorch's `TInv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inv_freq: Option<u64>,
    /// learned: the safetensors file of the learned optimizer's network, relative to the config
    /// file's folder (written by the `learned_optimizer` example; `lr` scales its step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<String>,
}

/// Learning-rate schedule.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// constant, step, multistep, exponential, cosine, warm_restarts, onecycle, polynomial,
    /// plateau.
    pub name: String,
    /// Linear warmup steps before the schedule (not for onecycle and plateau).
    #[serde(default)]
    pub warmup_steps: Option<u64>,
    /// step: steps between decays; warm_restarts: first period.
    #[serde(default)]
    pub step_size: Option<u64>,
    /// multistep: decay steps.
    #[serde(default)]
    pub milestones: Option<Vec<u64>>,
    /// Decay factor (step, multistep, exponential, plateau).
    #[serde(default)]
    pub gamma: Option<f64>,
    /// Floor of cosine schedules.
    #[serde(default)]
    pub min_lr: Option<f64>,
    /// warm_restarts: period multiplier.
    #[serde(default)]
    pub t_mult: Option<u64>,
    /// Total steps (cosine, onecycle, polynomial); the steps the run takes when absent
    /// (epochs x batches per epoch, or max_steps if that is reached first).
    #[serde(default)]
    pub total_steps: Option<u64>,
    /// onecycle: peak rate (default: the optimizer's lr).
    #[serde(default)]
    pub max_lr: Option<f64>,
    /// plateau: epochs without improvement before decaying.
    #[serde(default)]
    pub patience: Option<u64>,
    /// polynomial: exponent.
    #[serde(default)]
    pub power: Option<f64>,
}

/// Batching.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// "minibatch" (default), "full" (batch gradient descent) or "stochastic" (one sample).
    #[serde(default = "default_mode")]
    pub mode: String,
    /// Mini-batch size (minibatch mode only; 32 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
    /// Drop the last incomplete mini-batch.
    #[serde(default)]
    pub drop_last: bool,
}

fn default_mode() -> String {
    "minibatch".into()
}
/// The mini-batch size when `batch.size` is absent.
pub const DEFAULT_BATCH_SIZE: usize = 32;

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            mode: default_mode(),
            size: None,
            drop_last: false,
        }
    }
}

/// Training options.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Stop after this many epochs without validation improvement.
    #[serde(default)]
    pub early_stopping_patience: Option<usize>,
    /// Smallest improvement that counts.
    #[serde(default)]
    pub min_delta: f64,
    /// Restore the best epoch's weights at the end (with early stopping; true when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_best: Option<bool>,
    /// Checkpoint every this many epochs (0: only at the end).
    #[serde(default = "one")]
    pub checkpoint_every: usize,
    /// Also checkpoint every this many optimizer steps, inside epochs too (0: never); for runs
    /// with long epochs.
    #[serde(default)]
    pub checkpoint_every_steps: u64,
    /// Stop when the loss exceeds this multiple of its start.
    #[serde(default = "default_divergence")]
    pub divergence_factor: f64,
    /// Easy-to-hard ordering for the first epochs.
    #[serde(default)]
    pub curriculum_epochs: usize,
    /// Read the loss and gradient norms on the host every this many steps (the divergence guard
    /// runs then, over every step since the last read); 1 reads every step. On a GPU a larger
    /// value keeps steps from stalling on the host; the recorded values are the same.
    #[serde(default = "one_u64")]
    pub sync_every: u64,
    /// Log the run for TensorBoard into `RUN/tensorboard/` (losses, metrics, learning rate,
    /// gradient norms per layer, update ratios, weight and gradient histograms, the
    /// hyperparameters); see `gradus_train::tensorboard`.
    #[serde(default)]
    pub tensorboard: bool,
    /// Estimate the gradient noise scale `B_simple` (McCandlish et al. 2018), the critical batch
    /// size, into `metrics.csv`'s `noise_scale` column: each batch's backward runs as two
    /// micro-batches (same gradient, a little slower). Data-parallel runs estimate it from the
    /// ranks' gradients whatever this says. See `gradus_train::noise_scale`.
    #[serde(default)]
    pub noise_scale: bool,
    /// Mixed precision: "bf16-mixed" or "f16-mixed" (matmul and conv inputs rounded to 16 bits,
    /// f32 parameters, optimizer state, reductions and losses; f16 with dynamic loss scaling),
    /// or the run's `dtype` everywhere when absent (see `gradus_train::precision`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<String>,
    /// With `precision = "bf16-true"`: round the optimizer's bf16 parameter updates
    /// stochastically (unbiased: updates below half a bf16 step still count in expectation)
    /// instead of to nearest. See `gradus_tensor::precision::stochastic`.
    #[serde(default)]
    pub stochastic_rounding: bool,
}

fn one_u64() -> u64 {
    1
}

fn one() -> usize {
    1
}
fn default_divergence() -> f64 {
    1e3
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            early_stopping_patience: None,
            min_delta: 0.0,
            restore_best: None,
            checkpoint_every: 1,
            checkpoint_every_steps: 0,
            divergence_factor: default_divergence(),
            curriculum_epochs: 0,
            sync_every: 1,
            tensorboard: false,
            noise_scale: false,
            precision: None,
            stochastic_rounding: false,
        }
    }
}

impl Config {
    /// Reads and validates the config file at `path` ([`Config::parse`] with no overrides). The
    /// file is decoded as every text reader of gradus decodes (a byte-order mark dropped,
    /// invalid UTF-8 located by line and column).
    ///
    /// Relative paths in it resolve against the file's folder ([`paths`]).
    ///
    /// # Errors
    /// The file cannot be read; or as [`Config::parse`], naming the file.
    pub fn from_toml_file(path: impl AsRef<std::path::Path>) -> Result<Config> {
        let path = path.as_ref();
        let text = gradus_data::text::read_text(path)?;
        Config::parse_file(&text, path, &[])
    }

    /// [`Config::parse`] of the text of the config file at `path`, its relative paths resolved
    /// against the file's folder and those set by `overrides` against the working directory
    /// ([`paths::resolve_config`]); errors name the file.
    ///
    /// ```
    /// let c = gradus_run::Config::parse_file(
    ///     "[data]\nformat = \"csv\"\npath = \"../data/rows.csv\"\ntarget = \"y\"\ntask = \"regression\"\n\
    ///      [model]\nkind = \"linear\"\n[optimizer]\nname = \"sgd\"\nlr = 0.1\n",
    ///     std::path::Path::new("/repo/examples/rows.toml"),
    ///     &[],
    /// )?;
    /// assert_eq!(c.data.path, "/repo/data/rows.csv");
    /// # Ok::<(), gradus_run::RunError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Config::parse`].
    pub fn parse_file(text: &str, path: &std::path::Path, overrides: &[String]) -> Result<Config> {
        let source = path.display().to_string();
        let mut config = read(text, &source, overrides)?;
        let set: Vec<String> = overrides
            .iter()
            .filter_map(|o| o.split_once('=').map(|(k, _)| k.trim().to_string()))
            .collect();
        paths::resolve_config(&mut config, paths::folder_of(path), &set);
        config.validate().map_err(|error| RunError::Invalid {
            file: source,
            error,
        })?;
        Ok(config)
    }

    /// Parses and validates a config held in a string; errors name it `config`.
    ///
    /// ```
    /// let c = gradus_run::Config::from_toml_str(
    ///     "[data]\nformat = \"csv\"\npath = \"rows.csv\"\ntarget = \"y\"\n\
    ///      [model]\nkind = \"mlp\"\nhidden = [8]\n[optimizer]\nname = \"adam\"\nlr = 0.01\n",
    /// )?;
    /// assert_eq!(c.epochs, 10); // the default
    /// let e = gradus_run::Config::from_toml_str("epochs = 0\n").unwrap_err();
    /// assert!(e.to_string().starts_with("config: "), "{e}");
    /// # Ok::<(), gradus_run::RunError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Config::parse`].
    pub fn from_toml_str(text: &str) -> Result<Config> {
        Config::parse(text, "config", &[])
    }

    /// Parses a config, applying `key.path=value` overrides first (the CLI's `--set`), and
    /// validates it ([`Config::validate`]). Values are TOML (`0.01`, `true`, `[64, 32]`);
    /// anything that does not parse as TOML is taken as a string. `source` names the config in
    /// errors (its path).
    ///
    /// # Errors
    /// A [`RunError`] naming the source and the unknown key or bad value, with line and column
    /// for errors in the text and the allowed range for values out of range.
    pub fn parse(text: &str, source: &str, overrides: &[String]) -> Result<Config> {
        parse(text, source, overrides)
    }
}

/// [`Config::parse`].
fn parse(text: &str, source: &str, overrides: &[String]) -> Result<Config> {
    let config = read(text, source, overrides)?;
    config.validate().map_err(|error| RunError::Invalid {
        file: source.to_string(),
        error,
    })?;
    Ok(config)
}

/// [`parse`] without the validation.
fn read(text: &str, source: &str, overrides: &[String]) -> Result<Config> {
    let toml_error = |e: toml::de::Error| RunError::Toml {
        file: source.to_string(),
        message: plain_types(&e.to_string()),
    };
    if overrides.is_empty() {
        return toml::from_str::<Config>(text).map_err(toml_error);
    }
    let mut value: toml::Table = toml::from_str(text).map_err(toml_error)?;
    for o in overrides {
        let refused = |problem: String| RunError::Override {
            assignment: o.clone(),
            problem,
        };
        let (key, raw) = o
            .split_once('=')
            .ok_or_else(|| refused("expected key=value, e.g. optimizer.lr=0.01".into()))?;
        let parsed: toml::Value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.to_string()));
        set_path(&mut value, key.trim(), parsed).map_err(refused)?;
    }
    let text = toml::to_string(&value).map_err(|e| RunError::Setup(e.to_string()))?;
    toml::from_str::<Config>(&text).map_err(|e| RunError::OverriddenToml {
        file: source.to_string(),
        key: e.span().and_then(|span| key_at(&text, span.start)),
        message: plain_types(e.message().trim_end()),
    })
}

/// A TOML error with Rust's type names (`expected usize`) in the words of a config's reader.
///
/// ```text
/// invalid type: string "abc", expected usize  ->  invalid type: string "abc", expected a whole number
/// ```
fn plain_types(message: &str) -> String {
    const NAMES: [(&str, &str); 10] = [
        ("usize", "a whole number"),
        ("u64", "a whole number"),
        ("u32", "a whole number"),
        ("u16", "a whole number"),
        ("u8", "a whole number"),
        ("i64", "a whole number"),
        ("i32", "a whole number"),
        ("f64", "a number"),
        ("f32", "a number"),
        ("a sequence", "a list"),
    ];
    let mut out = message.to_string();
    for (rust, plain) in NAMES {
        out = out.replace(&format!("expected {rust}"), &format!("expected {plain}"));
    }
    out
}

/// The dotted key (`model.hidden`) on the line of `offset` in TOML written by `toml::to_string`
/// (one `key = value` per line under `[table]` headers), so that errors in the merged text of
/// `--set` overrides can name the key although their line numbers mean nothing to the user.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let start = text.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?.trim();
    if let Some(header) = line.strip_prefix('[') {
        return Some(header.trim_end_matches(']').to_string());
    }
    let key = line.split('=').next()?.trim();
    let table = text[..start]
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix('['))
        .map(|h| h.trim_end_matches(']'));
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_string(),
    })
}

fn set_path(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    match key.split_once('.') {
        None => {
            table.insert(key.to_string(), value);
            Ok(())
        }
        Some((head, rest)) => {
            let entry = table
                .entry(head.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set_path(t, rest, value),
                _ => Err(format!("`{head}` is not a table")),
            }
        }
    }
}
