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
    pub fn new() -> Sequential {
        Sequential::default()
    }

    /// Appends a module.
    pub fn push(mut self, m: impl Module + 'static) -> Sequential {
        self.layers.push(Box::new(m));
        self
    }

    /// Appends a boxed module.
    pub fn push_boxed(mut self, m: Box<dyn Module>) -> Sequential {
        self.layers.push(m);
        self
    }

    /// Number of modules.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True when there are no modules.
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
