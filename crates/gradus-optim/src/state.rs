//! Optimizer state: per-parameter buffers (moments, accumulators: tensors of a declared dtype), a
//! step counter and named scalars; it serializes and restores exactly (checkpoints).

use crate::{OptimError, Result};
use gradus_tensor::{DType, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The values of one state buffer copied to host memory: the serialized form of a [`Buffer`]
/// (JSON `{"dtype": "F32", "values": [...]}`) and what tests and tools read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dtype", content = "values")]
pub enum Data {
    /// `f32` values.
    F32(Vec<f32>),
    /// `f64` values.
    F64(Vec<f64>),
    /// `bf16` values, held widened to f32 (exactly).
    BF16(Vec<f32>),
    /// IEEE `f16` values, held widened to f32 (exactly).
    F16(Vec<f32>),
}

impl Data {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Data::F32(_) => DType::F32,
            Data::F64(_) => DType::F64,
            Data::BF16(_) => DType::BF16,
            Data::F16(_) => DType::F16,
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Data::F32(v) | Data::BF16(v) | Data::F16(v) => v.len(),
            Data::F64(v) => v.len(),
        }
    }

    /// True when it holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One state buffer (e.g. Adam's `exp_avg` of one parameter): a tensor of the parameter's shape,
/// in the state's declared dtype (the parameter's unless set with
/// [`GradientTransformation::state_dtype`](crate::GradientTransformation::state_dtype)), living
/// on the parameter's device. Optimizers update it in place through fused per-element rules
/// ([`gradus_tensor::fused`]); it never aliases another buffer (`clone` copies the values).
///
/// ```
/// use gradus_optim::Buffer;
/// use gradus_tensor::{DType, Tensor};
/// let b = Buffer::full_like(&Tensor::zeros(&[2, 3], DType::F32), 0.5);
/// assert_eq!(b.tensor().to_vec::<f32>().unwrap(), vec![0.5; 6]);
/// let wide = Buffer::full(&[2], 0.0, DType::F64);
/// assert_eq!((wide.shape(), wide.dtype()), (&[2][..], DType::F64));
/// ```
#[derive(Debug)]
pub struct Buffer {
    tensor: Tensor,
}

impl Buffer {
    /// A buffer with `t`'s shape and dtype filled with `value`.
    pub fn full_like(t: &Tensor, value: f64) -> Buffer {
        Buffer::full(t.shape(), value, t.dtype())
    }

    /// A buffer of `shape` and `dtype` filled with `value`.
    pub fn full(shape: &[usize], value: f64, dtype: DType) -> Buffer {
        Buffer {
            tensor: Tensor::full(shape, value, dtype),
        }
    }

    /// A buffer taking `t`'s storage as it is, without a copy: for a fresh result of an op that
    /// nothing else writes to (the buffer then never aliases a written tensor).
    pub(crate) fn from_result(t: Tensor) -> Buffer {
        Buffer { tensor: t.detach() }
    }

    /// A buffer holding a copy of `t`'s values, in `t`'s dtype.
    ///
    /// # Errors
    /// When `t` cannot be copied (see [`Tensor::copy_from`]).
    pub fn copy_of(t: &Tensor) -> Result<Buffer> {
        let tensor = Tensor::zeros(t.shape(), t.dtype());
        tensor.copy_from(t)?;
        Ok(Buffer { tensor })
    }

    /// The same values in `dtype` (a copy; exact when widening).
    ///
    /// # Errors
    /// When the cast fails.
    pub fn to_dtype(&self, dtype: DType) -> Result<Buffer> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        Ok(Buffer {
            tensor: self.tensor.detach().to_dtype(dtype)?.detach(),
        })
    }

    /// The buffer's tensor (shares its storage: writing through it writes the state).
    pub fn tensor(&self) -> &Tensor {
        &self.tensor
    }

    /// The values as a new tensor (a copy).
    ///
    /// # Errors
    /// When the copy fails.
    pub fn to_tensor(&self) -> Result<Tensor> {
        Ok(self.clone().tensor)
    }

    /// The shape (the parameter's).
    pub fn shape(&self) -> &[usize] {
        self.tensor.shape()
    }

    /// The element type (the state's declared dtype).
    pub fn dtype(&self) -> DType {
        self.tensor.dtype()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.tensor.numel()
    }

    /// The values copied to host memory (an explicit transfer: serialization, tests, tools).
    pub fn to_data(&self) -> Data {
        let read = || -> Result<Data> {
            Ok(match self.dtype() {
                DType::F32 => Data::F32(self.tensor.to_vec::<f32>()?),
                DType::BF16 => Data::BF16(self.tensor.to_dtype(DType::F32)?.to_vec()?),
                DType::F16 => Data::F16(self.tensor.to_dtype(DType::F32)?.to_vec()?),
                _ => Data::F64(self.tensor.to_vec::<f64>()?),
            })
        };
        read().expect("a transfer of a CPU buffer")
    }

    /// A buffer from host values (an explicit transfer: deserialization, tests).
    ///
    /// # Errors
    /// When `shape` does not match the number of values.
    pub fn from_data(shape: &[usize], data: Data) -> Result<Buffer> {
        let tensor = match data {
            Data::F32(v) => Tensor::from_vec(v, shape)?,
            Data::F64(v) => Tensor::from_vec(v, shape)?,
            // the values are 16-bit ones widened, so the cast back is exact
            Data::BF16(v) => Tensor::from_vec(v, shape)?.to_dtype(DType::BF16)?,
            Data::F16(v) => Tensor::from_vec(v, shape)?.to_dtype(DType::F16)?,
        };
        Ok(Buffer { tensor })
    }
}

impl Clone for Buffer {
    /// A deep copy: the clone has its own storage.
    fn clone(&self) -> Buffer {
        Buffer::copy_of(&self.tensor).expect("copying a buffer into one of its own shape")
    }
}

impl PartialEq for Buffer {
    fn eq(&self, other: &Buffer) -> bool {
        self.shape() == other.shape() && self.to_data() == other.to_data()
    }
}

/// The serialized form of a [`Buffer`]: its shape and host values.
#[derive(Serialize, Deserialize)]
struct BufferRepr {
    shape: Vec<usize>,
    data: Data,
}

impl Serialize for Buffer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        BufferRepr {
            shape: self.shape().to_vec(),
            data: self.to_data(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Buffer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Buffer, D::Error> {
        let repr = BufferRepr::deserialize(d)?;
        Buffer::from_data(&repr.shape, repr.data).map_err(serde::de::Error::custom)
    }
}

/// The state of a [`GradientTransformation`](crate::GradientTransformation).
///
/// Plain data: `slots[i][k]` is buffer `slot_names[k]` of parameter `i`; `count` is the number of
/// steps taken; `scalars` hold per-transform numbers (NAdam's `mu_product`); `inner` holds the
/// states of the transforms a chain or wrapper is made of. It derives serde, so it can be kept
/// as `serde_json::to_string(&state)` and back (values round-trip exactly); `gradus-train`'s
/// checkpoints instead write each buffer as a safetensors tensor and keep only the rest as JSON,
/// so that the file's header stays small for large models.
///
/// ```
/// use gradus_optim::{Adam, GradientTransformation, State};
/// use gradus_tensor::{DType, Tensor};
/// let state = Adam::new(1e-3).init(&[Tensor::zeros(&[3], DType::F32)]).unwrap();
/// assert_eq!(state.slot_names, vec!["exp_avg", "exp_avg_sq"]);
/// assert_eq!(state.count, 0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Steps taken.
    pub count: u64,
    /// Names of the per-parameter buffers, in slot order.
    pub slot_names: Vec<String>,
    /// `slots[param][slot]`.
    pub slots: Vec<Vec<Buffer>>,
    /// Named scalars.
    pub scalars: BTreeMap<String, f64>,
    /// States of inner transforms (chains, wrappers).
    pub inner: Vec<State>,
}

impl State {
    /// A state with one buffer per `(name, initial value)` for every parameter, in the
    /// parameter's dtype.
    pub fn with_slots(params: &[Tensor], slots: &[(&str, f64)]) -> State {
        State {
            slot_names: slots.iter().map(|(n, _)| n.to_string()).collect(),
            slots: params
                .iter()
                .map(|p| {
                    slots
                        .iter()
                        .map(|&(_, v)| Buffer::full_like(p, v))
                        .collect()
                })
                .collect(),
            ..State::default()
        }
    }

    /// The same state with every buffer (also those of inner states) cast to `dtype`: how
    /// [`GradientTransformation::state_dtype`](crate::GradientTransformation::state_dtype)
    /// declares the state's dtype.
    ///
    /// # Errors
    /// When a cast fails.
    pub fn to_dtype(mut self, dtype: DType) -> Result<State> {
        for b in self.slots.iter_mut().flatten() {
            *b = b.to_dtype(dtype)?;
        }
        self.inner = self
            .inner
            .into_iter()
            .map(|s| s.to_dtype(dtype))
            .collect::<Result<_>>()?;
        Ok(self)
    }

    /// The `K` buffers of parameter `i`, checked against the parameter's shape, for a fused rule
    /// ([`gradus_tensor::fused::fused_update`]) to update in place.
    ///
    /// # Errors
    /// [`OptimError::AtParam`] naming parameter `i` when the state has no such parameter, a
    /// different number of slots, or a buffer of another shape (naming the slot).
    pub fn param_slots<const K: usize>(&self, i: usize, param: &Tensor) -> Result<[&Tensor; K]> {
        let mismatch = |detail: String| OptimError::at_param(i, OptimError::StateMismatch(detail));
        let n = self.slots.len();
        let row = self
            .slots
            .get(i)
            .ok_or_else(|| mismatch(format!("the state holds buffers for {n} parameters only")))?;
        for (k, b) in row.iter().enumerate() {
            if b.shape() != param.shape() {
                let slot = self.slot_names.get(k).map_or("state", String::as_str);
                return Err(mismatch(format!(
                    "its `{slot}` buffer is {:?} {:?} but the parameter is {:?} {:?}",
                    b.shape(),
                    b.dtype(),
                    param.shape(),
                    param.dtype()
                )));
            }
        }
        let len = row.len();
        let arr: &[Buffer; K] = row
            .as_slice()
            .try_into()
            .map_err(|_| mismatch(format!("expected {K} buffers per parameter, found {len}")))?;
        Ok(arr.each_ref().map(Buffer::tensor))
    }

    /// Checks that the state was made for `n` parameters.
    pub(crate) fn check_params(&self, n: usize) -> Result<()> {
        if !self.slot_names.is_empty() && self.slots.len() != n {
            return Err(OptimError::StateMismatch(format!(
                "state has {} parameters, got {n}",
                self.slots.len()
            )));
        }
        Ok(())
    }

    /// A named scalar, or `default` when unset.
    pub fn scalar(&self, name: &str, default: f64) -> f64 {
        self.scalars.get(name).copied().unwrap_or(default)
    }
}
