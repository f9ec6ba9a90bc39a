//! [`StateDtype`]: a transformation whose state buffers are held in a declared dtype.

use crate::{GradientTransformation, Result, State};
use gradus_tensor::{DType, Tensor};

/// `inner` with every state buffer held in `dtype` (optax's `mu_dtype`); made by
/// [`GradientTransformation::state_dtype`], which documents the arithmetic. Transparent: its
/// state is `inner`'s state (same slots, names and checkpoint keys), only in `dtype`.
///
/// ```
/// use gradus_optim::{GradientTransformation, Sgd};
/// use gradus_tensor::{DType, Tensor};
/// let sgd = Sgd::new(0.1).momentum(0.9).state_dtype(DType::F64);
/// let state = sgd.init(&[Tensor::zeros(&[3], DType::F32)]).unwrap();
/// assert_eq!(state.slots[0][0].dtype(), DType::F64);
/// ```
#[derive(Clone, Debug)]
pub struct StateDtype<G> {
    inner: G,
    dtype: DType,
}

impl<G: GradientTransformation> StateDtype<G> {
    /// `inner` with its state in `dtype`.
    pub fn new(inner: G, dtype: DType) -> StateDtype<G> {
        StateDtype { inner, dtype }
    }

    /// The declared dtype of the state buffers.
    pub fn dtype(&self) -> DType {
        self.dtype
    }
}

impl<G: GradientTransformation> GradientTransformation for StateDtype<G> {
    fn init(&self, params: &[Tensor]) -> Result<State> {
        self.inner.init(params)?.to_dtype(self.dtype)
    }
    fn update(&self, updates: &mut [Tensor], state: &mut State, params: &[Tensor]) -> Result<()> {
        self.inner.update(updates, state, params)
    }
    fn apply(&self, params: &[Tensor], grads: &[Tensor], state: &mut State) -> Result<()> {
        self.inner.apply(params, grads, state)
    }
}
