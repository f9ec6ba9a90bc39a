//! `MaxPool2d` and `AvgPool2d` as modules.

use crate::module::Module;
use gradus_tensor::ops::pool::Pool2d;
use gradus_tensor::{Result, Tensor};

/// Max pooling over `[n, c, h, w]` (`torch.nn.MaxPool2d`).
///
/// ```
/// use gradus_nn::{layers::MaxPool2d, Module};
/// use gradus_tensor::{ops::pool::Pool2d, DType, Tensor};
/// let y = MaxPool2d(Pool2d::new((2, 2))).forward(&Tensor::ones(&[1, 1, 4, 4], DType::F32)).unwrap();
/// assert_eq!(y.shape(), &[1, 1, 2, 2]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MaxPool2d(pub Pool2d);

impl Module for MaxPool2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.max_pool2d(&self.0)
    }
}

/// Average pooling over `[n, c, h, w]`, padding counted (`torch.nn.AvgPool2d`).
///
/// ```
/// use gradus_nn::{layers::AvgPool2d, Module};
/// use gradus_tensor::{ops::pool::Pool2d, DType, Tensor};
/// let y = AvgPool2d(Pool2d::new((2, 2))).forward(&Tensor::ones(&[1, 1, 4, 4], DType::F32)).unwrap();
/// assert_eq!(y.to_vec_f64(), vec![1.0; 4]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct AvgPool2d(pub Pool2d);

impl Module for AvgPool2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.avg_pool2d(&self.0)
    }
}
