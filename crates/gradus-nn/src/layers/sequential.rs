//! `Sequential`: modules applied in order, named `0`, `1`, ... as in PyTorch.

use crate::module::Module;
use gradus_tensor::{Result, Tensor};

/// A chain of modules (`torch.nn.Sequential`); child `i` is named `"i"`.
///
/// ```
/// use gradus_nn::{layers::{Activation, Linear, Sequential}, Module};
/// use gradus_tensor::{DType, Rng, Tensor};
/// let mut rng = Rng::seed(0);
/// let net = Sequential::new().push(Linear::new(3, 4, true, &mut rng)).push(Activation::ReLU).push(Linear::new(4, 1, true, &mut rng));
/// assert_eq!(net.named_parameters()[2].0, "2.weight");
/// assert_eq!(net.forward(&Tensor::ones(&[2, 3], DType::F32)).unwrap().shape(), &[2, 1]);
/// ```
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
}

impl Sequential {
    /// An empty chain (the identity).
    ///
    /// ```
    /// use gradus_nn::{layers::Sequential, Module};
    /// use gradus_tensor::{DType, Tensor};
    /// let x = Tensor::ones(&[2], DType::F32);
    /// assert_eq!(Sequential::new().forward(&x).unwrap().to_vec_f64(), x.to_vec_f64());
    /// ```
    pub fn new() -> Sequential {
        Sequential::default()
    }

    /// Appends a module.
    ///
    /// ```
    /// use gradus_nn::layers::{Activation, Sequential};
    /// assert_eq!(Sequential::new().push(Activation::ReLU).len(), 1);
    /// ```
    pub fn push(mut self, m: impl Module + 'static) -> Sequential {
        self.layers.push(Box::new(m));
        self
    }

    /// Appends a boxed module.
    ///
    /// ```
    /// use gradus_nn::{layers::{Activation, Sequential}, Module};
    /// let boxed: Box<dyn Module> = Box::new(Activation::Tanh);
    /// assert_eq!(Sequential::new().push_boxed(boxed).len(), 1);
    /// ```
    pub fn push_boxed(mut self, m: Box<dyn Module>) -> Sequential {
        self.layers.push(m);
        self
    }

    /// Number of modules.
    ///
    /// ```
    /// use gradus_nn::layers::{Activation, Sequential};
    /// assert_eq!(Sequential::new().push(Activation::ReLU).push(Activation::Tanh).len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True when there are no modules.
    ///
    /// ```
    /// assert!(gradus_nn::layers::Sequential::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.layers.iter().try_fold(x.clone(), |h, m| m.forward(&h))
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.layers
            .iter()
            .enumerate()
            .map(|(i, m)| (i.to_string(), m.as_ref()))
            .collect()
    }
}
