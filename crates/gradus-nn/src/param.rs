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
    ///
    /// ```
    /// use gradus_nn::Param;
    /// use gradus_tensor::{DType, Tensor};
    /// let p = Param::new(Tensor::zeros(&[2], DType::F32));
    /// assert!(p.tensor().is_leaf() && p.requires_grad());
    /// ```
    pub fn new(value: Tensor) -> Param {
        Param(Arc::new(RwLock::new(value.detach().requires_grad_(true))))
    }

    /// The current leaf tensor (a cheap handle).
    ///
    /// ```
    /// use gradus_nn::Param;
    /// use gradus_tensor::{DType, Tensor};
    /// let p = Param::new(Tensor::ones(&[2], DType::F32));
    /// assert_eq!(p.tensor().to_vec_f64(), vec![1.0, 1.0]);
    /// ```
    pub fn tensor(&self) -> Tensor {
        self.0.read().expect("param lock").clone()
    }

    /// Replaces the values with a detached copy of `value`; keeps the `requires_grad` flag.
    ///
    /// ```
    /// use gradus_nn::Param;
    /// use gradus_tensor::{DType, Tensor};
    /// let p = Param::new(Tensor::zeros(&[2], DType::F32));
    /// p.set(Tensor::ones(&[3], DType::F32));
    /// assert_eq!(p.shape(), vec![3]);
    /// assert!(p.requires_grad());
    /// ```
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
    ///
    /// ```
    /// use gradus_nn::Param;
    /// use gradus_tensor::{DType, Tensor};
    /// assert_eq!(Param::new(Tensor::zeros(&[2, 5], DType::F32)).shape(), vec![2, 5]);
    /// ```
    pub fn shape(&self) -> Vec<usize> {
        self.tensor().shape().to_vec()
    }

    /// Number of elements.
    ///
    /// ```
    /// use gradus_nn::Param;
    /// use gradus_tensor::{DType, Tensor};
    /// assert_eq!(Param::new(Tensor::zeros(&[2, 5], DType::F32)).numel(), 10);
    /// ```
    pub fn numel(&self) -> usize {
        self.tensor().numel()
    }

    /// Whether gradients flow to this parameter.
    ///
    /// ```
    /// use gradus_nn::Param;
    /// use gradus_tensor::{DType, Tensor};
    /// assert!(Param::new(Tensor::zeros(&[1], DType::F32)).requires_grad());
    /// ```
    pub fn requires_grad(&self) -> bool {
        self.tensor().requires_grad()
    }

    /// Freezes (`false`) or unfreezes (`true`) the parameter; its values are kept.
    ///
    /// ```
    /// use gradus_nn::Param;
    /// use gradus_tensor::{DType, Tensor};
    /// let p = Param::new(Tensor::ones(&[1], DType::F32));
    /// p.set_requires_grad(false);
    /// assert!(!p.requires_grad());
    /// assert_eq!(p.tensor().to_vec_f64(), vec![1.0]);
    /// ```
    pub fn set_requires_grad(&self, flag: bool) {
        let mut slot = self.0.write().expect("param lock");
        *slot = slot.detach().requires_grad_(flag);
    }

    /// The gradient accumulated by the last backward pass.
    ///
    /// ```
    /// use gradus_nn::Param;
    /// use gradus_tensor::{DType, Tensor};
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
    /// use gradus_nn::Param;
    /// use gradus_tensor::{DType, Tensor};
    /// let p = Param::new(Tensor::ones(&[2], DType::F64));
    /// p.tensor().sum_all().unwrap().backward().unwrap();
    /// p.zero_grad();
    /// assert!(p.grad().is_none());
    /// ```
    pub fn zero_grad(&self) {
        self.tensor().set_grad(None);
    }

    /// Converts the values to `dtype` (a new leaf, same flag).
    ///
    /// ```
    /// use gradus_nn::Param;
    /// use gradus_tensor::{DType, Tensor};
    /// let p = Param::new(Tensor::ones(&[2], DType::F32));
    /// p.cast(DType::F64).unwrap();
    /// assert_eq!(p.tensor().dtype(), DType::F64);
    /// ```
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
    ///
    /// ```
    /// use gradus_nn::Param;
    /// use gradus_tensor::{DType, Tensor};
    /// let p = Param::new(Tensor::ones(&[2], DType::F32));
    /// assert!(p.same_as(&p.clone()));
    /// assert!(!p.same_as(&Param::new(p.tensor())));
    /// ```
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
    ///
    /// ```
    /// use gradus_nn::Buffer;
    /// use gradus_tensor::{DType, Tensor};
    /// assert!(Buffer::new(Tensor::zeros(&[], DType::F32), true).is_integer());
    /// ```
    pub fn new(value: Tensor, integer: bool) -> Buffer {
        Buffer {
            slot: Arc::new(RwLock::new(value.detach())),
            integer,
        }
    }

    /// The current value.
    ///
    /// ```
    /// use gradus_nn::Buffer;
    /// use gradus_tensor::{DType, Tensor};
    /// assert_eq!(Buffer::new(Tensor::ones(&[1], DType::F32), false).tensor().to_vec_f64(), vec![1.0]);
    /// ```
    pub fn tensor(&self) -> Tensor {
        self.slot.read().expect("buffer lock").clone()
    }

    /// Replaces the value (detached from any graph).
    ///
    /// ```
    /// use gradus_nn::Buffer;
    /// use gradus_tensor::{DType, Tensor};
    /// let b = Buffer::new(Tensor::zeros(&[1], DType::F32), false);
    /// b.set(Tensor::ones(&[1], DType::F32).requires_grad_(true));
    /// assert!(!b.tensor().requires_grad());
    /// ```
    pub fn set(&self, value: Tensor) {
        *self.slot.write().expect("buffer lock") = value.detach();
    }

    /// Whether this buffer is an integer counter.
    ///
    /// ```
    /// use gradus_nn::Buffer;
    /// use gradus_tensor::{DType, Tensor};
    /// assert!(!Buffer::new(Tensor::zeros(&[1], DType::F32), false).is_integer());
    /// ```
    pub fn is_integer(&self) -> bool {
        self.integer
    }

    /// Converts the values to `dtype`.
    ///
    /// ```
    /// use gradus_nn::Buffer;
    /// use gradus_tensor::{DType, Tensor};
    /// let b = Buffer::new(Tensor::zeros(&[1], DType::F32), false);
    /// b.cast(DType::F64).unwrap();
    /// assert_eq!(b.tensor().dtype(), DType::F64);
    /// ```
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
