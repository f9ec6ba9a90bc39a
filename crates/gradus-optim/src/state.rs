//! Optimizer state: per-parameter buffers (moments, accumulators), a step counter and named
//! scalars, all plain data that serializes and restores exactly (checkpoints).

use crate::{OptimError, Result};
use gradus_tensor::{DType, Element, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The values of one state buffer, in the parameter's element type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dtype", content = "values")]
pub enum Data {
    /// `f32` values.
    F32(Vec<f32>),
    /// `f64` values.
    F64(Vec<f64>),
}

/// One state buffer (e.g. Adam's `exp_avg` of one parameter): its shape and values.
///
/// ```
/// use gradus_optim::Buffer;
/// use gradus_tensor::{DType, Tensor};
/// let b = Buffer::full_like(&Tensor::zeros(&[2, 3], DType::F32), 0.5);
/// assert_eq!(b.to_tensor().unwrap().to_vec::<f32>().unwrap(), vec![0.5; 6]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Buffer {
    /// The shape of the parameter it belongs to.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub data: Data,
}

impl Buffer {
    /// A buffer with `t`'s shape and dtype filled with `value`.
    pub fn full_like(t: &Tensor, value: f64) -> Buffer {
        let n = t.numel();
        let data = match t.dtype() {
            DType::F32 => Data::F32(vec![value as f32; n]),
            // f64 for any other dtype: `State::param_slots` then reports the mismatch.
            _ => Data::F64(vec![value; n]),
        };
        Buffer {
            shape: t.shape().to_vec(),
            data,
        }
    }

    /// A buffer holding a copy of `t`'s values.
    pub fn copy_of(t: &Tensor) -> Result<Buffer> {
        let data = match t.dtype() {
            DType::F32 => Data::F32(t.to_vec::<f32>()?),
            _ => Data::F64(t.to_vec::<f64>()?),
        };
        Ok(Buffer {
            shape: t.shape().to_vec(),
            data,
        })
    }

    /// The values as a new tensor.
    ///
    /// # Errors
    /// When the shape does not match the number of values (a corrupt checkpoint).
    pub fn to_tensor(&self) -> Result<Tensor> {
        Ok(match &self.data {
            Data::F32(v) => Tensor::from_vec(v.clone(), &self.shape)?,
            Data::F64(v) => Tensor::from_vec(v.clone(), &self.shape)?,
        })
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match self.data {
            Data::F32(_) => DType::F32,
            Data::F64(_) => DType::F64,
        }
    }

    /// The values as a mutable slice of `T`.
    ///
    /// # Errors
    /// When `T` is not the buffer's element type.
    pub fn values_mut<T: Scalar>(&mut self) -> Result<&mut [T]> {
        let dtype = self.dtype();
        T::data_mut(&mut self.data).ok_or_else(|| {
            OptimError::StateMismatch(format!(
                "buffer holds {dtype:?}, kernel wants {:?}",
                T::DTYPE
            ))
        })
    }

    /// The values as a slice of `T`.
    ///
    /// # Errors
    /// When `T` is not the buffer's element type.
    pub fn values<T: Scalar>(&self) -> Result<&[T]> {
        T::data(&self.data).ok_or_else(|| {
            OptimError::StateMismatch(format!(
                "buffer holds {:?}, kernel wants {:?}",
                self.dtype(),
                T::DTYPE
            ))
        })
    }
}

/// The element types optimizer kernels run on (`f32`, `f64`): [`Element`] plus access to
/// [`Data`].
pub trait Scalar: Element {
    /// The slice of `data` if it holds this type.
    fn data_mut(data: &mut Data) -> Option<&mut [Self]>;
    /// The slice of `data` if it holds this type.
    fn data(data: &Data) -> Option<&[Self]>;
}

impl Scalar for f32 {
    fn data_mut(data: &mut Data) -> Option<&mut [f32]> {
        match data {
            Data::F32(v) => Some(v),
            Data::F64(_) => None,
        }
    }
    fn data(data: &Data) -> Option<&[f32]> {
        match data {
            Data::F32(v) => Some(v),
            Data::F64(_) => None,
        }
    }
}

impl Scalar for f64 {
    fn data_mut(data: &mut Data) -> Option<&mut [f64]> {
        match data {
            Data::F64(v) => Some(v),
            Data::F32(_) => None,
        }
    }
    fn data(data: &Data) -> Option<&[f64]> {
        match data {
            Data::F64(v) => Some(v),
            Data::F32(_) => None,
        }
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
    /// A state with one buffer per `(name, initial value)` for every parameter.
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

    /// The `K` buffers of parameter `i`, mutably, checked against the parameter's shape.
    ///
    /// # Errors
    /// When the state has no such parameter or a different number of slots or shape.
    pub fn param_slots<const K: usize>(
        &mut self,
        i: usize,
        param: &Tensor,
    ) -> Result<[&mut Buffer; K]> {
        let n = self.slots.len();
        let row = self.slots.get_mut(i).ok_or_else(|| {
            OptimError::StateMismatch(format!("state has {n} parameters, asked for index {i}"))
        })?;
        for b in row.iter() {
            if b.shape != param.shape() || b.dtype() != param.dtype() {
                return Err(OptimError::StateMismatch(format!(
                    "parameter {i} is {:?} {:?}, its state buffer is {:?} {:?}",
                    param.shape(),
                    param.dtype(),
                    b.shape,
                    b.dtype()
                )));
            }
        }
        let len = row.len();
        let arr: &mut [Buffer; K] = row.as_mut_slice().try_into().map_err(|_| {
            OptimError::StateMismatch(format!("expected {K} buffers per parameter, found {len}"))
        })?;
        Ok(arr.each_mut())
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
