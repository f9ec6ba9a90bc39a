//! Crash-safe file writes and resumable checkpoints.
//!
//! Every run file is written to a temporary file beside the target, flushed to disk, then renamed
//! over the target (an atomic replacement on POSIX file systems), and the directory is flushed
//! too: a kill at any moment leaves either the old file or the new one, never a torn one. A
//! symbolic link keeps pointing where it did (its target is replaced), and a device or pipe
//! (`--output /dev/stdout`, a FIFO) is written into, not replaced.
//!
//! The logs a run rewrites at every epoch (`metrics.csv`, `layers.csv`, `steps.csv`) are replaced
//! the same way but without the two flushes to disk ([`write_replace`]): the rename alone is
//! atomic against a kill of the process, and the flushes, about 5 ms each on a virtual disk, were
//! most of the time of a run with many short epochs. Those logs are written once more with the
//! flushes when the run ends; checkpoints and model files are always flushed.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename, directory fsync).
///
/// # Errors
/// When the directory is not writable or the disk is full; the previous file is then untouched.
///
/// ```
/// let path = std::env::temp_dir().join("gradus-doc-atomic.txt");
/// gradus_train::checkpoint::write_atomic(&path, b"hello").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"hello");
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Replaces `path` with `bytes` atomically against a kill of the process (temporary file, then
/// rename), without flushing to disk: after a power cut or an operating-system crash the file may
/// hold its previous content. For logs that are rewritten often and flushed with
/// [`write_atomic`] when the run ends.
///
/// # Errors
/// When the directory is not writable or the disk is full; the previous file is then untouched.
///
/// ```
/// let path = std::env::temp_dir().join("gradus-doc-replace.txt");
/// gradus_train::checkpoint::write_replace(&path, b"epoch 1").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"epoch 1");
/// ```
pub fn write_replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_inner(path, Durability::Replace, |w| w.write_all(bytes))
}

/// Whether an atomic write also flushes the file and its directory to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// fsync the file before the rename and the directory after it: survives a power cut.
    Flushed,
    /// Rename only: survives a kill of the process, not a power cut.
    Replace,
}

/// Writes `path` with `bytes` atomically, flushed to disk or not as `durability` says
/// ([`write_atomic`] or [`write_replace`]).
///
/// # Errors
/// When the directory is not writable or the disk is full; the previous file is then untouched.
pub fn write_with_durability(
    path: &Path,
    bytes: &[u8],
    durability: Durability,
) -> std::io::Result<()> {
    write_atomic_inner(path, durability, |w| w.write_all(bytes))
}

/// Writes `path` atomically as [`write_atomic`] does, with the content streamed by `fill` into a
/// buffered writer on the temporary file (a checkpoint writes its tensors one by one, without
/// assembling the file in memory).
///
/// # Errors
/// When `fill` fails, the directory is not writable or the disk is full; the previous file is
/// then untouched and the temporary file removed.
///
/// ```
/// use std::io::Write;
/// let path = std::env::temp_dir().join("gradus-doc-atomic-with.txt");
/// gradus_train::checkpoint::write_atomic_with(&path, |w| w.write_all(b"hi")).unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"hi");
/// ```
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    write_atomic_inner(path, Durability::Flushed, fill)
}

fn write_atomic_inner(
    path: &Path,
    durability: Durability,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    // a symbolic link stays a link: the file it points to is replaced
    let resolved;
    let path = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            resolved = std::fs::canonicalize(path)?;
            resolved.as_path()
        }
        _ => path,
    };
    // a device, pipe or socket (`/dev/stdout`, a FIFO) cannot be replaced: write into it
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        let mut w = std::io::BufWriter::new(file);
        fill(&mut w)?;
        return w.flush();
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let file = std::fs::File::create(&tmp)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        if durability == Durability::Flushed {
            file.sync_all()?;
        }
        drop(file);
        std::fs::rename(&tmp, path)?;
        match durability {
            Durability::Flushed => sync_dir(path),
            Durability::Replace => Ok(()),
        }
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Flushes the directory holding `path`, so that the rename itself survives a power cut.
#[cfg(unix)]
pub(crate) fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

/// Directories cannot be opened for flushing on this platform; the rename is still atomic.
#[cfg(not(unix))]
pub(crate) fn sync_dir(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

use crate::checkpoint_file;
use crate::diagnostics::GradientWatch;
use crate::divergence::DivergenceWatch;
use crate::early_stop::EarlyStopping;
use crate::epoch::EpochProgress;
use crate::error::{Result, TrainError};
use crate::metrics::EpochRecord;
use gradus_nn::Module;
use gradus_optim::{Optimizer, ReduceOnPlateau};
use std::collections::BTreeMap;

/// Where a run stands: everything besides weights and optimizer buffers that a resumed run needs
/// to continue exactly. The data order is a function of seed and epoch, so it needs no generator
/// state; the position inside an unfinished epoch and that epoch's sums are kept in `partial`.
///
/// Random state kept inside a model (a `Dropout` layer's generator) is not part of the model's
/// tensors and so not of the checkpoint: a model with dropout resumes with a fresh mask stream.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct RunState {
    /// Epochs completed.
    pub epoch: usize,
    /// Optimizer steps taken.
    pub step: u64,
    /// The epoch in progress when the checkpoint was written mid-epoch (`max_steps`, an
    /// interrupt, `checkpoint_every_steps`); `None` at an epoch boundary.
    #[serde(default)]
    pub partial: Option<EpochProgress>,
    /// The divergence check's reference and running mean.
    #[serde(default)]
    pub divergence: DivergenceWatch,
    /// The gradient watch's counters.
    #[serde(default)]
    pub watch: Option<GradientWatch>,
    /// Records of the completed epochs.
    pub history: Vec<EpochRecord>,
    /// Early-stopping state.
    pub early_stopping: Option<EarlyStopping>,
    /// Epoch of the best weights (in `best.safetensors`).
    pub best_epoch: usize,
    /// The curriculum's sample order, when one is used.
    pub curriculum: Vec<usize>,
    /// Warnings raised so far.
    pub warnings: Vec<String>,
    /// The loss scaler of an f16-mixed run ([`crate::precision`]).
    #[serde(default)]
    pub grad_scaler: Option<gradus_optim::GradScaler>,
    /// Consecutive steps the loss scaler skipped, up to the last one.
    #[serde(default)]
    pub consecutive_skips: u64,
}

const PROGRESS_KEY: &str = "gradus.progress";
const PLATEAU_KEY: &str = "gradus.plateau";

/// Writes a checkpoint: the model's tensors (a valid model file), the optimizer's buffers as
/// tensors, and in the header the optimizer's step counts and scalars, the plateau scheduler and
/// the run's progress (layout: [`crate::checkpoint_file`]). Streams tensor by tensor; atomic.
///
/// # Errors
/// When the file cannot be written.
pub fn save(
    path: &Path,
    model: &dyn Module,
    optimizer: &Optimizer,
    plateau: Option<&ReduceOnPlateau>,
    progress: &RunState,
) -> Result<()> {
    save_with_model_metadata(path, model, optimizer, plateau, progress, &BTreeMap::new())
}

/// [`save`], with the model file's own metadata (how to rebuild the model: the trainer's
/// `model_metadata`) in the header too, so that the checkpoint is a model file `gradus eval`,
/// `predict` and `inspect` read as well.
///
/// # Errors
/// When the file cannot be written.
pub fn save_with_model_metadata(
    path: &Path,
    model: &dyn Module,
    optimizer: &Optimizer,
    plateau: Option<&ReduceOnPlateau>,
    progress: &RunState,
    model_metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let bad = |detail: String| TrainError::Checkpoint {
        path: path.to_path_buf(),
        detail,
    };
    let json = |v: serde_json::Result<String>| v.map_err(|e| bad(format!("cannot encode: {e}")));
    let mut meta = model_metadata.clone();
    meta.insert(
        PROGRESS_KEY.to_string(),
        json(serde_json::to_string(progress))?,
    );
    if let Some(p) = plateau {
        meta.insert(PLATEAU_KEY.to_string(), json(serde_json::to_string(p))?);
    }
    let states = optimizer.states();
    let skeleton: Vec<checkpoint_file::StateMeta> = states
        .iter()
        .map(|s| checkpoint_file::StateMeta::of(s))
        .collect();
    meta.insert(
        checkpoint_file::OPTIMIZER_STATE_KEY.to_string(),
        json(serde_json::to_string(&skeleton))?,
    );
    checkpoint_file::write(path, model, &states, meta).map_err(TrainError::io(path))
}

/// Restores a checkpoint written by [`save`] into `model`, `optimizer` and `plateau`, returning the
/// progress to continue from. The file is streamed: its header is read first, then one tensor at a
/// time straight into the parameter or optimizer buffer it restores (about one tensor of extra
/// memory, never the whole file).
///
/// # Errors
/// When the file is missing or damaged (the message says what and where), written by an older
/// gradus (optimizer state in the header: start again without `--resume`), or from a different
/// model (the message names the tensor) or optimizer (it names the slot and parameter).
pub fn load(
    path: &Path,
    model: &dyn Module,
    optimizer: &mut Optimizer,
    plateau: Option<&mut ReduceOnPlateau>,
) -> Result<RunState> {
    let file = std::fs::File::open(path).map_err(|e| TrainError::Checkpoint {
        path: path.to_path_buf(),
        detail: format!("cannot read it to resume ({e}); run without --resume to start fresh"),
    })?;
    load_from_reader(path, file, model, optimizer, plateau)
}

/// [`load`] reading the checkpoint through `reader` (`path` only names it in messages): the
/// header, then each tensor with a seek and reads of at most
/// [`gradus_nn::safetensors_reader::CHUNK`] bytes.
///
/// # Errors
/// As [`load`].
pub fn load_from_reader<R: std::io::Read + std::io::Seek>(
    path: &Path,
    mut reader: R,
    model: &dyn Module,
    optimizer: &mut Optimizer,
    plateau: Option<&mut ReduceOnPlateau>,
) -> Result<RunState> {
    use gradus_nn::safetensors_reader::{ReadError, SafetensorsReader};
    use std::io::Read;
    let bad = |detail: String| TrainError::Checkpoint {
        path: path.to_path_buf(),
        detail,
    };
    let legacy = || {
        bad("was written by an older gradus, which kept the optimizer state as JSON in the file's header; this gradus cannot resume from it. Start the run again without --resume (the checkpoint's model weights are in the same file under their usual names)".into())
    };
    let cannot_read = |e: std::io::Error| {
        bad(format!(
            "cannot read it to resume ({e}); run without --resume to start fresh"
        ))
    };
    let mut file = match SafetensorsReader::new(&mut reader) {
        Ok(file) => file,
        Err(ReadError::Io(e)) => return Err(cannot_read(e)),
        Err(ReadError::Invalid(e)) => {
            // an older checkpoint has a header over the readers' limit: tell it from its start
            let mut head = Vec::new();
            reader
                .seek(std::io::SeekFrom::Start(0))
                .map_err(cannot_read)?;
            (&mut reader)
                .take(8 + (1 << 20))
                .read_to_end(&mut head)
                .map_err(cannot_read)?;
            if checkpoint_file::looks_legacy(&head) {
                return Err(legacy());
            }
            return Err(bad(format!("is damaged or not a checkpoint: {e}")));
        }
    };
    let meta = file.metadata();
    if meta.contains_key(checkpoint_file::LEGACY_OPTIMIZER_KEY) {
        return Err(legacy());
    }
    let get = |key: &str| {
        meta.get(key)
            .ok_or_else(|| bad(format!("has no `{key}` entry (not a gradus checkpoint)")))
    };
    let progress: RunState =
        serde_json::from_str(get(PROGRESS_KEY)?).map_err(|e| bad(format!("bad progress: {e}")))?;
    let skeleton: Vec<checkpoint_file::StateMeta> =
        serde_json::from_str(get(checkpoint_file::OPTIMIZER_STATE_KEY)?)
            .map_err(|e| bad(format!("bad optimizer state: {e}")))?;
    let is_optimizer = |name: &str| name.starts_with(checkpoint_file::OPTIMIZER_PREFIX);
    let model_mismatch = |e: gradus_nn::NnError| bad(format!("does not match the model: {e}"));
    let mismatch = |e: String| bad(format!("does not match the optimizer: {e}"));
    // the model, then the optimizer, are checked before either is written: a refused checkpoint
    // leaves both untouched, and a different model is blamed on the model
    gradus_nn::state_dict::check_from(model, &file, &is_optimizer).map_err(model_mismatch)?;
    checkpoint_file::check_states(&skeleton, &optimizer.states(), &file).map_err(mismatch)?;
    gradus_nn::state_dict::load_from(model, &mut file, &is_optimizer).map_err(model_mismatch)?;
    checkpoint_file::restore_states(&skeleton, &mut optimizer.states_mut(), &mut file)
        .map_err(mismatch)?;
    if let (Some(p), Some(saved)) = (plateau, meta.get(PLATEAU_KEY)) {
        let saved: ReduceOnPlateau =
            serde_json::from_str(saved).map_err(|e| bad(format!("bad plateau state: {e}")))?;
        p.load_state(saved);
    }
    Ok(progress)
}
