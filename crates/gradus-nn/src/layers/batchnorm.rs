//! `BatchNorm1d` / `BatchNorm2d`: normalization over the batch (and spatial) axes with running
//! statistics, as PyTorch: the running variance uses the unbiased batch variance, evaluation
//! mode normalizes with the running statistics. In training mode a channel needs more than one
//! value (batch × spatial positions): one value has no variance, so it is an error naming the
//! layer, as PyTorch's "Expected more than 1 value per channel when training".

use crate::module::{Module, TrainingFlag};
use crate::param::{Buffer, Param};
use gradus_tensor::{autodiff, DType, Result, Tensor, TensorError};

/// Batch normalization over channel axis 1 of `[n, c]`, `[n, c, l]` (1d) or `[n, c, h, w]`
/// (2d). `momentum: None` is PyTorch's cumulative moving average.
///
/// ```
/// use gradus_nn::{layers::BatchNorm, Module};
/// use gradus_tensor::{DType, Rng};
/// let bn = BatchNorm::new_2d(3);
/// let x = Rng::seed(0).normal(&[4, 3, 2, 2], 5.0, 2.0, DType::F32);
/// let y = bn.forward(&x).unwrap();
/// assert!(y.mean_all().unwrap().item().unwrap().abs() < 1e-5);
/// let names: Vec<String> = bn.named_buffers().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["running_mean", "running_var", "num_batches_tracked"]);
/// ```
#[derive(Debug)]
pub struct BatchNorm {
    /// Number of channels.
    pub num_features: usize,
    /// Added to the variance.
    pub eps: f64,
    /// Running-average factor (PyTorch's 0.1), or `None` for a cumulative average.
    pub momentum: Option<f64>,
    /// `[c]` scale (gamma)
    pub weight: Param,
    /// `[c]` shift (beta)
    pub bias: Param,
    /// `[c]`
    pub running_mean: Buffer,
    /// `[c]`
    pub running_var: Buffer,
    /// `[]` number of training batches seen (stored as I64)
    pub num_batches_tracked: Buffer,
    spatial: bool,
    training: TrainingFlag,
}

impl BatchNorm {
    fn new(num_features: usize, spatial: bool) -> BatchNorm {
        let v = |x: f64| Tensor::full(&[num_features], x, DType::F32);
        BatchNorm {
            num_features,
            eps: 1e-5,
            momentum: Some(0.1),
            weight: Param::new(v(1.0)),
            bias: Param::new(v(0.0)),
            running_mean: Buffer::new(v(0.0), false),
            running_var: Buffer::new(v(1.0), false),
            num_batches_tracked: Buffer::new(Tensor::zeros(&[], DType::F32), true),
            spatial,
            training: TrainingFlag::default(),
        }
    }

    /// `BatchNorm1d(num_features)` for `[n, c]` or `[n, c, l]`.
    ///
    /// ```
    /// use gradus_nn::{layers::BatchNorm, Module};
    /// use gradus_tensor::{DType, Tensor};
    /// assert_eq!(BatchNorm::new_1d(3).forward(&Tensor::ones(&[2, 3, 5], DType::F32)).unwrap().shape(), &[2, 3, 5]);
    /// ```
    pub fn new_1d(num_features: usize) -> BatchNorm {
        BatchNorm::new(num_features, false)
    }

    /// `BatchNorm2d(num_features)` for `[n, c, h, w]`.
    ///
    /// ```
    /// use gradus_nn::{layers::BatchNorm, Module};
    /// use gradus_tensor::{DType, Tensor};
    /// assert!(BatchNorm::new_2d(3).forward(&Tensor::ones(&[2, 3], DType::F32)).is_err());
    /// ```
    pub fn new_2d(num_features: usize) -> BatchNorm {
        BatchNorm::new(num_features, true)
    }

    /// Sets `eps` and `momentum`.
    ///
    /// ```
    /// let bn = gradus_nn::layers::BatchNorm::new_1d(2).with(1e-3, None);
    /// assert_eq!((bn.eps, bn.momentum), (1e-3, None));
    /// ```
    pub fn with(mut self, eps: f64, momentum: Option<f64>) -> BatchNorm {
        self.eps = eps;
        self.momentum = momentum;
        self
    }

    /// `BatchNorm1d` or `BatchNorm2d`, as errors name the layer.
    pub fn kind(&self) -> &'static str {
        if self.spatial {
            "BatchNorm2d"
        } else {
            "BatchNorm1d"
        }
    }

    fn check(&self, x: &Tensor) -> Result<()> {
        let ok_rank = if self.spatial {
            x.rank() == 4
        } else {
            x.rank() == 2 || x.rank() == 3
        };
        if !ok_rank || x.shape()[1] != self.num_features {
            let detail = format!(
                "expected {} channels on axis 1 of a {} input",
                self.num_features,
                if self.spatial { "4-D" } else { "2-D or 3-D" }
            );
            return Err(TensorError::InvalidShape {
                op: self.kind(),
                shape: x.shape().to_vec(),
                detail,
            });
        }
        Ok(())
    }

    /// Errors unless each channel has more than one value (PyTorch checks the same in training).
    fn check_batch_statistics(&self, x: &Tensor) -> Result<()> {
        let per_channel = x.numel() / self.num_features.max(1);
        if per_channel != 1 {
            return Ok(());
        }
        let detail = format!(
            "expected more than 1 value per channel when training, got 1 for each of the {} \
             channels of {}({}) (a batch of one sample); use batches of 2 or more, or evaluation \
             mode",
            self.num_features,
            self.kind(),
            self.num_features
        );
        Err(TensorError::InvalidShape {
            op: self.kind(),
            shape: x.shape().to_vec(),
            detail,
        })
    }

    fn update_running(&self, mean: &Tensor, var: &Tensor, count: usize) -> Result<()> {
        autodiff::no_grad(|| {
            let tracked = self.num_batches_tracked.tensor().add_scalar(1.0)?;
            // count >= 2: forward refuses one value per channel in training
            let unbiased = var.mul_scalar(count as f64 / (count - 1) as f64)?;
            let (old_mean, old_var) = (self.running_mean.tensor(), self.running_var.tensor());
            let (new_mean, new_var) = match self.momentum {
                Some(m) => {
                    let blend = |old: &Tensor, new: &Tensor| {
                        old.mul_scalar(1.0 - m)?.add(&new.mul_scalar(m)?)
                    };
                    (blend(&old_mean, mean)?, blend(&old_var, &unbiased)?)
                }
                None => {
                    // cumulative average: the factor 1 / batches seen, formed in f64 (as torch
                    // forms it from `num_batches_tracked` on the host) from the count where it
                    // lives, then rounded to the statistics' dtype: no host read
                    let dtype = old_mean.dtype();
                    let one = Tensor::full_on(&[], 1.0, DType::F64, tracked.device());
                    let m = one.div(&tracked.to_dtype(DType::F64)?)?;
                    let keep = m.affine(-1.0, 1.0)?.to_dtype(dtype)?;
                    let m = m.to_dtype(dtype)?;
                    let blend = |old: &Tensor, new: &Tensor| old.mul(&keep)?.add(&new.mul(&m)?);
                    (blend(&old_mean, mean)?, blend(&old_var, &unbiased)?)
                }
            };
            self.running_mean.set(new_mean);
            self.running_var.set(new_var);
            self.num_batches_tracked.set(tracked);
            Ok(())
        })
    }
}

impl Module for BatchNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.check(x)?;
        let axes: Vec<isize> = (0..x.rank() as isize).filter(|&a| a != 1).collect();
        let mut bshape = vec![1; x.rank()];
        bshape[1] = self.num_features;
        let (mean, var) = if self.training.get() {
            self.check_batch_statistics(x)?;
            if x.numel() == 0 {
                // PyTorch: an empty batch gives an empty output and leaves the statistics alone
                return x.mul_scalar(1.0);
            }
            let mean = x.mean(&axes, false)?;
            let var = x.var(&axes, 0, false)?;
            self.update_running(&mean.detach(), &var.detach(), x.numel() / self.num_features)?;
            (mean, var)
        } else {
            (self.running_mean.tensor(), self.running_var.tensor())
        };
        let inv_std = var.add_scalar(self.eps)?.powf(-0.5)?;
        let scale = self.weight.tensor().mul(&inv_std)?.reshape(&bshape)?;
        let centered = x.sub(&mean.reshape(&bshape)?)?;
        centered
            .mul(&scale)?
            .add(&self.bias.tensor().reshape(&bshape)?)
    }

    fn own_params(&self) -> Vec<(String, Param)> {
        vec![
            ("weight".into(), self.weight.clone()),
            ("bias".into(), self.bias.clone()),
        ]
    }

    fn own_buffers(&self) -> Vec<(String, Buffer)> {
        vec![
            ("running_mean".into(), self.running_mean.clone()),
            ("running_var".into(), self.running_var.clone()),
            (
                "num_batches_tracked".into(),
                self.num_batches_tracked.clone(),
            ),
        ]
    }

    fn set_own_training(&self, on: bool) {
        self.training.set(on);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn momentum_none_keeps_the_cumulative_average_of_the_batch_statistics() {
        let bn = BatchNorm::new_1d(2).with(1e-5, None);
        let batches = [
            vec![1.0f32, 10.0, 3.0, 20.0],
            vec![-2.0, 0.0, 4.0, 5.0],
            vec![0.5, 7.0, 1.5, -7.0],
        ];
        let (mut means, mut vars) = (vec![0.0f64; 2], vec![1.0f64; 2]);
        for (k, b) in batches.iter().enumerate() {
            bn.forward(&Tensor::from_vec(b.clone(), &[2, 2]).unwrap())
                .unwrap();
            // torch: running = (1 - 1/n) running + (1/n) batch, n the batches seen so far
            let f = 1.0 / (k + 1) as f64;
            for c in 0..2 {
                let (a, b) = (b[c] as f64, b[2 + c] as f64);
                let mean = (a + b) / 2.0;
                let unbiased = (a - mean).powi(2) + (b - mean).powi(2);
                means[c] = (1.0 - f) * means[c] + f * mean;
                vars[c] = (1.0 - f) * vars[c] + f * unbiased;
            }
        }
        let close = |got: Vec<f64>, want: &[f64]| {
            got.iter()
                .zip(want)
                .all(|(g, w)| (g - w).abs() <= 1e-5 * w.abs().max(1.0))
        };
        assert!(close(bn.running_mean.tensor().to_vec_f64(), &means));
        assert!(close(bn.running_var.tensor().to_vec_f64(), &vars));
        assert_eq!(bn.num_batches_tracked.tensor().item().unwrap(), 3.0);
    }
}
