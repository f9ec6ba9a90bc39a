//! Numerically stable softmax and log-softmax: over the last axis one fused op
//! (`ops::nn::softmax`), over another axis composed from primitives; both differentiable to any
//! order.

use crate::autodiff::no_grad;
use crate::{Result, Tensor};

impl Tensor {
    /// `exp(x_i) / sum_j exp(x_j)` along `axis`, computed as `exp(x - max)` to avoid overflow.
    ///
    /// # Errors
    /// On an axis out of range.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1000.0f64, 1000.0], &[2]).unwrap();
    /// assert_eq!(x.softmax(-1).unwrap().to_vec::<f64>().unwrap(), vec![0.5, 0.5]);
    /// ```
    pub fn softmax(&self, axis: isize) -> Result<Tensor> {
        if self.is_last_axis(axis)? {
            return super::nn::softmax::softmax_last(self, false);
        }
        self.softmax_composed(axis, false)
    }

    /// Softmax (or log-softmax, `log`) from primitive ops: any axis, every order of derivative.
    pub(crate) fn softmax_composed(&self, axis: isize, log: bool) -> Result<Tensor> {
        if log {
            let shift = self.stable_shift(axis)?;
            let z = self.sub(&shift)?;
            return z.sub(&z.exp()?.sum(&[axis], true)?.log()?);
        }
        let shift = self.stable_shift(axis)?;
        let e = self.sub(&shift)?.exp()?;
        e.div(&e.sum(&[axis], true)?)
    }

    /// `x_i - log sum_j exp(x_j)` along `axis`, stable for large inputs.
    ///
    /// # Errors
    /// On an axis out of range.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![0.0f64, 0.0], &[2]).unwrap();
    /// let y = x.log_softmax(0).unwrap().to_vec::<f64>().unwrap();
    /// assert!((y[0] + 2f64.ln()).abs() < 1e-15);
    /// ```
    pub fn log_softmax(&self, axis: isize) -> Result<Tensor> {
        if self.is_last_axis(axis)? {
            return super::nn::softmax::softmax_last(self, true);
        }
        self.softmax_composed(axis, true)
    }

    /// Whether `axis` is the last axis of a non-empty tensor (the fused kernels' case).
    fn is_last_axis(&self, axis: isize) -> Result<bool> {
        if self.rank() == 0 || self.numel() == 0 {
            return Ok(false);
        }
        Ok(crate::layout::normalize_axis("softmax", axis, self.shape())? == self.rank() - 1)
    }

    /// The maximum along `axis` (kept as size 1), a constant; zeros when the tensor is empty
    /// (softmax of an empty tensor is empty, as in PyTorch, where `max` would refuse the axis).
    fn stable_shift(&self, axis: isize) -> Result<Tensor> {
        if self.numel() == 0 {
            let mut shape = self.shape().to_vec();
            shape[crate::layout::normalize_axis("softmax", axis, self.shape())?] = 1;
            return Ok(Tensor::zeros(&shape, self.dtype()));
        }
        no_grad(|| self.max(axis, true))
    }
}
