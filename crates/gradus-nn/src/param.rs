//! The handles a module holds: [`Param`] (a trainable leaf; defined in `gradus-tensor`, where
//! optimizers hold the same handles) and [`Buffer`] (non-trainable state such as running
//! statistics).
//!
//! Both are shared handles (`Arc<RwLock<Tensor>>`): cloning one gives another handle to the same
//! slot, so tied weights are one `Param` held twice, and freezing, casting or loading through any
//! handle is seen by all.

pub use gradus_tensor::Param;
use gradus_tensor::{DType, Device, Tensor};
use std::sync::{Arc, PoisonError, RwLock};

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
        self.slot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
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
        *self.slot.write().unwrap_or_else(PoisonError::into_inner) = value.detach();
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

    /// Converts the values to `dtype`; a no-op when already `dtype`.
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
    /// When the tensor cannot be converted (see [`Tensor::to_dtype`]).
    pub fn cast(&self, dtype: DType) -> gradus_tensor::Result<()> {
        self.to(self.tensor().device(), dtype)
    }

    /// Moves the values to `device` and converts them to `dtype` in place (as
    /// [`Param::to`]); a no-op when already there in that dtype. An integer buffer (a count such
    /// as `num_batches_tracked`) asked for a 16-bit dtype becomes f32, which holds its values.
    ///
    /// ```
    /// use gradus_nn::Buffer;
    /// use gradus_tensor::{DType, Device, Tensor};
    /// let b = Buffer::new(Tensor::zeros(&[1], DType::F64), false);
    /// b.to(Device::Cpu, DType::F32).unwrap();
    /// assert_eq!(b.tensor().dtype(), DType::F32);
    /// ```
    ///
    /// # Errors
    /// When the tensor cannot be moved or converted ([`Tensor::to_device`], [`Tensor::to_dtype`]).
    pub fn to(&self, device: Device, dtype: DType) -> gradus_tensor::Result<()> {
        // a count in 16 bits would stop at 256 (bf16) or 2048 (f16): it stays f32
        let dtype = if self.is_integer() && dtype.half().is_some() {
            DType::F32
        } else {
            dtype
        };
        let t = self.tensor();
        if t.device() != device || t.dtype() != dtype {
            self.set(t.to_device(device)?.to_dtype(dtype)?);
        }
        Ok(())
    }
}
