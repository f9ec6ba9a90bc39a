//! [`Param`] (a trainable leaf) and [`Buffer`] (non-trainable state such as running statistics).
//!
//! Both are shared handles (`Arc<RwLock<Tensor>>`): cloning one gives another handle to the same
//! slot, so tied weights are one `Param` held twice, and freezing or loading through any handle
//! is seen by all.

use gradus_tensor::{DType, Tensor};
use std::sync::{Arc, RwLock};

/// A trainable parameter: a leaf tensor that requires grad (unless frozen).
///
/// ```
/// use gradus_nn::Param;
/// use gradus_tensor::{DType, Tensor};
/// let p = Param::new(Tensor::ones(&[2, 3], DType::F32));
/// assert!(p.requires_grad());
/// p.set_requires_grad(false);
/// assert!(!p.tensor().requires_grad());
/// ```
#[derive(Clone, Debug)]
pub struct Param(Arc<RwLock<Tensor>>);

impl Param {
    /// A parameter holding `value` as a fresh leaf that requires grad.
    pub fn new(value: Tensor) -> Param {
        Param(Arc::new(RwLock::new(value.detach().requires_grad_(true))))
    }

    /// The current leaf tensor (a cheap handle).
    pub fn tensor(&self) -> Tensor {
        self.0.read().expect("param lock").clone()
    }

    /// Replaces the leaf (e.g. with another tensor in gradcheck); keeps the `requires_grad` flag.
    pub fn set(&self, value: Tensor) {
        let flag = self.requires_grad();
        *self.0.write().expect("param lock") = value.detach().requires_grad_(flag);
    }

    /// Stores `value` itself (not a detached copy), so gradients with respect to `value` flow
    /// through the module: for functional calls such as `gradus_tensor::gradcheck`.
    ///
    /// ```
    /// use gradus_nn::Param;
    /// use gradus_tensor::{DType, Tensor};
    /// let p = Param::new(Tensor::zeros(&[2], DType::F64));
    /// let t = Tensor::ones(&[2], DType::F64).requires_grad_(true);
    /// p.bind(t.clone());
    /// assert_eq!(p.tensor().id(), t.id());
    /// ```
    pub fn bind(&self, value: Tensor) {
        *self.0.write().expect("param lock") = value;
    }

    /// The parameter's shape.
    pub fn shape(&self) -> Vec<usize> {
        self.tensor().shape().to_vec()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.tensor().numel()
    }

    /// Whether gradients flow to this parameter.
    pub fn requires_grad(&self) -> bool {
        self.tensor().requires_grad()
    }

    /// Freezes (`false`) or unfreezes (`true`) the parameter; its values are kept.
    pub fn set_requires_grad(&self, flag: bool) {
        let mut slot = self.0.write().expect("param lock");
        *slot = slot.detach().requires_grad_(flag);
    }

    /// The gradient accumulated by the last backward pass.
    pub fn grad(&self) -> Option<Tensor> {
        self.tensor().grad()
    }

    /// Clears the gradient.
    pub fn zero_grad(&self) {
        self.tensor().set_grad(None);
    }

    /// Converts the values to `dtype` (a new leaf, same flag).
    ///
    /// # Errors
    /// Never for F32/F64; kept for symmetry with tensor ops.
    pub fn cast(&self, dtype: DType) -> gradus_tensor::Result<()> {
        let t = self.tensor();
        if t.dtype() != dtype {
            self.set(t.to_dtype(dtype)?);
        }
        Ok(())
    }

    /// True when both handles are the same slot (tied weights).
    pub fn same_as(&self, other: &Param) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Non-trainable state saved with the model (BatchNorm running statistics). `integer` buffers
/// (`num_batches_tracked`) are written as I64, as PyTorch stores them.
///
/// ```
/// use gradus_nn::Buffer;
/// use gradus_tensor::{DType, Tensor};
/// let b = Buffer::new(Tensor::zeros(&[3], DType::F32), false);
/// b.set(Tensor::ones(&[3], DType::F32));
/// assert_eq!(b.tensor().to_vec::<f32>().unwrap(), vec![1.0; 3]);
/// ```
#[derive(Clone, Debug)]
pub struct Buffer {
    slot: Arc<RwLock<Tensor>>,
    integer: bool,
}

impl Buffer {
    /// A buffer holding `value`; `integer` marks a counter stored as I64.
    pub fn new(value: Tensor, integer: bool) -> Buffer {
        Buffer {
            slot: Arc::new(RwLock::new(value.detach())),
            integer,
        }
    }

    /// The current value.
    pub fn tensor(&self) -> Tensor {
        self.slot.read().expect("buffer lock").clone()
    }

    /// Replaces the value (detached from any graph).
    pub fn set(&self, value: Tensor) {
        *self.slot.write().expect("buffer lock") = value.detach();
    }

    /// Whether this buffer is an integer counter.
    pub fn is_integer(&self) -> bool {
        self.integer
    }

    /// Converts the values to `dtype`.
    ///
    /// # Errors
    /// Never for F32/F64.
    pub fn cast(&self, dtype: DType) -> gradus_tensor::Result<()> {
        let t = self.tensor();
        if t.dtype() != dtype {
            self.set(t.to_dtype(dtype)?);
        }
        Ok(())
    }
}
