//! [`Param`]: the one handle to a trainable tensor, shared by the module that uses it and the
//! optimizer that updates it (PyTorch's `nn.Parameter`, candle's `Var`).
//!
//! A `Param` is an `Arc<RwLock<Tensor>>`: cloning it gives another handle to the same slot, so
//! tied weights are one `Param` held twice, and freezing, casting, moving or loading through any
//! handle is seen by every holder, the optimizer included.

use crate::{DType, Device, Result, Tensor};
use std::sync::{Arc, PoisonError, RwLock};

/// A trainable parameter: a shared slot holding a leaf tensor that requires grad (unless frozen).
///
/// ```
/// use gradus_tensor::{DType, Param, Tensor};
/// let p = Param::new(Tensor::ones(&[2, 3], DType::F32));
/// let held = p.clone(); // e.g. by an optimizer
/// p.set_requires_grad(false);
/// assert!(!held.tensor().requires_grad());
/// ```
#[derive(Clone, Debug)]
pub struct Param(Arc<RwLock<Tensor>>);

impl Param {
    /// A parameter holding `value` as a fresh leaf that requires grad.
    ///
    /// ```
    /// use gradus_tensor::{DType, Param, Tensor};
    /// let p = Param::new(Tensor::zeros(&[2], DType::F32));
    /// assert!(p.tensor().is_leaf() && p.requires_grad());
    /// ```
    pub fn new(value: Tensor) -> Param {
        Param::from_tensor(value.detach().requires_grad_(true))
    }

    /// A parameter holding `value` itself (same tensor, same gradient slot, same
    /// `requires_grad`), so gradients computed with respect to `value` are seen through the
    /// handle. This is how an optimizer built from plain tensors holds them.
    ///
    /// ```
    /// use gradus_tensor::{DType, Param, Tensor};
    /// let w = Tensor::ones(&[2], DType::F64).requires_grad_(true);
    /// let p = Param::from_tensor(w.clone());
    /// w.sum_all().unwrap().backward().unwrap();
    /// assert_eq!(p.grad().unwrap().to_vec_f64(), vec![1.0, 1.0]);
    /// ```
    pub fn from_tensor(value: Tensor) -> Param {
        Param(Arc::new(RwLock::new(value)))
    }

    /// The current leaf tensor (a cheap handle).
    ///
    /// ```
    /// use gradus_tensor::{DType, Param, Tensor};
    /// let p = Param::new(Tensor::ones(&[2], DType::F32));
    /// assert_eq!(p.tensor().to_vec_f64(), vec![1.0, 1.0]);
    /// ```
    pub fn tensor(&self) -> Tensor {
        // The lock guards a plain handle swap that cannot leave it half-written, so a poisoned
        // lock still holds a valid tensor.
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the slot's tensor with `value` as is.
    fn replace(&self, value: Tensor) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = value;
    }

    /// Replaces the values with a detached copy of `value`; keeps the `requires_grad` flag. An
    /// optimizer holding this handle updates the new values from its next step (they must keep
    /// the shape its state was made for).
    ///
    /// ```
    /// use gradus_tensor::{DType, Param, Tensor};
    /// let p = Param::new(Tensor::zeros(&[2], DType::F32));
    /// p.set(Tensor::ones(&[3], DType::F32));
    /// assert_eq!(p.shape(), vec![3]);
    /// assert!(p.requires_grad());
    /// ```
    pub fn set(&self, value: Tensor) {
        let flag = self.requires_grad();
        self.replace(value.detach().requires_grad_(flag));
    }

    /// Stores `value` itself (not a detached copy), so gradients with respect to `value` flow
    /// through the module: for functional calls such as [`gradcheck`](crate::gradcheck).
    ///
    /// ```
    /// use gradus_tensor::{DType, Param, Tensor};
    /// let p = Param::new(Tensor::zeros(&[2], DType::F64));
    /// let t = Tensor::ones(&[2], DType::F64).requires_grad_(true);
    /// p.bind(t.clone());
    /// assert_eq!(p.tensor().id(), t.id());
    /// ```
    pub fn bind(&self, value: Tensor) {
        self.replace(value);
    }

    /// The parameter's shape.
    ///
    /// ```
    /// use gradus_tensor::{DType, Param, Tensor};
    /// assert_eq!(Param::new(Tensor::zeros(&[2, 5], DType::F32)).shape(), vec![2, 5]);
    /// ```
    pub fn shape(&self) -> Vec<usize> {
        self.tensor().shape().to_vec()
    }

    /// Number of elements.
    ///
    /// ```
    /// use gradus_tensor::{DType, Param, Tensor};
    /// assert_eq!(Param::new(Tensor::zeros(&[2, 5], DType::F32)).numel(), 10);
    /// ```
    pub fn numel(&self) -> usize {
        self.tensor().numel()
    }

    /// The element type.
    ///
    /// ```
    /// use gradus_tensor::{DType, Param, Tensor};
    /// assert_eq!(Param::new(Tensor::zeros(&[1], DType::F64)).dtype(), DType::F64);
    /// ```
    pub fn dtype(&self) -> DType {
        self.tensor().dtype()
    }

    /// The device holding the values.
    ///
    /// ```
    /// use gradus_tensor::{DType, Device, Param, Tensor};
    /// assert_eq!(Param::new(Tensor::zeros(&[1], DType::F32)).device(), Device::Cpu);
    /// ```
    pub fn device(&self) -> Device {
        self.tensor().device()
    }

    /// Whether gradients flow to this parameter.
    ///
    /// ```
    /// use gradus_tensor::{DType, Param, Tensor};
    /// assert!(Param::new(Tensor::zeros(&[1], DType::F32)).requires_grad());
    /// ```
    pub fn requires_grad(&self) -> bool {
        self.tensor().requires_grad()
    }

    /// Freezes (`false`) or unfreezes (`true`) the parameter; its values are kept (the new leaf
    /// shares their storage) and its gradient is cleared. An optimizer holding this handle skips
    /// the parameter while it is frozen.
    ///
    /// ```
    /// use gradus_tensor::{DType, Param, Tensor};
    /// let p = Param::new(Tensor::ones(&[1], DType::F32));
    /// p.set_requires_grad(false);
    /// assert!(!p.requires_grad());
    /// assert_eq!(p.tensor().to_vec_f64(), vec![1.0]);
    /// ```
    pub fn set_requires_grad(&self, flag: bool) {
        let mut slot = self.0.write().unwrap_or_else(PoisonError::into_inner);
        *slot = slot.detach().requires_grad_(flag);
    }

    /// The gradient accumulated by the last backward pass.
    ///
    /// ```
    /// use gradus_tensor::{DType, Param, Tensor};
    /// let p = Param::new(Tensor::ones(&[2], DType::F64));
    /// p.tensor().mul_scalar(3.0).unwrap().sum_all().unwrap().backward().unwrap();
    /// assert_eq!(p.grad().unwrap().to_vec_f64(), vec![3.0, 3.0]);
    /// ```
    pub fn grad(&self) -> Option<Tensor> {
        self.tensor().grad()
    }

    /// Clears the gradient.
    ///
    /// ```
    /// use gradus_tensor::{DType, Param, Tensor};
    /// let p = Param::new(Tensor::ones(&[2], DType::F64));
    /// p.tensor().sum_all().unwrap().backward().unwrap();
    /// p.zero_grad();
    /// assert!(p.grad().is_none());
    /// ```
    pub fn zero_grad(&self) {
        self.tensor().set_grad(None);
    }

    /// Converts the values to `dtype` (a new leaf, same flag); a no-op when already `dtype`.
    ///
    /// ```
    /// use gradus_tensor::{DType, Param, Tensor};
    /// let p = Param::new(Tensor::ones(&[2], DType::F32));
    /// p.cast(DType::F64).unwrap();
    /// assert_eq!(p.tensor().dtype(), DType::F64);
    /// ```
    ///
    /// # Errors
    /// When the tensor cannot be converted (see [`Tensor::to_dtype`]).
    pub fn cast(&self, dtype: DType) -> Result<()> {
        self.to(self.device(), dtype)
    }

    /// Moves the values to `device` and converts them to `dtype` in place (PyTorch's
    /// `param.data = param.data.to(device, dtype)`): every holder of this handle, an optimizer
    /// included, sees the moved parameter. The `requires_grad` flag is kept; a no-op when the
    /// parameter is already there in that dtype.
    ///
    /// ```
    /// use gradus_tensor::{DType, Device, Param, Tensor};
    /// let p = Param::new(Tensor::ones(&[2], DType::F64));
    /// p.to(Device::Cpu, DType::F32).unwrap();
    /// assert_eq!((p.device(), p.dtype()), (Device::Cpu, DType::F32));
    /// assert!(p.requires_grad());
    /// ```
    ///
    /// # Errors
    /// When the tensor cannot be moved or converted ([`Tensor::to_device`], [`Tensor::to_dtype`]).
    pub fn to(&self, device: Device, dtype: DType) -> Result<()> {
        let t = self.tensor();
        if t.device() != device || t.dtype() != dtype {
            self.set(t.to_device(device)?.to_dtype(dtype)?);
        }
        Ok(())
    }

    /// True when both handles are the same slot (tied weights).
    ///
    /// ```
    /// use gradus_tensor::{DType, Param, Tensor};
    /// let p = Param::new(Tensor::ones(&[2], DType::F32));
    /// assert!(p.same_as(&p.clone()));
    /// assert!(!p.same_as(&Param::new(p.tensor())));
    /// ```
    pub fn same_as(&self, other: &Param) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
