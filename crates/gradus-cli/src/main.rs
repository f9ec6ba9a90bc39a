//! `gradus`: train models by gradient descent from a TOML config, search their hyperparameters,
//! then evaluate, predict with and inspect the saved model files.

// first: its print macros replace std's in every module below (see output.rs)
#[macro_use]
mod output;
mod commands;
mod distributed;
mod interrupt;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// The binary's allocator: mimalloc reuses freed tensor buffers instead of returning them to the
/// OS, so large ops do not pay a page fault per 4 KiB of fresh output (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory in the process instead of returning it to the OS (a purge delay of -1). A
/// training step frees and reallocates the same large buffers every few milliseconds; returned
/// pages come back zeroed by the kernel (a third of an LSTM step's time with mimalloc v2's 10 ms
/// delay). mimalloc v3's one-second delay is not enough either: once a purge has run, pages are
/// faulted in again steadily (about 1,000 faults a second and 10% of the time in the kernel's
/// page zeroing while training `examples/mnist-cnn.toml`, none with purging off). The process
/// keeps its peak memory for reuse.
fn keep_freed_memory() {
    // SAFETY: sets an integer option; mimalloc reads options atomically.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

#[derive(Parser)]
#[command(
    name = "gradus",
    version,
    about = "Train models by gradient descent: fast, checked, reproducible"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model described by a TOML config; writes metrics.csv, model.safetensors,
    /// config.toml, summary.json and report.html into the run directory.
    Train {
        /// The run's config (see examples/).
        config: PathBuf,
        /// Run directory [default: runs/<config name>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override a config value, e.g. --set optimizer.lr=0.01 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Continue from the run directory's checkpoint.
        #[arg(long)]
        resume: bool,
        /// Replace the run already in the run directory (its files are removed first).
        #[arg(long, conflicts_with = "resume")]
        overwrite: bool,
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Hyperparameter search over a config's [search] section: trials run as parallel `gradus
    /// train` processes, bad ones stopped early; writes journal.jsonl, each trial's config and
    /// run folder, best.toml, trials.csv and report.html into the study folder.
    Tune {
        /// A run config with a [search] section (see the README's `gradus tune`).
        config: PathBuf,
        /// Trials the study holds in the end (trials interrupted by a stop are not counted).
        #[arg(long, default_value_t = 20)]
        trials: usize,
        /// Trials run at once, each its own process.
        #[arg(long, default_value_t = 1)]
        parallel: usize,
        /// Study folder [default: runs/<config name>-tune].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Continue the study in the folder from its journal.
        #[arg(long)]
        resume: bool,
        /// No per-trial progress lines.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Loss and metrics of a saved model on a data file (or folder for MNIST).
    Eval {
        /// A model.safetensors written by `gradus train`.
        model: PathBuf,
        /// Data in the format the model was trained on [default: its test data].
        #[arg(long)]
        data: Option<String>,
    },
    /// Predictions of a saved tabular model for the rows of a CSV file.
    Predict {
        /// A model.safetensors written by `gradus train`.
        model: PathBuf,
        /// CSV with the model's feature columns (by name, any order; others are ignored).
        #[arg(long)]
        input: PathBuf,
        /// Where to write the predictions [default: standard output].
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Curvature of a trained model's training loss: Hessian eigenvalues (top, smallest: a
    /// saddle?), trace, eigenvalue density, per-layer top eigenvalue and sharpness; writes
    /// analysis.json.
    Analyze {
        /// A model.safetensors written by `gradus train`.
        model: PathBuf,
        /// The config the model was trained with (its data, batch size and learning rate).
        #[arg(long)]
        config: PathBuf,
        /// Training batches the loss is taken over (the first ones, in the data's order).
        #[arg(long, default_value_t = 10)]
        batches: usize,
        /// How many of the largest eigenvalues to report.
        #[arg(long, default_value_t = 5)]
        top_k: usize,
        /// Points per side of the 2-D loss surface around the weights (0: none).
        #[arg(long, default_value_t = 25)]
        grid: usize,
        /// Where to write analysis.json and the plots (into report.html when the folder holds one,
        /// else analysis.html) [default: the model file's folder].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Checks before a long run, or after one, printing each finding with a fix. Given a config:
    /// feature scales, a gradient check of its model, a learning-rate range test (Smith 2017)
    /// against the configured rate, dead ReLU units and per-layer gradient norms at
    /// initialization. Given a run folder: its metrics.csv (divergence, oscillation, plateau,
    /// overfitting onset). Exits 0 when the checks ran, whatever they found.
    Doctor {
        /// A run config (TOML), or a run folder written by `gradus train`.
        #[arg(value_name = "CONFIG.toml|RUN_DIR")]
        target: PathBuf,
        /// Findings as JSON on standard output.
        #[arg(long)]
        json: bool,
        /// Steps of the learning-rate range test.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(2..))]
        lr_steps: u64,
    },
    /// One HTML page overlaying two or more runs' curves, with the settings their configs differ
    /// in and their final metrics.
    Compare {
        /// Run folders written by `gradus train` (or a file inside one).
        #[arg(required = true, num_args = 2..)]
        runs: Vec<PathBuf>,
        /// Where to write the page.
        #[arg(long, default_value = "compare.html")]
        out: PathBuf,
    },
    /// Text from a trained character-level GPT: the prompt, then characters drawn one at a time
    /// (seeded: the same command prints the same text).
    Sample {
        /// A model.safetensors of a GPT trained on text.
        model: PathBuf,
        /// Text to continue (characters the model has seen in training).
        #[arg(long, default_value = "")]
        prompt: String,
        /// Characters to generate.
        #[arg(long, default_value_t = 200)]
        tokens: usize,
        /// Under 1: safer, more repetitive text; over 1: more varied; 0: always the likeliest.
        #[arg(long, default_value_t = 0.8)]
        temperature: f64,
        /// Draw among the K likeliest characters only.
        #[arg(long)]
        top_k: Option<usize>,
        /// Seeds the draws.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Every key a run config may hold: its type, default, allowed values and meaning.
    Config {
        /// List the keys.
        #[arg(long)]
        list: bool,
        /// The same as a Markdown table.
        #[arg(long)]
        markdown: bool,
    },
    /// Print a model file's tensors, shapes, parameter count and training metadata.
    Inspect {
        /// A safetensors file.
        model: PathBuf,
    },
    /// Export a trained model to ONNX (opset 17, dynamic batch dimension; linear, logistic,
    /// softmax, mlp, cnn, lstm and gpt models). The graph outputs the model's logits, as `forward` does.
    Export {
        /// A model.safetensors written by `gradus train`.
        model: PathBuf,
        /// Where to write the ONNX model.
        #[arg(long, value_name = "OUT.onnx")]
        onnx: PathBuf,
        /// Also write OUT.sample.safetensors: N seeded inputs (`input`) and gradus's outputs for
        /// them (`output`), to check a runtime against gradus.
        #[arg(long, value_name = "N")]
        sample: Option<usize>,
    },
    /// Quantize a trained model's Linear and Conv2d weights to int8 (per-output-channel scales;
    /// Linear inputs quantized on the fly, Conv2d inputs calibrated on a few batches of DATA).
    /// `gradus eval` and `gradus predict` run the quantized file.
    Quantize {
        /// A model.safetensors written by `gradus train` (linear, logistic, softmax, mlp or cnn).
        model: PathBuf,
        /// Calibration data in the model's format (mnist: its folder; the training split is
        /// read); needed for cnn models.
        #[arg(long, value_name = "DATA")]
        calibrate: Option<String>,
        /// Where to write the quantized model.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Calibration batches.
        #[arg(long, default_value_t = 4)]
        batches: usize,
        /// Samples per calibration batch.
        #[arg(long, default_value_t = 64)]
        batch_size: usize,
        /// How calibration sets a convolution's input range: the full range seen (`minmax`, as
        /// PyTorch's default) or percentiles of the values seen (`percentile`: outliers clipped).
        #[arg(long, value_enum, default_value = "minmax")]
        observer: commands::quantize::ObserverName,
        /// With `--observer percentile`: the range is [q(100 - P), q(P)] of the values seen.
        #[arg(long, value_name = "P", default_value_t = 99.99)]
        percentile: f64,
    },
}

fn main() -> ExitCode {
    keep_freed_memory();
    // the main thread computes its share of every parallel kernel (gradus_tensor::threads);
    // nothing has used rayon yet, so this cannot fail
    let _ = gradus_tensor::threads::init_global_pool(None);
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train {
            config,
            out,
            overrides,
            resume,
            overwrite,
            quiet,
        } => commands::train::run(&config, out, &overrides, resume, overwrite, quiet),
        Command::Tune {
            config,
            trials,
            parallel,
            out,
            resume,
            quiet,
        } => commands::tune::run(commands::tune::TuneArgs {
            config,
            trials,
            parallel,
            out,
            resume,
            quiet,
        }),
        Command::Eval { model, data } => commands::eval::run(&model, data.as_deref()),
        Command::Predict {
            model,
            input,
            output,
        } => commands::predict::run(&model, &input, output.as_deref()),
        Command::Analyze {
            model,
            config,
            batches,
            top_k,
            grid,
            out,
        } => commands::analyze::run(&commands::analyze::Request {
            model: &model,
            config: &config,
            batches,
            top_k,
            grid,
            out,
        }),
        Command::Doctor {
            target,
            json,
            lr_steps,
        } => commands::doctor::run(&commands::doctor::Request {
            target: &target,
            json,
            lr_steps: lr_steps as usize,
        }),
        Command::Compare { runs, out } => commands::compare::run(&runs, &out),
        Command::Sample {
            model,
            prompt,
            tokens,
            temperature,
            top_k,
            seed,
        } => commands::sample::run(
            &model,
            &prompt,
            &gradus_run::generate::SampleOptions {
                tokens,
                temperature,
                top_k,
                seed,
            },
        ),
        Command::Config { list, markdown } => commands::config::run(list, markdown),
        Command::Inspect { model } => commands::inspect::run(&model),
        Command::Export {
            model,
            onnx,
            sample,
        } => commands::export::run(&model, &onnx, sample),
        Command::Quantize {
            model,
            calibrate,
            out,
            batches,
            batch_size,
            observer,
            percentile,
        } => commands::quantize::run(
            &model,
            &out,
            &commands::quantize::Options {
                calibrate: calibrate.as_deref(),
                batches,
                batch_size,
                observer: observer.with(percentile),
            },
        ),
    };
    match result.and_then(|()| output::finish()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
