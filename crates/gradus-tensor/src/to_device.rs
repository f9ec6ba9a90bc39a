//! [`Tensor::to_device`]: the tensor on another device (PyTorch's `tensor.to(device)`).
//!
//! Only the CPU exists today, so the move is the identity; a second backend makes it a copy
//! between devices through the backend's host transfers, with the gradient flowing back.

use crate::{Device, Result, Tensor, TensorError};

impl Tensor {
    /// The same values on `device`: this tensor itself when it is already there (as PyTorch's
    /// `tensor.to(device)` returns `self`).
    ///
    /// # Errors
    /// When no backend for `device` is built in (none can be named today: the CPU is the only
    /// device).
    ///
    /// ```
    /// use gradus_tensor::{DType, Device, Tensor};
    /// let x = Tensor::ones(&[2], DType::F32);
    /// let y = x.to_device(Device::Cpu).unwrap();
    /// assert_eq!((y.device(), y.id()), (Device::Cpu, x.id()));
    /// ```
    pub fn to_device(&self, device: Device) -> Result<Tensor> {
        if self.device() == device {
            return Ok(self.clone());
        }
        Err(TensorError::InvalidArgument {
            op: "to_device",
            detail: format!(
                "cannot move a {} tensor to {device}: no backend for it",
                self.device()
            ),
        })
    }
}
