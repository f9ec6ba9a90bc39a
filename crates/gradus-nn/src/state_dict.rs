//! State dicts: a module's parameters and buffers by PyTorch name, saved to and loaded from
//! safetensors files that `safetensors.torch.load_file` + `model.load_state_dict` accept.
//!
//! Parameters and float buffers are written in their dtype (F32 or F64), or in BF16 or F16 with
//! [`to_bytes_as`] / [`save_as`] (rounded to nearest, ties to even), row-major, in PyTorch
//! layout; integer buffers (`num_batches_tracked`) as I64 scalars. Loading is strict: a missing,
//! extra or mis-shaped tensor is an error naming it. Values (F32, F64, BF16, F16, I64) are
//! converted to the model's dtype.

use crate::error::{NnError, Result};
use crate::module::Module;
use crate::param::{Buffer, Param};
use crate::safetensors_check::check;
use crate::safetensors_reader::{ReadError, SafetensorsReader, TensorSource};
use gradus_tensor::precision::{convert, Half};
use gradus_tensor::{DType, Tensor};
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// One named slot of a model: a parameter or a buffer.
enum Slot {
    Param(Param),
    Buffer(Buffer),
}

impl Slot {
    /// The tensor the slot holds now.
    fn tensor(&self) -> Tensor {
        match self {
            Slot::Param(p) => p.tensor(),
            Slot::Buffer(b) => b.tensor(),
        }
    }
}

fn slots(module: &dyn Module) -> Vec<(String, Slot)> {
    let mut out: Vec<(String, Slot)> = module
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, Slot::Param(p)))
        .collect();
    out.extend(
        module
            .named_buffers()
            .into_iter()
            .map(|(n, b)| (n, Slot::Buffer(b))),
    );
    out
}

/// The model's tensors by name (parameters detached), in a sorted map.
///
/// ```
/// use gradus_nn::{layers::Linear, state_dict};
/// use gradus_tensor::Rng;
/// let sd = state_dict::state_dict(&Linear::new(2, 3, true, &mut Rng::seed(0)));
/// assert_eq!(sd["weight"].shape(), &[3, 2]);
/// ```
pub fn state_dict(module: &dyn Module) -> BTreeMap<String, Tensor> {
    slots(module)
        .into_iter()
        .map(|(n, s)| match s {
            Slot::Param(p) => (n, p.tensor().detach()),
            Slot::Buffer(b) => (n, b.tensor()),
        })
        .collect()
}

/// Encodes the model's state dict as safetensors bytes.
///
/// # Errors
/// When serialization fails.
///
/// ```
/// use gradus_nn::{layers::Linear, state_dict};
/// use gradus_tensor::Rng;
/// let bytes = state_dict::to_bytes(&Linear::new(2, 3, true, &mut Rng::seed(0))).unwrap();
/// assert!(bytes.len() > 9 * 4);
/// ```
pub fn to_bytes(module: &dyn Module) -> Result<Vec<u8>> {
    encode_all(module, None)
}

/// Encodes the model's state dict as safetensors bytes with every float tensor in `format`
/// (`BF16` or `F16`, as `model.to(torch.bfloat16)` then `save_file`); integer buffers stay I64.
/// Loading the bytes back gives the values rounded to `format`.
///
/// # Errors
/// When serialization fails.
///
/// ```
/// use gradus_nn::{layers::Linear, state_dict};
/// use gradus_tensor::{precision::Half, Rng};
/// let lin = Linear::new(2, 3, true, &mut Rng::seed(0));
/// let bytes = state_dict::to_bytes_as(&lin, Half::BF16).unwrap();
/// assert!(bytes.len() < state_dict::to_bytes(&lin).unwrap().len());
/// ```
pub fn to_bytes_as(module: &dyn Module, format: Half) -> Result<Vec<u8>> {
    encode_all(module, Some(format))
}

/// [`save`] with every float tensor in `format` ([`to_bytes_as`]).
///
/// # Errors
/// When the file cannot be written.
pub fn save_as(module: &dyn Module, path: impl AsRef<Path>, format: Half) -> Result<()> {
    std::fs::write(path, to_bytes_as(module, format)?)?;
    Ok(())
}

fn encode_all(module: &dyn Module, format: Option<Half>) -> Result<Vec<u8>> {
    let integer: HashSet<String> = module
        .named_buffers()
        .into_iter()
        .filter(|(_, b)| b.is_integer())
        .map(|(n, _)| n)
        .collect();
    let mut encoded: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, t) in state_dict(module) {
        // a 16-bit tensor is written in its own format, its bits as they are
        let (dtype, bytes) = match format.or(t.dtype().half()) {
            Some(f) if !integer.contains(&name) => encode_half(&t, f)?,
            _ => encode(&t, integer.contains(&name)),
        };
        encoded.push((name, dtype, t.shape().to_vec(), bytes));
    }
    let views = encoded
        .iter()
        .map(|(n, d, s, b)| {
            Ok((
                n.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(safetensors::serialize(views, &None)?)
}

fn encode_half(t: &Tensor, format: Half) -> Result<(Dtype, Vec<u8>)> {
    let bits = t.to_half(format)?;
    let dtype = match format {
        Half::BF16 => Dtype::BF16,
        Half::F16 => Dtype::F16,
    };
    Ok((
        dtype,
        bits.bits().iter().flat_map(|b| b.to_le_bytes()).collect(),
    ))
}

fn encode(t: &Tensor, integer: bool) -> (Dtype, Vec<u8>) {
    let values = t.to_vec_f64();
    if integer {
        return (
            Dtype::I64,
            values
                .iter()
                .flat_map(|v| (v.round() as i64).to_le_bytes())
                .collect(),
        );
    }
    match t.dtype() {
        DType::F32 => (
            Dtype::F32,
            values
                .iter()
                .flat_map(|&v| (v as f32).to_le_bytes())
                .collect(),
        ),
        _ => (
            Dtype::F64,
            values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ),
    }
}

/// Writes the model's state dict to a safetensors file.
///
/// # Errors
/// When the file cannot be written.
///
/// ```no_run
/// use gradus_nn::{models::Mlp, state_dict, layers::Activation};
/// use gradus_tensor::Rng;
/// let mlp = Mlp::new(&[4, 8, 2], Activation::ReLU, &mut Rng::seed(0));
/// state_dict::save(&mlp, "mlp.safetensors").unwrap();
/// ```
pub fn save(module: &dyn Module, path: impl AsRef<Path>) -> Result<()> {
    std::fs::write(path, to_bytes(module)?)?;
    Ok(())
}

/// Reads a safetensors file into the model (strict: every name must match, with its shape).
///
/// # Errors
/// On a missing, unexpected or mis-shaped tensor, an unsupported dtype or an unreadable file.
///
/// ```no_run
/// use gradus_nn::{models::Mlp, state_dict, layers::Activation};
/// use gradus_tensor::Rng;
/// let mlp = Mlp::new(&[4, 8, 2], Activation::ReLU, &mut Rng::seed(1));
/// state_dict::load(&mlp, "mlp.safetensors").unwrap();
/// ```
pub fn load(module: &dyn Module, path: impl AsRef<Path>) -> Result<()> {
    load_skipping(module, path.as_ref(), &|_| false)
}

/// Reads safetensors bytes into the model (strict, as [`load`]).
///
/// # Errors
/// As [`load`]; a damaged file (truncated, bad header, inconsistent offsets) is an
/// [`NnError::Safetensors`] saying what and where, from [`crate::safetensors_check`].
///
/// ```
/// use gradus_nn::{layers::Linear, state_dict, Module};
/// use gradus_tensor::Rng;
/// let a = Linear::new(2, 3, true, &mut Rng::seed(0));
/// let b = Linear::new(2, 3, true, &mut Rng::seed(1));
/// state_dict::from_bytes(&b, &state_dict::to_bytes(&a).unwrap()).unwrap();
/// assert_eq!(a.named_parameters()[0].1.tensor().to_vec_f64(), b.named_parameters()[0].1.tensor().to_vec_f64());
/// ```
pub fn from_bytes(module: &dyn Module, bytes: &[u8]) -> Result<()> {
    let file = SafeTensors::deserialize(bytes).map_err(|_| match check(bytes) {
        Err(e) => NnError::Safetensors(e.to_string()),
        Ok(()) => NnError::Safetensors("not a valid safetensors file".into()),
    })?;
    let mut tensors = BTreeMap::new();
    for (name, view) in file.tensors() {
        tensors.insert(
            name.clone(),
            (
                view.shape().to_vec(),
                decode(&name, view.dtype(), view.data())?,
            ),
        );
    }
    load_values(module, &tensors)
}

/// [`from_bytes`] for a file that holds more than the model (a checkpoint's `optimizer.*`
/// tensors): names for which `ignore` is true are skipped; the rest is as strict as
/// [`from_bytes`].
///
/// # Errors
/// As [`from_bytes`].
///
/// ```
/// use gradus_nn::{layers::Linear, state_dict};
/// use gradus_tensor::Rng;
/// let bytes = state_dict::to_bytes(&Linear::new(2, 3, true, &mut Rng::seed(0))).unwrap();
/// let b = Linear::new(2, 3, true, &mut Rng::seed(1));
/// state_dict::from_bytes_skipping(&b, &bytes, &|name| name.starts_with("optimizer.")).unwrap();
/// ```
pub fn from_bytes_skipping(
    module: &dyn Module,
    bytes: &[u8],
    ignore: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let file = SafeTensors::deserialize(bytes).map_err(|_| match check(bytes) {
        Err(e) => NnError::Safetensors(e.to_string()),
        Ok(()) => NnError::Safetensors("not a valid safetensors file".into()),
    })?;
    let mut file = file;
    load_from(module, &mut file, ignore)
}

fn decode(name: &str, dtype: Dtype, data: &[u8]) -> Result<Vec<f64>> {
    let unsupported = || NnError::UnsupportedDType {
        name: name.into(),
        dtype: format!("{dtype:?}"),
    };
    Ok(match dtype {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        Dtype::I64 => data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        Dtype::BF16 | Dtype::F16 => {
            let format = if dtype == Dtype::BF16 {
                Half::BF16
            } else {
                Half::F16
            };
            let bits: Vec<u16> = data
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            convert::from_bits(format, &bits)
                .into_iter()
                .map(f64::from)
                .collect()
        }
        _ => return Err(unsupported()),
    })
}

/// Loads named values (shape, row-major f64 data) into the model, strictly.
///
/// # Errors
/// On a missing, unexpected or mis-shaped tensor.
///
/// ```
/// use gradus_nn::{layers::Linear, state_dict};
/// use gradus_tensor::Rng;
/// use std::collections::BTreeMap;
/// let lin = Linear::new(1, 1, false, &mut Rng::seed(0));
/// let mut values = BTreeMap::new();
/// values.insert("weight".to_string(), (vec![1, 1], vec![2.0]));
/// state_dict::load_values(&lin, &values).unwrap();
/// ```
pub fn load_values(
    module: &dyn Module,
    values: &BTreeMap<String, (Vec<usize>, Vec<f64>)>,
) -> Result<()> {
    let slots = slots(module);
    if let Some(extra) = values.keys().find(|k| !slots.iter().any(|(n, _)| n == *k)) {
        return Err(NnError::UnexpectedTensor(extra.clone()));
    }
    for (name, slot) in &slots {
        let (shape, data) = values
            .get(name)
            .ok_or_else(|| NnError::MissingTensor(name.clone()))?;
        let current = match slot {
            Slot::Param(p) => p.tensor(),
            Slot::Buffer(b) => b.tensor(),
        };
        if current.shape() != shape.as_slice() {
            return Err(NnError::ShapeMismatch {
                name: name.clone(),
                expected: current.shape().to_vec(),
                found: shape.clone(),
            });
        }
        let value = Tensor::from_vec(data.clone(), shape)?.to_dtype(current.dtype())?;
        write_slot(slot, value);
    }
    Ok(())
}

/// The model's tensors as they are written to a safetensors file: name, tensor and whether it is
/// an integer buffer (written as `I64`, e.g. `num_batches_tracked`), in name order. Writers that
/// stream a file tensor by tensor (checkpoints) use this instead of [`to_bytes`].
///
/// ```
/// use gradus_nn::{layers::Linear, state_dict};
/// use gradus_tensor::Rng;
/// let entries = state_dict::entries(&Linear::new(2, 3, true, &mut Rng::seed(0)));
/// assert_eq!(entries[0].0, "bias");
/// assert!(!entries[0].2);
/// ```
pub fn entries(module: &dyn Module) -> Vec<(String, Tensor, bool)> {
    let integer: HashSet<String> = module
        .named_buffers()
        .into_iter()
        .filter(|(_, b)| b.is_integer())
        .map(|(n, _)| n)
        .collect();
    state_dict(module)
        .into_iter()
        .map(|(n, t)| {
            let int = integer.contains(&n);
            (n, t, int)
        })
        .collect()
}

/// Checks, without writing anything, that [`load_from`] would accept `file` for the model: no
/// unexpected tensor (besides the ignored names), none missing, same shapes, readable dtypes.
///
/// # Errors
/// As [`load_from`].
///
/// ```
/// use gradus_nn::{layers::Linear, state_dict};
/// use gradus_tensor::Rng;
/// let bytes = state_dict::to_bytes(&Linear::new(2, 3, true, &mut Rng::seed(0))).unwrap();
/// let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
/// assert!(state_dict::check_from(&Linear::new(3, 3, true, &mut Rng::seed(0)), &file, &|_| false).is_err());
/// ```
pub fn check_from(
    module: &dyn Module,
    file: &impl TensorSource,
    ignore: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let slots = slots(module);
    let names = file.tensor_names();
    if let Some(extra) = names
        .iter()
        .find(|k| !ignore(k) && !slots.iter().any(|(n, _)| n == *k))
    {
        return Err(NnError::UnexpectedTensor(extra.to_string()));
    }
    for (name, slot) in &slots {
        let (dtype, shape) = file
            .tensor_info(name)
            .ok_or_else(|| NnError::MissingTensor(name.clone()))?;
        let now = slot.tensor();
        if now.shape() != shape.as_slice() {
            return Err(NnError::ShapeMismatch {
                name: name.clone(),
                expected: now.shape().to_vec(),
                found: shape,
            });
        }
        if !matches!(
            dtype,
            Dtype::F32 | Dtype::F64 | Dtype::I64 | Dtype::BF16 | Dtype::F16
        ) {
            return Err(NnError::UnsupportedDType {
                name: name.clone(),
                dtype: format!("{dtype:?}"),
            });
        }
    }
    Ok(())
}

/// Reads the model's tensors from a safetensors file (in memory, or a [`SafetensorsReader`]
/// streaming it: then about one tensor of extra memory), one tensor at a time, skipping the
/// names for which `ignore` is true (a checkpoint's optimizer tensors). Otherwise strict, as
/// [`load`]: a missing, unexpected or mis-shaped tensor is an error naming it, and every name,
/// shape and dtype is checked before any value is written, so on an error the model is
/// untouched.
///
/// # Errors
/// As [`load`].
///
/// ```
/// use gradus_nn::{layers::Linear, state_dict};
/// use gradus_tensor::Rng;
/// let bytes = state_dict::to_bytes(&Linear::new(2, 3, true, &mut Rng::seed(0))).unwrap();
/// let mut file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
/// let b = Linear::new(2, 3, true, &mut Rng::seed(1));
/// state_dict::load_from(&b, &mut file, &|name| name.starts_with("optimizer.")).unwrap();
/// ```
pub fn load_from(
    module: &dyn Module,
    file: &mut impl TensorSource,
    ignore: &dyn Fn(&str) -> bool,
) -> Result<()> {
    // everything is checked before anything is written: on an error the model is untouched
    check_from(module, file, ignore)?;
    let slots = slots(module);
    for (name, slot) in &slots {
        let (dtype, shape) = file
            .tensor_info(name)
            .ok_or_else(|| NnError::MissingTensor(name.clone()))?;
        let current = slot.tensor();
        let numel = shape.iter().product();
        let value = if dtype == Dtype::F32 && current.dtype() == DType::F32 {
            let mut data: Vec<f32> = Vec::with_capacity(numel);
            file.read_tensor(name, &mut |bytes| {
                data.extend(
                    bytes
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))),
                )
            })?;
            Tensor::from_vec(data, &shape)?
        } else {
            let mut data: Vec<f64> = Vec::with_capacity(numel);
            let mut failed = None;
            file.read_tensor(name, &mut |bytes| match decode(name, dtype, bytes) {
                Ok(v) => data.extend(v),
                Err(e) => failed = Some(e),
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            Tensor::from_vec(data, &shape)?.to_dtype(current.dtype())?
        };
        write_slot(slot, value);
    }
    Ok(())
}

/// Reads the model's tensors from the safetensors file at `path`, streaming it (about one
/// tensor of extra memory, never the whole file), skipping the names for which `ignore` is true
/// (a checkpoint's `optimizer.*` tensors); otherwise as strict as [`load`].
///
/// # Errors
/// As [`load_from`]; a damaged file is an [`NnError::Safetensors`] saying what and where.
///
/// ```no_run
/// use gradus_nn::{models::Mlp, state_dict, layers::Activation};
/// use gradus_tensor::Rng;
/// let mlp = Mlp::new(&[4, 8, 2], Activation::ReLU, &mut Rng::seed(1));
/// state_dict::load_skipping(&mlp, "checkpoint.safetensors".as_ref(), &|n| n.starts_with("optimizer.")).unwrap();
/// ```
pub fn load_skipping(
    module: &dyn Module,
    path: &Path,
    ignore: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let mut file = SafetensorsReader::open(path).map_err(|e| match e {
        ReadError::Io(e) => NnError::Io(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        )),
        ReadError::Invalid(e) => NnError::Safetensors(format!("{}: {e}", path.display())),
    })?;
    load_from(module, &mut file, ignore).map_err(|e| match e {
        NnError::Safetensors(m) => NnError::Safetensors(format!("{}: {m}", path.display())),
        other => other,
    })
}

/// Puts `value` into a parameter or buffer slot; a parameter is written in place, so optimizers
/// holding its leaf tensor see the new values.
fn write_slot(slot: &Slot, value: Tensor) {
    match slot {
        Slot::Param(p) => {
            if p.tensor().copy_from(&value).is_err() {
                p.set(value);
            }
        }
        Slot::Buffer(b) => b.set(value),
    }
}
