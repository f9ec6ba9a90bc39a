//! A multi-layer perceptron: `Linear`s with an activation between them.

use crate::layers::{Activation, Linear, Sequential};
use crate::module::Module;
use gradus_tensor::{Result, Rng, Tensor};

/// `Linear(sizes[0], sizes[1])`, activation, ..., `Linear(sizes[n-2], sizes[n-1])` (no activation
/// after the last). Named as the PyTorch `nn.Sequential` equivalent: `0.weight`, `2.weight`, ...
///
/// ```
/// use gradus_nn::{layers::Activation, models::Mlp, Module};
/// use gradus_tensor::{DType, Rng, Tensor};
/// let mlp = Mlp::new(&[4, 16, 3], Activation::ReLU, &mut Rng::seed(0));
/// assert_eq!(mlp.num_parameters(), 4 * 16 + 16 + 16 * 3 + 3);
/// assert_eq!(mlp.named_parameters()[2].0, "2.weight");
/// assert_eq!(mlp.forward(&Tensor::ones(&[5, 4], DType::F32)).unwrap().shape(), &[5, 3]);
/// ```
pub struct Mlp {
    net: Sequential,
}

impl Mlp {
    /// An MLP through the given layer sizes (at least 2).
    ///
    /// # Panics
    /// With fewer than 2 sizes.
    ///
    /// ```
    /// use gradus_nn::{layers::Activation, models::Mlp, Module};
    /// use gradus_tensor::Rng;
    /// assert_eq!(Mlp::new(&[3, 1], Activation::ReLU, &mut Rng::seed(0)).num_parameters(), 4);
    /// ```
    pub fn new(sizes: &[usize], activation: Activation, rng: &mut Rng) -> Mlp {
        assert!(
            sizes.len() >= 2,
            "an MLP needs at least an input and an output size"
        );
        let mut net = Sequential::new();
        for (i, pair) in sizes.windows(2).enumerate() {
            if i > 0 {
                net = net.push(activation);
            }
            net = net.push(Linear::new(pair[0], pair[1], true, rng));
        }
        Mlp { net }
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.net.forward(x)
    }

    // the Sequential's children directly, so names match `nn.Sequential` (`0.weight`)
    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.net.children()
    }
}
