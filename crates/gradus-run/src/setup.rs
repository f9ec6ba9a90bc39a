//! From a config to the pieces of a run: data sets, model, task and optimizer. The model's
//! description ([`ModelSpec`]) is stored in the model file so `eval` and `predict` can rebuild it.

use crate::config::{
    Config, DataConfig, ModelConfig, OptimizerConfig, ScheduleConfig, DEFAULT_BATCH_SIZE,
};
use crate::error::{Result, RunError};
use gradus_data::text::{CharVocab, TextDataset};
use gradus_data::{
    csv, libsvm, mnist, text, BatchMode, Dataset, Standardizer, TargetKind, Targets, Validation,
};
use gradus_nn::layers::{Activation, Linear};
use gradus_nn::models::{Gpt, GptConfig, LeNet, LstmClassifier, LstmLm, MatrixFactorization, Mlp};
use gradus_nn::Module;
use gradus_optim::{GradientTransformation, OneCycle, Optimizer, ReduceOnPlateau, Schedule};
use gradus_tensor::{DType, Rng, Tensor};
use gradus_train::task::Task;
use serde::{Deserialize, Serialize};

/// Everything needed to rebuild a trained model and feed it data, stored in its model file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelSpec {
    /// How the data was read (format, columns), so `eval` can read more of it.
    pub data: DataConfig,
    /// The architecture.
    pub model: ModelConfig,
    /// "classification", "binary" or "regression".
    pub task: String,
    /// Classes (classification), 1 (binary) or target values per sample (regression).
    pub outputs: usize,
    /// Per-sample input shape the model takes.
    pub input_shape: Vec<usize>,
    /// "f32" or "f64".
    pub dtype: String,
    /// Feature column names (csv), in model input order.
    pub features: Vec<String>,
    /// Target column name (csv).
    pub target: Option<String>,
    /// Character vocabulary (text).
    pub vocab: Option<CharVocab>,
    /// Feature scaler fitted on the training data.
    pub scaler: Option<Standardizer>,
    /// User and item counts (mf).
    pub users_items: Option<(usize, usize)>,
}

/// Data of a run.
pub struct RunData {
    /// Training part.
    pub train: Dataset,
    /// Validation part, if any.
    pub val: Option<Dataset>,
    /// Test set evaluated at the end, if any.
    pub test: Option<Dataset>,
}

/// The dtype named in a config.
pub fn dtype_of(name: &str) -> Result<DType> {
    match name {
        "f32" => Ok(DType::F32),
        "f64" => Ok(DType::F64),
        other => {
            Err(format!("dtype: unknown value `{other}` (expected \"f32\" or \"f64\")").into())
        }
    }
}

fn target_kind(task: &str) -> Result<TargetKind> {
    match task {
        "classification" | "binary" => Ok(TargetKind::Class),
        "regression" => Ok(TargetKind::Value),
        other => Err(format!(
            "data.task: unknown value `{other}` (expected classification, binary or regression)"
        )
        .into()),
    }
}

fn need<'a, T>(v: &'a Option<T>, key: &str) -> Result<&'a T> {
    v.as_ref()
        .ok_or_else(|| format!("{key} is required for this data format").into())
}

/// What a file must match to feed a model trained on another file: the training file's CSV
/// feature columns (matched by name, in any order), its text vocabulary (the same character
/// ids), its libsvm width. The default matches nothing: a training file.
#[derive(Clone, Copy, Debug, Default)]
pub struct Like<'a> {
    /// CSV feature column names, in model input order.
    pub columns: Option<&'a [String]>,
    /// The character vocabulary of the training text.
    pub vocab: Option<&'a CharVocab>,
    /// Features per libsvm sample.
    pub width: Option<usize>,
}

/// Reads one file or folder in the config's format (mnist: the given split). CSV columns are
/// matched by name: `like.columns` (the feature names a model was trained on) when given, else
/// the config's `data.features`, else every column but the target; the names read come back in
/// the order of the features. Text is encoded with `like.vocab` when given. Training, its
/// validation and test files and `gradus eval` all read here.
///
/// # Errors
/// A message naming the file and the problem (a missing column by its name, a character outside
/// the vocabulary by its line and column).
pub fn read(
    d: &DataConfig,
    path: &str,
    split: mnist::Split,
    like: Like<'_>,
) -> Result<(Dataset, Vec<String>, Option<CharVocab>)> {
    let task = d.task.clone().unwrap_or_else(|| "classification".into());
    match d.format.as_str() {
        "csv" | "ratings" => {
            let target = need(&d.target, "data.target")?;
            let kind = if d.format == "ratings" {
                TargetKind::Value
            } else {
                target_kind(&task)?
            };
            let mut opts = csv::CsvOptions::new(target, kind);
            if let Some(f) = like.columns.or(d.features.as_deref()) {
                opts = opts.features(&f.iter().map(String::as_str).collect::<Vec<_>>());
            }
            let table = csv::read_csv_table(path, &opts).map_err(|e| e.to_string())?;
            let names = table.feature_names.clone();
            Ok((
                table.into_dataset().map_err(|e| e.to_string())?,
                names,
                None,
            ))
        }
        "mnist" => Ok((
            mnist::load(path, split).map_err(|e| e.to_string())?,
            vec![],
            None,
        )),
        "libsvm" => {
            let width = d.n_features.or(like.width);
            let sparse =
                libsvm::read_libsvm(path, target_kind(&task)?, width).map_err(|e| e.to_string())?;
            Ok((
                sparse.to_dense(width).map_err(|e| e.to_string())?,
                vec![],
                None,
            ))
        }
        "text" => {
            let text = text::read_text(path).map_err(|e| e.to_string())?;
            let vocab = like
                .vocab
                .cloned()
                .unwrap_or_else(|| CharVocab::from_text(&text));
            let tokens = vocab.encode_file(&text, path).map_err(|e| e.to_string())?;
            let block = *need(&d.block_size, "data.block_size")?;
            let windows = TextDataset::new(tokens, block)
                .map_err(|e| format!("{path}: data.block_size: {e}"))?;
            Ok((text_to_dataset(&windows)?, vec![], Some(vocab)))
        }
        other => Err(format!(
            "data.format: unknown value `{other}` (expected csv, mnist, libsvm, text or ratings)"
        )
        .into()),
    }
}

/// Next-character windows as a data set: inputs are token ids, targets the following ids.
fn text_to_dataset(w: &TextDataset) -> Result<Dataset> {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..w.len() {
        let (input, target) = w.window(i);
        x.extend(input.iter().map(|&t| t as f32));
        y.extend(target.iter().map(|&t| t as f32));
    }
    Dataset::new(
        x,
        vec![w.block_size()],
        Targets::Values {
            values: y,
            dim: w.block_size(),
        },
    )
    .map_err(|e| e.to_string().into())
}

/// The hidden size and layer count of an `lstm_lm` model: `model.width` (default 128) and
/// `model.layers` (default 1).
///
/// ```
/// let m = gradus_run::config::ModelConfig { kind: "lstm_lm".into(), layers: Some(2), ..Default::default() };
/// assert_eq!(gradus_run::setup::lstm_lm_size(&m), (128, 2));
/// ```
pub fn lstm_lm_size(m: &ModelConfig) -> (usize, usize) {
    (m.width.unwrap_or(128), m.layers.unwrap_or(1))
}

/// [`read`] of the file a config key names; when nothing is at the path, the error names the
/// key and the resolved path: `data.test_path: /data/t.csv: no such file or folder (...)`.
fn read_key(
    d: &DataConfig,
    key: &str,
    path: &str,
    split: mnist::Split,
    like: Like<'_>,
) -> Result<(Dataset, Vec<String>, Option<CharVocab>)> {
    if !std::path::Path::new(path).exists() {
        return Err(RunError::Setup(format!(
            "{key}: {path}: no such file or folder (a relative path in a config file resolves against the file's folder)"
        )));
    }
    read(d, path, split, like)
}

/// Loads the training, validation and test data of a config (standardized if asked).
///
/// # Errors
/// A message naming the file and the problem.
pub fn load_data(c: &Config) -> Result<(RunData, ModelSpec)> {
    let d = &c.data;
    // fine-tuning: the new data is read as the base model's was (its columns, vocabulary, width)
    let base = match &c.model.init_from {
        Some(path) => {
            let base = crate::init_from::base_spec(path)?;
            crate::init_from::check_kind(path, &base, &c.model.kind)?;
            Some(base)
        }
        None => None,
    };
    let (mut train, features, vocab) = read_key(
        d,
        "data.path",
        &d.path,
        mnist::Split::Train,
        base.as_ref().map(ModelSpec::like).unwrap_or_default(),
    )?;
    // validation and test files: the training file's columns by name, whatever their order, and
    // its vocabulary and width
    let like = Like {
        columns: (!features.is_empty()).then_some(&features[..]),
        vocab: vocab.as_ref(),
        width: (d.format == "libsvm").then(|| train.feature_len()),
    };
    if let Some(limit) = d.limit {
        train = train.subset(&(0..limit.min(train.len())).collect::<Vec<_>>());
    }
    let validation = match (&d.validation_path, d.validation) {
        (Some(p), _) => Validation::Separate(
            read_key(d, "data.validation_path", p, mnist::Split::Test, like)?.0,
        ),
        (None, Some(f)) => Validation::Holdout {
            fraction: f,
            seed: c.seed,
        },
        (None, None) => Validation::Disabled,
    };
    let (mut train, mut val) = gradus_data::split_dataset(train, validation)
        .map_err(|e| format!("{}: data.validation: {e}", d.path))?;
    let mut test = match &d.test_path {
        Some(p) if d.format == "mnist" && p == "test" => {
            Some(read_key(d, "data.path", &d.path, mnist::Split::Test, Like::default())?.0)
        }
        Some(p) => Some(read_key(d, "data.test_path", p, mnist::Split::Test, like)?.0),
        None => None,
    };
    let scaler = if d.standardize {
        let s = match base.as_ref().and_then(|b| b.scaler.clone()) {
            Some(s) => s, // the base model's inputs were scaled so
            None => Standardizer::fit(&train).map_err(|e| e.to_string())?,
        };
        for ds in std::iter::once(&mut train)
            .chain(val.as_mut())
            .chain(test.as_mut())
        {
            s.transform(ds).map_err(|e| e.to_string())?;
        }
        Some(s)
    } else {
        None
    };
    let task = match d.format.as_str() {
        "mnist" | "text" => "classification".to_string(),
        "ratings" => "regression".to_string(),
        _ => d.task.clone().unwrap_or_else(|| "classification".into()),
    };
    let outputs = match (&vocab, train.targets()) {
        (Some(v), _) => v.len(),
        (None, t @ Targets::Classes { .. }) if task == "binary" => {
            binary_outputs(t).map_err(|e| format!("{}: {e}", d.path))?
        }
        (None, Targets::Classes { num_classes, .. }) => *num_classes,
        (None, Targets::Values { dim, .. }) => *dim,
    };
    let users_items = (d.format == "ratings").then(|| {
        let (mut u, mut i) = (0usize, 0usize);
        for ds in std::iter::once(&train)
            .chain(val.as_ref())
            .chain(test.as_ref())
        {
            for s in ds.features().chunks(2) {
                (u, i) = (u.max(s[0] as usize + 1), i.max(s[1] as usize + 1));
            }
        }
        (u, i)
    });
    let spec = ModelSpec {
        data: c.data.clone(),
        model: c.model.clone(),
        task,
        outputs,
        input_shape: train.feature_shape().to_vec(),
        dtype: c.dtype.clone(),
        features,
        target: d.target.clone(),
        vocab,
        scaler,
        users_items,
    };
    Ok((RunData { train, val, test }, spec))
}

fn activation(name: Option<&str>) -> Result<Activation> {
    Ok(match name.unwrap_or("relu") {
        "relu" => Activation::ReLU,
        "tanh" => Activation::Tanh,
        "sigmoid" => Activation::Sigmoid,
        "gelu" => Activation::GELU,
        "silu" => Activation::SiLU,
        "leaky_relu" => Activation::LeakyReLU(0.01),
        "elu" => Activation::ELU(1.0),
        other => return Err(format!("model.activation: unknown value `{other}` (expected relu, tanh, sigmoid, gelu, silu, leaky_relu or elu)").into()),
    })
}

impl ModelSpec {
    /// The learning task.
    pub fn task(&self) -> Task {
        match self.task.as_str() {
            "binary" => Task::Binary,
            "regression" => Task::Regression {
                outputs: self.outputs,
            },
            _ => Task::Classification {
                classes: self.outputs,
            },
        }
    }

    /// What data files must match to feed this model: its CSV columns by name, its vocabulary,
    /// its libsvm width.
    pub fn like(&self) -> Like<'_> {
        Like {
            columns: (!self.features.is_empty()).then_some(&self.features[..]),
            vocab: self.vocab.as_ref(),
            width: (self.data.format == "libsvm").then(|| self.input_shape.iter().product()),
        }
    }

    /// Feature rows as the model's input: standardized with the scaler stored at training (the
    /// transform training applied), shaped `[rows, model input shape]`, in the model's dtype.
    /// `gradus eval` and `gradus predict` both feed the model through here.
    ///
    /// # Errors
    /// When the values do not make `rows` samples of the model's input size.
    pub fn input_tensor(&self, mut features: Vec<f32>, rows: usize) -> Result<Tensor> {
        if let Some(s) = &self.scaler {
            s.transform_slice(&mut features)
                .map_err(|e| e.to_string())?;
        }
        let dtype = dtype_of(&self.dtype)?;
        let mut shape = vec![rows];
        shape.extend(self.model_input_shape());
        Tensor::from_vec(features, &shape)
            .and_then(|x| x.to_dtype(dtype))
            .map_err(|e| e.to_string().into())
    }

    /// The per-sample input shape the model takes (data are reshaped to it).
    pub fn model_input_shape(&self) -> Vec<usize> {
        let flat = vec![self.input_shape.iter().product()];
        match self.model.kind.as_str() {
            "cnn" | "gpt" | "lstm_lm" | "mf" => self.input_shape.clone(),
            "lstm" if self.input_shape.len() == 3 => self.input_shape[1..].to_vec(),
            "lstm" => vec![self.input_shape.iter().product::<usize>(), 1],
            _ => flat,
        }
    }

    /// Builds the model with fresh, seeded weights, with the LoRA adapters of `model.lora`
    /// (the rest frozen).
    ///
    /// # Errors
    /// On an unknown kind, a kind that does not fit the data, or a `model.lora` that names no
    /// layer of the model.
    pub fn build(&self, rng: &mut Rng) -> Result<Box<dyn Module>> {
        let model = self.build_base(rng)?;
        self.add_lora(model.as_ref(), rng)?;
        Ok(model)
    }

    /// Attaches `model.lora`'s adapters to `model` (built by [`ModelSpec::build_base`]) and
    /// freezes the rest; nothing without `model.lora`.
    ///
    /// # Errors
    /// A target that names no layer of the model (the message lists those that take one).
    pub fn add_lora(&self, model: &dyn Module, rng: &mut Rng) -> Result<()> {
        if let Some(l) = &self.model.lora {
            gradus_nn::layers::add_lora(model, &l.params(), rng)
                .map_err(|e| format!("model.{e}"))?;
        }
        Ok(())
    }

    /// Builds the model with fresh, seeded weights, without LoRA adapters.
    ///
    /// # Errors
    /// On an unknown kind or a kind that does not fit the data.
    pub fn build_base(&self, rng: &mut Rng) -> Result<Box<dyn Module>> {
        let m = &self.model;
        let d: usize = self.input_shape.iter().product();
        let out = self.outputs;
        let model: Box<dyn Module> = match m.kind.as_str() {
            "linear" | "logistic" | "softmax" => {
                let expected = match m.kind.as_str() {
                    "linear" => "regression",
                    "logistic" => "binary",
                    _ => "classification",
                };
                if self.task != expected {
                    return Err(format!("model.kind = \"{}\" needs data.task = \"{expected}\", not \"{}\"", m.kind, self.task).into());
                }
                Box::new(Linear::new(d, out, true, rng))
            }
            "mlp" => {
                let sizes: Vec<usize> = std::iter::once(d).chain(m.hidden.iter().copied()).chain(std::iter::once(out)).collect();
                Box::new(Mlp::new(&sizes, activation(m.activation.as_deref())?, rng))
            }
            "cnn" => {
                if self.input_shape != [1, 28, 28] {
                    return Err(format!("model.kind = \"cnn\" (LeNet) takes 1x28x28 images; the data has samples of shape {:?}", self.input_shape).into());
                }
                Box::new(LeNet::new(out, rng))
            }
            "lstm" => {
                let shape = self.model_input_shape();
                Box::new(LstmClassifier::new(shape[1], m.width.unwrap_or(128), m.layers.unwrap_or(1), out, rng))
            }
            "gpt" => {
                let vocab = self.vocab.as_ref().map(|v| v.len()).ok_or("model.kind = \"gpt\" needs data.format = \"text\"")?;
                let config = GptConfig { vocab, block_size: self.input_shape[0], embed_dim: m.width.unwrap_or(64), heads: m.heads.unwrap_or(4), layers: m.layers.unwrap_or(2), tie_weights: m.tie_weights };
                let mut gpt = Gpt::new(config, rng);
                gpt.checkpoint_activations = m.checkpoint_activations;
                Box::new(gpt)
            }
            "lstm_lm" => {
                let vocab = self.vocab.as_ref().map(|v| v.len()).ok_or("model.kind = \"lstm_lm\" needs data.format = \"text\"")?;
                let (hidden, layers) = lstm_lm_size(m);
                Box::new(LstmLm::new(vocab, hidden, layers, rng))
            }
            "mf" => {
                let (users, items) = self.users_items.ok_or("model.kind = \"mf\" needs data.format = \"ratings\"")?;
                Box::new(MatrixFactorization::new(users, items, m.width.unwrap_or(8), rng))
            }
            other => return Err(format!("model.kind: unknown value `{other}` (expected linear, logistic, softmax, mlp, cnn, lstm, lstm_lm, gpt or mf)").into()),
        };
        model
            .cast(dtype_of(&self.dtype)?)
            .map_err(|e| e.to_string())?;
        Ok(model)
    }
}

/// The config's batching mode.
///
/// # Errors
/// On an unknown mode or a zero size.
pub fn batch_mode(c: &Config) -> Result<BatchMode> {
    match c.batch.mode.as_str() {
        "full" | "batch" => Ok(BatchMode::Full),
        "stochastic" | "sgd" => Ok(BatchMode::Stochastic),
        "minibatch" | "mini-batch" => match c.batch.size.unwrap_or(DEFAULT_BATCH_SIZE) {
            0 => Err("batch.size must be positive".into()),
            size => Ok(BatchMode::MiniBatch {
                size,
                drop_last: c.batch.drop_last,
            }),
        },
        other => Err(format!(
            "batch.mode: unknown value `{other}` (expected minibatch, full or stochastic)"
        )
        .into()),
    }
}

/// A run's schedules, built for the number of steps the run will take.
pub struct RunSchedule {
    /// The learning rate.
    pub lr: Schedule,
    /// The plateau scheduler feeding `lr`, if used.
    pub plateau: Option<ReduceOnPlateau>,
    /// One-cycle's SGD momentum curve.
    pub momentum: Option<Schedule>,
    /// Conflicts the user should hear about (printed as warnings by `gradus train`).
    pub warnings: Vec<String>,
}

/// The steps a run will take, `epochs * steps_per_epoch` cut at `max_steps`, and a warning when
/// `max_steps` is never reached (the run ends with its epochs first): `(10, 9, Some(16))` gives
/// 16 steps, `(1, 518, Some(600))` gives 518 and a warning.
pub fn run_steps(
    epochs: usize,
    steps_per_epoch: u64,
    max_steps: Option<u64>,
) -> (u64, Option<String>) {
    let by_epochs = steps_per_epoch.saturating_mul(epochs as u64);
    match max_steps {
        Some(m) if m > by_epochs => (
            by_epochs,
            Some(format!(
                "max_steps = {m} is never reached: epochs = {epochs} of {steps_per_epoch} steps \
                 end the run after {by_epochs} steps, and the schedule follows those \
                 {by_epochs} (raise epochs to run {m} steps)"
            )),
        ),
        Some(m) => (m, None),
        None => (by_epochs, None),
    }
}

/// The schedules of a run of `c` with `steps_per_epoch` batches per epoch: lengths that the
/// config leaves open follow the steps the run will really take ([`run_steps`]), and every
/// conflict is a warning: `max_steps` out of reach, a schedule that ends before the run (it
/// holds its final rate from its [`Schedule::horizon`] on) or after it, warmup or decay points
/// past the run's end.
///
/// # Errors
/// On an unknown schedule, missing parameters or invalid settings (naming the key).
pub fn run_schedule(c: &Config, steps_per_epoch: u64) -> Result<RunSchedule> {
    let (steps, warning) = run_steps(c.epochs, steps_per_epoch, c.max_steps);
    let (lr, plateau, momentum) = schedule(&c.optimizer, c.schedule.as_ref(), steps)?;
    let mut warnings: Vec<String> = warning.into_iter().collect();
    if let Some(s) = &c.schedule {
        warnings.extend(schedule_warnings(s, &lr, steps));
    }
    Ok(RunSchedule {
        lr,
        plateau,
        momentum,
        warnings,
    })
}

/// Where a schedule's own lengths disagree with the run's `steps`.
fn schedule_warnings(s: &ScheduleConfig, lr: &Schedule, steps: u64) -> Vec<String> {
    let mut out = Vec::new();
    let name = s.name.as_str();
    if let Some(w) = s.warmup_steps.filter(|&w| w >= steps && w > 0) {
        out.push(format!(
            "schedule.warmup_steps = {w} is not shorter than the run ({steps} steps): the run \
             ends before the warmup does"
        ));
    }
    if matches!(name, "cosine" | "polynomial" | "onecycle") {
        if let Some(h) = lr.horizon() {
            // one-cycle's horizon is its last step; the others' the step after their end
            let length = if name == "onecycle" { h + 1 } else { h };
            let what = s.total_steps.map_or_else(
                || format!("the {name} schedule ({length} steps)"),
                |t| format!("schedule.total_steps = {t}"),
            );
            if length < steps {
                out.push(format!(
                    "{what} is shorter than the run ({steps} steps): from step {h} on the \
                     schedule holds its final rate {:e}",
                    lr.value(h)
                ));
            } else if length > steps && s.warmup_steps.is_none_or(|w| w < steps) {
                out.push(format!(
                    "{what} is longer than the run ({steps} steps): the run ends at rate {:e} \
                     before the schedule reaches its final rate {:e}",
                    lr.value(steps.saturating_sub(1)),
                    lr.value(h)
                ));
            }
        }
    }
    match name {
        "step" => {
            if let Some(size) = s.step_size.filter(|&size| size >= steps) {
                out.push(format!(
                    "schedule.step_size = {size} is not shorter than the run ({steps} steps): \
                     the rate never decays"
                ));
            }
        }
        "multistep" => {
            let late: Vec<u64> = s
                .milestones
                .iter()
                .flatten()
                .copied()
                .filter(|&m| m >= steps)
                .collect();
            if !late.is_empty() {
                out.push(format!(
                    "schedule.milestones {late:?} are past the run's last step ({steps} steps): \
                     never applied"
                ));
            }
        }
        _ => {}
    }
    out
}

/// The learning-rate schedule, the plateau scheduler if used, and the SGD momentum schedule of
/// one-cycle, with lengths the config leaves open set to `total_steps` (see [`run_schedule`]).
///
/// # Errors
/// On an unknown schedule, missing parameters or invalid settings.
pub fn schedule(
    o: &OptimizerConfig,
    s: Option<&ScheduleConfig>,
    total_steps: u64,
) -> Result<(Schedule, Option<ReduceOnPlateau>, Option<Schedule>)> {
    let Some(s) = s else {
        return Ok((Schedule::Constant(o.lr), None, None));
    };
    let total = s.total_steps.unwrap_or(total_steps).max(1);
    let lr = o.lr;
    // a schedule's own error names its parameter; say which config table it came from
    let key = |e: gradus_optim::OptimError| format!("[schedule] name = \"{}\": {e}", s.name);
    let main = match s.name.as_str() {
        "constant" => Schedule::Constant(lr),
        "step" => Schedule::step(lr, s.step_size.ok_or("schedule.step_size is required for \"step\"")?, s.gamma.unwrap_or(0.1)).map_err(key)?,
        "multistep" => Schedule::multi_step(lr, s.milestones.clone().ok_or("schedule.milestones is required for \"multistep\"")?, s.gamma.unwrap_or(0.1)).map_err(key)?,
        "exponential" => Schedule::exponential(lr, s.gamma.ok_or("schedule.gamma is required for \"exponential\"")?).map_err(key)?,
        "cosine" => Schedule::cosine(lr, total.saturating_sub(s.warmup_steps.unwrap_or(0)).max(1), s.min_lr.unwrap_or(0.0)).map_err(key)?,
        "warm_restarts" => Schedule::cosine_warm_restarts(lr, s.step_size.ok_or("schedule.step_size (T_0) is required for \"warm_restarts\"")?, s.t_mult.unwrap_or(1), s.min_lr.unwrap_or(0.0)).map_err(key)?,
        "polynomial" => Schedule::polynomial(lr, total.saturating_sub(s.warmup_steps.unwrap_or(0)).max(1), s.power.unwrap_or(1.0)).map_err(key)?,
        "onecycle" => {
            let cycle = OneCycle::new(s.max_lr.unwrap_or(lr), total);
            let momentum = cycle.momentum_schedule().map_err(key)?;
            return Ok((cycle.lr_schedule().map_err(key)?, None, Some(momentum)));
        }
        "plateau" => {
            let p = ReduceOnPlateau::new(lr).factor(s.gamma.unwrap_or(0.1)).patience(s.patience.unwrap_or(10));
            return Ok((Schedule::Shared(p.lr()), Some(p), None));
        }
        other => return Err(format!("schedule.name: unknown value `{other}` (expected constant, step, multistep, exponential, cosine, warm_restarts, polynomial, onecycle or plateau)").into()),
    };
    let schedule = match s.warmup_steps {
        Some(w) if w > 0 => Schedule::sequential(
            vec![
                Schedule::linear(lr, 1.0 / w as f64, 1.0, w).map_err(key)?,
                main,
            ],
            vec![w],
        )
        .map_err(key)?,
        _ => main,
    };
    Ok((schedule, None, None))
}

/// The gradient transformation `[optimizer]` names (clipping and `state_dtype` included) with
/// learning rate `lr`, one SGD `momentum` schedule (one-cycle), and its weight decay when
/// `decay`: what [`optimizer`] builds each parameter group from, and what the Python package's
/// `gradus.optim.Optimizer` holds.
///
/// # Errors
/// An unknown optimizer or state dtype, naming the key and the allowed values.
pub fn transform(
    o: &OptimizerConfig,
    lr: Schedule,
    momentum: Option<Schedule>,
    decay: bool,
) -> Result<Box<dyn GradientTransformation>> {
    let wd = if decay {
        o.weight_decay.unwrap_or(0.0)
    } else {
        0.0
    };
    let (b1, b2) = o.betas.map_or((0.9, 0.999), |b| (b[0], b[1]));
    use gradus_optim::*;
    let t: Box<dyn GradientTransformation> = match o.name.as_str() {
        "sgd" => {
            let mut s = Sgd::new(lr).momentum(o.momentum.unwrap_or(0.0)).nesterov(o.nesterov).weight_decay(wd);
            if let Some(m) = momentum {
                s = s.momentum_schedule(m);
            }
            Box::new(s)
        }
        "adam" => Box::new(Adam::new(lr).betas(b1, b2).eps(o.eps.unwrap_or(1e-8)).weight_decay(wd).amsgrad(o.amsgrad)),
        "adamw" => Box::new(AdamW::new(lr).betas(b1, b2).eps(o.eps.unwrap_or(1e-8)).weight_decay(o.weight_decay.map(|_| wd).unwrap_or(if decay { 0.01 } else { 0.0 })).amsgrad(o.amsgrad)),
        "rmsprop" => Box::new(RmsProp::new(lr).momentum(o.momentum.unwrap_or(0.0)).eps(o.eps.unwrap_or(1e-8)).weight_decay(wd)),
        "adagrad" => Box::new(Adagrad::new(lr).weight_decay(wd)),
        "adadelta" => Box::new(Adadelta::new(lr).weight_decay(wd)),
        "adamax" => Box::new(Adamax::new(lr).betas(b1, b2).weight_decay(wd)),
        "nadam" => Box::new(NAdam::new(lr).betas(b1, b2).weight_decay(wd)),
        "radam" => Box::new(RAdam::new(lr).betas(b1, b2).weight_decay(wd)),
        "lion" => Box::new(Lion::new(lr).weight_decay(wd)),
        "lamb" => Box::new(Lamb::new(lr).weight_decay(wd)),
        "lars" => Box::new(Lars::new(lr).weight_decay(wd)),
        "adabelief" => Box::new(AdaBelief::new(lr)),
        "yogi" => Box::new(Yogi::new(lr)),
        "kfac" => {
            let mut k = Kfac::new(lr).momentum(o.momentum.unwrap_or(0.9)).weight_decay(wd);
            if let Some(v) = o.damping { k = k.damping(v); }
            if let Some(v) = o.stat_decay { k = k.stat_decay(v); }
            if let Some(v) = o.kl_clip { k = k.kl_clip(v); }
            if let Some(v) = o.stat_freq { k = k.stat_freq(v); }
            if let Some(v) = o.inv_freq { k = k.inv_freq(v); }
            Box::new(k)
        }
        "natural_gradient" => Box::new(NaturalGradient::new(lr).damping(o.damping.unwrap_or(1e-3))),
        "learned" => {
            let path = o.weights.as_deref().ok_or("optimizer.weights is required for optimizer \"learned\"")?;
            Box::new(LearnedOptimizer::from_file(path, lr).map_err(|e| format!("optimizer.weights: {e}"))?)
        }
        other => return Err(format!("optimizer.name: unknown value `{other}` (expected sgd, adam, adamw, rmsprop, adagrad, adadelta, adamax, nadam, radam, lion, lamb, lars, adabelief, yogi, kfac, natural_gradient or learned)").into()),
    };
    let t: Box<dyn GradientTransformation> = match o.state_dtype.as_deref() {
        None => t,
        Some("f32") => Box::new(t.state_dtype(DType::F32)),
        Some("f64") => Box::new(t.state_dtype(DType::F64)),
        Some(other) => {
            return Err(format!(
                "optimizer.state_dtype: unknown value `{other}` (expected \"f32\" or \"f64\")"
            )
            .into())
        }
    };
    Ok(match o.clip_grad_norm {
        Some(c) => Box::new(chain(vec![Box::new(ClipByGlobalNorm::new(c)), t])),
        None => t,
    })
}

/// The optimizer over the model's trainable parameters (biases and norm weights in a group
/// without weight decay when `no_decay_on_bias`), each held under its module path
/// (`layers.0.weight`, a tied weight under its first name), so that optimizer errors name it.
/// Its state is in `optimizer.state_dtype` when set.
///
/// # Errors
/// On an unknown optimizer or invalid hyperparameters.
pub fn optimizer(
    o: &OptimizerConfig,
    model: &dyn Module,
    lr: &Schedule,
    momentum: Option<Schedule>,
) -> Result<Optimizer> {
    // `parameters()`'s order (each handle once, at its first name), with the names
    let mut params: Vec<(String, gradus_nn::Param)> = Vec::new();
    for (name, p) in model.named_parameters() {
        if p.requires_grad() && !params.iter().any(|(_, q)| q.same_as(&p)) {
            params.push((name, p));
        }
    }
    let (decayed, plain): (Vec<_>, Vec<_>) = params
        .into_iter()
        .partition(|(_, p)| !o.no_decay_on_bias || p.shape().len() > 1);
    let mut opt =
        Optimizer::with_named_params(transform(o, lr.clone(), momentum.clone(), true)?, &decayed)
            .map_err(|e| format!("optimizer: {e}"))?;
    if !plain.is_empty() {
        opt.add_named_param_group(transform(o, lr.clone(), momentum, false)?, &plain)
            .map_err(|e| format!("optimizer: {e}"))?;
    }
    Ok(opt)
}

/// Reshapes a data set's samples to the model's input shape.
///
/// # Errors
/// When the element counts differ.
pub fn reshape_for_model(ds: Dataset, shape: &[usize]) -> Result<Dataset> {
    if ds.feature_shape() == shape {
        return Ok(ds);
    }
    let weights = ds.sample_weights().map(<[f32]>::to_vec);
    let (x, _, y) = ds.into_parts();
    let ds = Dataset::new(x, shape.to_vec(), y).map_err(|e| e.to_string())?;
    match weights {
        Some(w) => ds.with_sample_weights(w).map_err(|e| e.to_string().into()),
        None => Ok(ds),
    }
}

/// A binary task's one output, or the error naming a label that is neither 0 nor 1.
pub(crate) fn binary_outputs(targets: &Targets) -> std::result::Result<usize, String> {
    if let Targets::Classes {
        labels,
        num_classes,
    } = targets
    {
        if let Some(l) = labels.iter().find(|&&l| l > 1) {
            return Err(format!(
                "data.task = \"binary\" needs labels 0 and 1, but the data has label {l} \
                 ({num_classes} classes); use data.task = \"classification\" for more than two"
            ));
        }
    }
    Ok(1)
}
