//! Crash-safe file writes and resumable checkpoints.
//!
//! Every run file is written to a temporary file beside the target, flushed to disk, then renamed
//! over the target (an atomic replacement on POSIX file systems), and the directory is flushed
//! too: a kill at any moment leaves either the old file or the new one, never a torn one.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename).
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
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_dir(path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Flushes the directory holding `path`, so that the rename itself survives a power cut.
#[cfg(unix)]
fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

/// Directories cannot be opened for flushing on this platform; the rename is still atomic.
#[cfg(not(unix))]
fn sync_dir(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

use crate::diagnostics::GradientWatch;
use crate::divergence::DivergenceWatch;
use crate::early_stop::EarlyStopping;
use crate::epoch::EpochProgress;
use crate::error::{Result, TrainError};
use crate::metrics::EpochRecord;
use gradus_nn::Module;
use gradus_optim::{Optimizer, ReduceOnPlateau, State};
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
}

const PROGRESS_KEY: &str = "gradus.progress";
const OPTIMIZER_KEY: &str = "gradus.optimizer";
const PLATEAU_KEY: &str = "gradus.plateau";

/// Writes a checkpoint: the model's tensors (a valid model file) plus, in the header metadata, the
/// optimizer state, the plateau scheduler and the run's progress. Atomic.
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
    let bytes = gradus_nn::state_dict::to_bytes(model)?;
    let mut meta = BTreeMap::new();
    let json = |v: serde_json::Result<String>| v.expect("checkpoint state serializes");
    meta.insert(
        PROGRESS_KEY.to_string(),
        json(serde_json::to_string(progress)),
    );
    meta.insert(
        OPTIMIZER_KEY.to_string(),
        json(serde_json::to_string(&optimizer.state_dict())),
    );
    if let Some(p) = plateau {
        meta.insert(PLATEAU_KEY.to_string(), json(serde_json::to_string(p)));
    }
    let bytes =
        crate::model_file::with_metadata(&bytes, &meta).map_err(|e| TrainError::Checkpoint {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    write_atomic(path, &bytes).map_err(TrainError::io(path))
}

/// Restores a checkpoint written by [`save`] into `model`, `optimizer` and `plateau`, returning the
/// progress to continue from.
///
/// # Errors
/// When the file is missing, torn or from a different model or optimizer.
pub fn load(
    path: &Path,
    model: &dyn Module,
    optimizer: &mut Optimizer,
    plateau: Option<&mut ReduceOnPlateau>,
) -> Result<RunState> {
    let bad = |detail: String| TrainError::Checkpoint {
        path: path.to_path_buf(),
        detail,
    };
    let bytes = std::fs::read(path).map_err(|e| {
        bad(format!(
            "cannot read it to resume ({e}); run without --resume to start fresh"
        ))
    })?;
    let meta = crate::model_file::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let get = |key: &str| {
        meta.get(key)
            .ok_or_else(|| bad(format!("has no `{key}` entry (not a gradus checkpoint)")))
    };
    let progress: RunState =
        serde_json::from_str(get(PROGRESS_KEY)?).map_err(|e| bad(format!("bad progress: {e}")))?;
    let states: Vec<State> = serde_json::from_str(get(OPTIMIZER_KEY)?)
        .map_err(|e| bad(format!("bad optimizer state: {e}")))?;
    gradus_nn::state_dict::from_bytes(model, &bytes)
        .map_err(|e| bad(format!("does not match the model: {e}")))?;
    optimizer
        .load_state_dict(states)
        .map_err(|e| bad(format!("does not match the optimizer: {e}")))?;
    if let (Some(p), Some(saved)) = (plateau, meta.get(PLATEAU_KEY)) {
        let saved: ReduceOnPlateau =
            serde_json::from_str(saved).map_err(|e| bad(format!("bad plateau state: {e}")))?;
        p.load_state(saved);
    }
    Ok(progress)
}
