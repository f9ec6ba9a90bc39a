//! The checkpoint file format: one safetensors file holding the model's tensors under their
//! PyTorch names, the optimizer's state buffers as tensors of their own, and small JSON metadata.
//!
//! # Layout
//! - Model tensors keep their names (`0.weight`, `layers.1.bias`...), so the file loads as a model
//!   (`safetensors.torch.load_file`, then `load_state_dict(strict=False)` ignores the rest).
//! - Optimizer buffers are named `optimizer.<path>.<slot>.<param>`: `<path>` is the index of the
//!   parameter group's state, followed by `.inner.<i>` for each nested state of a chain or
//!   wrapper; `<slot>` is the buffer's slot name (`exp_avg`, `momentum_buffer`...); `<param>` is
//!   the parameter's index within its group. Adam's second moment of parameter 3 of group 0 is
//!   `optimizer.0.exp_avg_sq.3`; a buffer of the second transform of a chain is
//!   `optimizer.0.inner.1.<slot>.<param>`. Buffers keep their dtype (`F32` or `F64`) and bits.
//! - The header's `__metadata__` holds, as JSON strings, the run's progress (`gradus.progress`),
//!   the plateau scheduler (`gradus.plateau`) and the optimizer's skeleton
//!   (`gradus.optimizer_state`: per state its step count, slot names, number of parameters,
//!   scalars and inner states; the buffers' shapes are those of their tensor entries). The header
//!   stays a few KiB whatever the model's size.
//! - Tensors are stored 8-byte elements first, then 4-byte ones, so every tensor is aligned.
//!
//! Files written before this layout kept the whole optimizer state as JSON in the header
//! (`gradus.optimizer`); they are refused with an error that says so.
//!
//! Saving streams: the header is written first, then each tensor's bytes from its own buffer
//! through a buffered writer, so saving needs about one chunk of extra memory, not a copy of the
//! state. Loading streams too: it reads the header only
//! ([`gradus_nn::safetensors_reader::SafetensorsReader`]), checks every name, shape and dtype,
//! then reads one tensor at a time (seek + reads of at most 1 MiB) into the model's parameters
//! and straight into the optimizer's existing buffers: about one tensor of extra memory.
//!
//! Optimizer buffers are written in their declared dtype
//! ([`GradientTransformation::state_dtype`](gradus_optim::GradientTransformation::state_dtype)),
//! and loading checks that the file's dtype is the one this optimizer declares.

use crate::checkpoint::write_atomic_with;
use gradus_nn::safetensors_reader::TensorSource;
use gradus_nn::Module;
use gradus_optim::{Buffer, State};
use gradus_tensor::precision::{bf16, f16};
use gradus_tensor::{DType, Tensor};
use safetensors::Dtype;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::Path;

/// The prefix of every optimizer tensor's name.
pub const OPTIMIZER_PREFIX: &str = "optimizer.";
/// The metadata key of the optimizer's skeleton.
pub const OPTIMIZER_STATE_KEY: &str = "gradus.optimizer_state";
/// The metadata key under which older gradus versions kept the whole optimizer state as JSON.
pub const LEGACY_OPTIMIZER_KEY: &str = "gradus.optimizer";

/// A [`State`] without its buffers: what the header keeps of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateMeta {
    /// Steps taken.
    pub count: u64,
    /// Names of the per-parameter buffers, in slot order.
    pub slot_names: Vec<String>,
    /// Number of parameters with buffers (`State::slots.len()`).
    pub params: usize,
    /// Named scalars.
    pub scalars: BTreeMap<String, f64>,
    /// Skeletons of the inner states.
    pub inner: Vec<StateMeta>,
}

impl StateMeta {
    /// The skeleton of `state`.
    pub fn of(state: &State) -> StateMeta {
        StateMeta {
            count: state.count,
            slot_names: state.slot_names.clone(),
            params: state.slots.len(),
            scalars: state.scalars.clone(),
            inner: state.inner.iter().map(StateMeta::of).collect(),
        }
    }
}

/// The tensor name of buffer `slot` of parameter `param` of the state at `path`
/// (`"0"`, `"0.inner.1"`...).
///
/// ```
/// assert_eq!(gradus_train::checkpoint_file::tensor_name("0", "exp_avg", 3), "optimizer.0.exp_avg.3");
/// ```
pub fn tensor_name(path: &str, slot: &str, param: usize) -> String {
    format!("{OPTIMIZER_PREFIX}{path}.{slot}.{param}")
}

/// Calls `f(path, state)` for `state` at `path` and every nested state below it, parents first.
fn walk<'a>(path: &str, state: &'a State, f: &mut dyn FnMut(&str, &'a State)) {
    f(path, state);
    for (i, s) in state.inner.iter().enumerate() {
        walk(&format!("{path}.inner.{i}"), s, f);
    }
}

/// What a tensor's bytes come from.
enum Source<'a> {
    /// A model tensor; `true` for an integer buffer (written as I64).
    Model(Tensor, bool),
    /// An optimizer buffer.
    Buffer(&'a Buffer),
}

struct Entry<'a> {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    source: Source<'a>,
}

impl Entry<'_> {
    fn elem_size(&self) -> usize {
        match self.dtype {
            Dtype::BF16 | Dtype::F16 => 2,
            Dtype::F32 => 4,
            _ => 8,
        }
    }
    fn byte_len(&self) -> usize {
        self.shape.iter().product::<usize>() * self.elem_size()
    }
}

/// Elements converted per write: 64 Ki elements (256 or 512 KiB).
const CHUNK: usize = 1 << 16;

fn write_le<T: Copy, const N: usize>(
    w: &mut dyn Write,
    values: &[T],
    bytes: impl Fn(T) -> [u8; N],
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(CHUNK.min(values.len()) * N);
    for chunk in values.chunks(CHUNK) {
        buf.clear();
        chunk.iter().for_each(|&v| buf.extend_from_slice(&bytes(v)));
        w.write_all(&buf)?;
    }
    Ok(())
}

/// The file dtype a tensor of `dtype` is written in: its own (bits as they are); F64 for any
/// other float dtype, as `state_dict::to_bytes`.
fn file_dtype(dtype: DType) -> Dtype {
    match dtype {
        DType::F32 => Dtype::F32,
        DType::BF16 => Dtype::BF16,
        DType::F16 => Dtype::F16,
        _ => Dtype::F64,
    }
}

fn write_source(w: &mut dyn Write, source: &Source<'_>) -> std::io::Result<()> {
    let other = |e: gradus_tensor::TensorError| std::io::Error::other(e.to_string());
    match source {
        Source::Model(t, true) => {
            write_le(w, &t.to_vec_f64(), |v| (v.round() as i64).to_le_bytes())
        }
        Source::Model(t, false) => match t.dtype() {
            DType::F32 => t
                .with_data(|v: &[f32]| write_le(w, v, f32::to_le_bytes))
                .map_err(other)?,
            DType::F64 => t
                .with_data(|v: &[f64]| write_le(w, v, f64::to_le_bytes))
                .map_err(other)?,
            DType::BF16 => t
                .with_data(|v: &[bf16]| write_le(w, v, bf16::to_le_bytes))
                .map_err(other)?,
            DType::F16 => t
                .with_data(|v: &[f16]| write_le(w, v, f16::to_le_bytes))
                .map_err(other)?,
            // as `state_dict::to_bytes`: any other float dtype is written as F64
            _ => write_le(w, &t.to_vec_f64(), f64::to_le_bytes),
        },
        // the host transfer of a file boundary: each buffer's elements are read where they lie
        Source::Buffer(b) => match b.dtype() {
            DType::F32 => b
                .tensor()
                .with_data(|v: &[f32]| write_le(w, v, f32::to_le_bytes))
                .map_err(other)?,
            DType::BF16 => b
                .tensor()
                .with_data(|v: &[bf16]| write_le(w, v, bf16::to_le_bytes))
                .map_err(other)?,
            DType::F16 => b
                .tensor()
                .with_data(|v: &[f16]| write_le(w, v, f16::to_le_bytes))
                .map_err(other)?,
            _ => b
                .tensor()
                .with_data(|v: &[f64]| write_le(w, v, f64::to_le_bytes))
                .map_err(other)?,
        },
    }
}

/// Writes a safetensors file to `path` atomically, streaming each tensor from its buffer: the
/// model's tensors, then every buffer of `states` (one state per parameter group, none for a
/// model file) under its `optimizer.` name, with `metadata` in the header. A checkpoint adds the
/// states' skeletons ([`StateMeta`]) to `metadata` under [`OPTIMIZER_STATE_KEY`].
///
/// # Errors
/// When the file cannot be written, or a name would be ambiguous (a model tensor under
/// `optimizer.`, two buffers with one name; `InvalidInput`, naming it).
pub fn write(
    path: &Path,
    model: &dyn Module,
    states: &[&State],
    metadata: BTreeMap<String, String>,
) -> std::io::Result<()> {
    let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, m);
    let mut entries: Vec<Entry<'_>> = Vec::new();
    for (name, t, integer) in gradus_nn::state_dict::entries(model) {
        if name.starts_with(OPTIMIZER_PREFIX) {
            return Err(invalid(format!(
                "model tensor `{name}` starts with `{OPTIMIZER_PREFIX}`, the prefix reserved for the optimizer's state in a checkpoint"
            )));
        }
        let dtype = match integer {
            true => Dtype::I64,
            false => file_dtype(t.dtype()),
        };
        entries.push(Entry {
            name,
            dtype,
            shape: t.shape().to_vec(),
            source: Source::Model(t, integer),
        });
    }
    let mut seen = HashSet::new();
    let mut duplicate = None;
    for (g, state) in states.iter().enumerate() {
        walk(&g.to_string(), state, &mut |path, s| {
            for (p, row) in s.slots.iter().enumerate() {
                for (k, buffer) in row.iter().enumerate() {
                    let slot = s.slot_names.get(k).map_or("slot", String::as_str);
                    let name = tensor_name(path, slot, p);
                    if !seen.insert(name.clone()) {
                        duplicate = Some(name.clone());
                    }
                    entries.push(Entry {
                        name,
                        dtype: file_dtype(buffer.dtype()),
                        shape: buffer.shape().to_vec(),
                        source: Source::Buffer(buffer),
                    });
                }
            }
        });
    }
    if let Some(name) = duplicate {
        return Err(invalid(format!(
            "two optimizer buffers would both be named `{name}` (slot names must be unique)"
        )));
    }
    for (e, s) in entries.iter().zip(entries.iter().map(Entry::byte_len)) {
        let numel = match &e.source {
            Source::Buffer(b) => b.numel(),
            Source::Model(t, _) => t.numel(),
        };
        if numel * e.elem_size() != s {
            return Err(invalid(format!(
                "optimizer buffer `{}` has {numel} values for shape {:?}",
                e.name, e.shape
            )));
        }
    }
    // 8-byte elements first, so that every tensor starts aligned to its element size.
    entries.sort_by_key(|e| std::cmp::Reverse(e.elem_size()));

    let mut header = serde_json::Map::new();
    header.insert(
        "__metadata__".into(),
        serde_json::Value::Object(
            metadata
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect(),
        ),
    );
    let mut offset = 0usize;
    for e in &entries {
        let end = offset + e.byte_len();
        header.insert(
            e.name.clone(),
            serde_json::json!({ "dtype": format!("{:?}", e.dtype), "shape": e.shape, "data_offsets": [offset, end] }),
        );
        offset = end;
    }
    let mut json = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
    while json.len() % 8 != 0 {
        json.push(b' '); // safetensors pads the header with spaces to keep data aligned
    }
    write_atomic_with(path, |w| {
        w.write_all(&(json.len() as u64).to_le_bytes())?;
        w.write_all(&json)?;
        for e in &entries {
            write_source(w, &e.source)?;
        }
        Ok(())
    })
}

fn dtype_name(d: DType) -> String {
    format!("{d:?}")
}

/// Checks the state at `path` of the skeleton against the optimizer's current state `current`
/// (same slots, parameters, inner states) and the file's tensors (present, same shapes and
/// dtypes as the buffers they replace). `used` collects the tensor names checked.
fn check_state(
    path: &str,
    meta: &StateMeta,
    current: &State,
    file: &impl TensorSource,
    used: &mut HashSet<String>,
) -> Result<(), String> {
    if path.contains(".inner.") && not_yet_created(current) && meta.inner.is_empty() {
        // an inner state created at the first step (K-FAC's per-layer factors): the file's
        // buffers are taken as they are (a top-level state must match: another optimizer)
        for p in 0..meta.params {
            for slot in &meta.slot_names {
                let name = tensor_name(path, slot, p);
                match file.tensor_info(&name) {
                    Some((Dtype::F32 | Dtype::F64, _)) => used.insert(name),
                    Some((other, _)) => {
                        return Err(format!(
                            "tensor `{name}` is {other:?}; optimizer buffers are F32 or F64"
                        ))
                    }
                    None => return Err(format!("has no tensor `{name}` ({slot} of parameter {p}), which its header's optimizer state lists: the file is damaged")),
                };
            }
        }
        return Ok(());
    }
    if meta.slot_names != current.slot_names {
        return Err(format!(
            "state `{path}` has slots {:?} in the checkpoint but {:?} in this optimizer (a different optimizer?)",
            meta.slot_names, current.slot_names
        ));
    }
    if meta.params != current.slots.len() {
        return Err(format!(
            "state `{path}` holds buffers for {} parameters in the checkpoint but {} in this optimizer",
            meta.params,
            current.slots.len()
        ));
    }
    if meta.inner.len() != current.inner.len() {
        return Err(format!(
            "state `{path}` has {} inner states in the checkpoint but {} in this optimizer",
            meta.inner.len(),
            current.inner.len()
        ));
    }
    for (p, row) in current.slots.iter().enumerate() {
        for (k, now) in row.iter().enumerate() {
            let slot = meta.slot_names.get(k).map_or("slot", String::as_str);
            let name = tensor_name(path, slot, p);
            let (dtype, shape) = file.tensor_info(&name).ok_or_else(|| {
                format!("has no tensor `{name}` ({slot} of parameter {p}), which its header's optimizer state lists: the file is damaged")
            })?;
            let dtype = match dtype {
                Dtype::F32 => DType::F32,
                Dtype::F64 => DType::F64,
                Dtype::BF16 => DType::BF16,
                Dtype::F16 => DType::F16,
                other => {
                    return Err(format!(
                        "tensor `{name}` is {other:?}; optimizer buffers are F32, F64, BF16 or F16"
                    ))
                }
            };
            if shape != now.shape() || dtype != now.dtype() {
                return Err(format!(
                    "tensor `{name}` ({slot} of parameter {p}) is {:?} {} in the checkpoint but {:?} {} in this optimizer (its declared state dtype)",
                    shape,
                    dtype_name(dtype),
                    now.shape(),
                    dtype_name(now.dtype())
                ));
            }
            used.insert(name);
        }
    }
    for (i, (m, c)) in meta.inner.iter().zip(&current.inner).enumerate() {
        check_state(&format!("{path}.inner.{i}"), m, c, file, used)?;
    }
    Ok(())
}

/// Whether `state` is one an optimizer creates at its first step (empty until then, as
/// PyTorch's lazily created optimizer state): a checkpoint's buffers for it are restored as the
/// file has them.
fn not_yet_created(state: &State) -> bool {
    state.slot_names.is_empty() && state.slots.is_empty() && state.inner.is_empty()
}

/// Overwrites `state` (already checked by [`check_state`]) with the skeleton's counts and
/// scalars and the file's buffer values, reading each tensor straight into the buffer it replaces
/// (the host transfer of a file boundary, one chunk at a time).
fn fill_state(
    path: &str,
    meta: &StateMeta,
    state: &mut State,
    file: &mut impl TensorSource,
) -> Result<(), String> {
    state.count = meta.count;
    state.scalars = meta.scalars.clone();
    if path.contains(".inner.") && not_yet_created(state) && meta.params > 0 {
        state.slot_names = meta.slot_names.clone();
        for p in 0..meta.params {
            let mut row = Vec::with_capacity(meta.slot_names.len());
            for slot in &meta.slot_names {
                let name = tensor_name(path, slot, p);
                let (dtype, shape) = file
                    .tensor_info(&name)
                    .ok_or_else(|| format!("has no tensor `{name}`"))?;
                let dtype = if dtype == Dtype::F32 {
                    DType::F32
                } else {
                    DType::F64
                };
                row.push(Buffer::full(&shape, 0.0, dtype));
            }
            state.slots.push(row);
        }
    }
    for (p, row) in state.slots.iter_mut().enumerate() {
        for (k, buffer) in row.iter_mut().enumerate() {
            let slot = meta.slot_names.get(k).map_or("slot", String::as_str);
            let name = tensor_name(path, slot, p);
            read_buffer(file, &name, buffer).map_err(|e| {
                format!("cannot read tensor `{name}` ({slot} of parameter {p}): {e}")
            })?;
        }
    }
    for (i, (m, s)) in meta.inner.iter().zip(state.inner.iter_mut()).enumerate() {
        fill_state(&format!("{path}.inner.{i}"), m, s, file)?;
    }
    Ok(())
}

/// Reads tensor `name` (checked: the buffer's shape and dtype) into `buffer`, chunk by chunk.
fn read_buffer(
    file: &mut impl TensorSource,
    name: &str,
    buffer: &Buffer,
) -> Result<(), Box<dyn std::error::Error>> {
    fn decode<T: gradus_tensor::Element, const N: usize>(
        file: &mut impl TensorSource,
        name: &str,
        buffer: &Buffer,
        from: impl Fn([u8; N]) -> T,
    ) -> Result<(), Box<dyn std::error::Error>> {
        buffer.tensor().update_data(|dst: &mut [T]| {
            let mut at = 0;
            file.read_tensor(name, &mut |bytes| {
                let n = bytes.len() / N;
                dst[at..at + n]
                    .iter_mut()
                    .zip(bytes.chunks_exact(N))
                    .for_each(|(d, c)| *d = from(c.try_into().expect("N bytes")));
                at += n;
            })?;
            Ok::<_, std::io::Error>(())
        })??;
        Ok(())
    }
    match buffer.dtype() {
        DType::F32 => decode(file, name, buffer, f32::from_le_bytes),
        DType::BF16 => decode(file, name, buffer, bf16::from_le_bytes),
        DType::F16 => decode(file, name, buffer, f16::from_le_bytes),
        _ => decode(file, name, buffer, f64::from_le_bytes),
    }
}

/// Checks the skeleton and the file's `optimizer.*` tensors against the optimizer's states (one
/// per group): slots, parameters, shapes, dtypes, and no tensor left over. Run before anything is
/// restored, so that a mismatch leaves model and optimizer untouched.
///
/// # Errors
/// A message naming the state, slot and parameter that do not match, or the tensor that is
/// missing or left over.
pub fn check_states(
    skeleton: &[StateMeta],
    states: &[&State],
    file: &impl TensorSource,
) -> Result<(), String> {
    if skeleton.len() != states.len() {
        return Err(format!(
            "{} parameter groups in the checkpoint but {} in this optimizer",
            skeleton.len(),
            states.len()
        ));
    }
    let mut used = HashSet::new();
    for (g, (m, s)) in skeleton.iter().zip(states).enumerate() {
        check_state(&g.to_string(), m, s, file, &mut used)?;
    }
    if let Some(extra) = file
        .tensor_names()
        .into_iter()
        .find(|n| n.starts_with(OPTIMIZER_PREFIX) && !used.contains(n.as_str()))
    {
        return Err(format!(
            "tensor `{extra}` is not part of the optimizer state its header lists"
        ));
    }
    Ok(())
}

/// Restores the optimizer's states in place from the skeleton and the file's tensors, each
/// read straight into the buffer it replaces (no second copy of the state), after
/// [`check_states`] (which it runs again: on a mismatch the states are untouched; a read error
/// midway, a file changed or cut while loading, leaves them partly restored).
///
/// # Errors
/// As [`check_states`], or a read error naming the tensor.
pub fn restore_states(
    skeleton: &[StateMeta],
    states: &mut [&mut State],
    file: &mut impl TensorSource,
) -> Result<(), String> {
    let shared: Vec<&State> = states.iter().map(|s| &**s).collect();
    check_states(skeleton, &shared, file)?;
    for (g, (m, s)) in skeleton.iter().zip(states.iter_mut()).enumerate() {
        fill_state(&g.to_string(), m, s, file)?;
    }
    Ok(())
}

/// Whether the first bytes of a file with an over-long header look like a checkpoint of an older
/// gradus (whole optimizer state as JSON in the header), which readers refuse as too large.
pub fn looks_legacy(bytes: &[u8]) -> bool {
    let head = &bytes[8.min(bytes.len())..bytes.len().min(8 + (1 << 20))];
    let needle = format!("\"{LEGACY_OPTIMIZER_KEY}\":");
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    has(b"\"__metadata__\":{") && has(needle.as_bytes())
}
