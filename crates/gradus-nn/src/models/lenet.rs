//! A LeNet-5-style CNN for `[n, 1, 28, 28]` images (MNIST).

use crate::layers::{Activation, Conv2d, Flatten, Linear, MaxPool2d};
use crate::module::Module;
use gradus_tensor::ops::{conv::Conv2dOptions, pool::Pool2d};
use gradus_tensor::{Result, Rng, Tensor};

/// `conv1(1->6, 5x5, pad 2)` ReLU maxpool2, `conv2(6->16, 5x5)` ReLU maxpool2, flatten,
/// `fc1(400->120)` ReLU `fc2(120->84)` ReLU `fc3(84->classes)`.
///
/// ```
/// use gradus_nn::{models::LeNet, Module};
/// use gradus_tensor::{DType, Rng, Tensor};
/// let net = LeNet::new(10, &mut Rng::seed(0));
/// assert_eq!(net.forward(&Tensor::zeros(&[2, 1, 28, 28], DType::F32)).unwrap().shape(), &[2, 10]);
/// assert_eq!(net.num_parameters(), 61706);
/// ```
pub struct LeNet {
    /// `[6, 1, 5, 5]`
    pub conv1: Conv2d,
    /// `[16, 6, 5, 5]`
    pub conv2: Conv2d,
    /// `[120, 400]`
    pub fc1: Linear,
    /// `[84, 120]`
    pub fc2: Linear,
    /// `[classes, 84]`
    pub fc3: Linear,
}

impl LeNet {
    /// A LeNet with `classes` outputs and PyTorch's default init.
    ///
    /// ```
    /// use gradus_tensor::Rng;
    /// assert_eq!(gradus_nn::models::LeNet::new(3, &mut Rng::seed(0)).fc3.weight.shape(), vec![3, 84]);
    /// ```
    pub fn new(classes: usize, rng: &mut Rng) -> LeNet {
        let pad2 = Conv2dOptions {
            padding: (2, 2),
            ..Default::default()
        };
        LeNet {
            conv1: Conv2d::new(1, 6, (5, 5), pad2, true, rng),
            conv2: Conv2d::new(6, 16, (5, 5), Conv2dOptions::default(), true, rng),
            fc1: Linear::new(400, 120, true, rng),
            fc2: Linear::new(120, 84, true, rng),
            fc3: Linear::new(84, classes, true, rng),
        }
    }
}

impl Module for LeNet {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (relu, pool) = (Activation::ReLU, MaxPool2d(Pool2d::new((2, 2))));
        let h = pool.forward(&relu.forward(&self.conv1.forward(x)?)?)?;
        let h = pool.forward(&relu.forward(&self.conv2.forward(&h)?)?)?;
        let h = relu.forward(&self.fc1.forward(&Flatten::default().forward(&h)?)?)?;
        self.fc3.forward(&relu.forward(&self.fc2.forward(&h)?)?)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("conv1".into(), &self.conv1),
            ("conv2".into(), &self.conv2),
            ("fc1".into(), &self.fc1),
            ("fc2".into(), &self.fc2),
            ("fc3".into(), &self.fc3),
        ]
    }
}
