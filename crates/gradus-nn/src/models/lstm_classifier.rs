//! An LSTM sequence classifier: the last hidden state of an LSTM through a linear head.

use crate::layers::{Linear, Recurrent};
use crate::module::Module;
use gradus_tensor::{Result, Rng, Tensor};

/// `[batch, seq, features] -> [batch, classes]`: `lstm` (batch-first), then `fc` on the last
/// layer's final hidden state.
///
/// ```
/// use gradus_nn::{models::LstmClassifier, Module};
/// use gradus_tensor::{DType, Rng, Tensor};
/// let m = LstmClassifier::new(3, 8, 1, 2, &mut Rng::seed(0));
/// assert_eq!(m.forward(&Tensor::zeros(&[4, 6, 3], DType::F32)).unwrap().shape(), &[4, 2]);
/// assert_eq!(m.named_parameters()[0].0, "lstm.weight_ih_l0");
/// ```
pub struct LstmClassifier {
    /// The recurrent encoder.
    pub lstm: Recurrent,
    /// `[classes, hidden]`
    pub fc: Linear,
}

impl LstmClassifier {
    /// A classifier over `features`-dimensional steps.
    ///
    /// ```
    /// use gradus_tensor::Rng;
    /// let m = gradus_nn::models::LstmClassifier::new(2, 5, 1, 3, &mut Rng::seed(0));
    /// assert_eq!(m.fc.weight.shape(), vec![3, 5]);
    /// ```
    pub fn new(
        features: usize,
        hidden: usize,
        num_layers: usize,
        classes: usize,
        rng: &mut Rng,
    ) -> LstmClassifier {
        LstmClassifier {
            lstm: Recurrent::lstm(features, hidden, num_layers, rng),
            fc: Linear::new(hidden, classes, true, rng),
        }
    }
}

impl Module for LstmClassifier {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, state) = self.lstm.forward_with_state(x)?;
        self.fc.forward(state.h.last().expect("at least one layer"))
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("lstm".into(), &self.lstm), ("fc".into(), &self.fc)]
    }
}
