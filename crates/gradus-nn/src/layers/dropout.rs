//! `Dropout`: inverted dropout in training mode, the identity in evaluation mode.

use crate::module::{Module, TrainingFlag};
use gradus_tensor::{Result, Rng, Tensor};
use std::sync::Mutex;

/// Zeroes elements with probability `p` while training (`torch.nn.Dropout`); its own seeded RNG
/// makes masks reproducible.
///
/// ```
/// use gradus_nn::{layers::Dropout, Module};
/// use gradus_tensor::{DType, Tensor};
/// let d = Dropout::new(0.5, 0);
/// let x = Tensor::ones(&[100], DType::F32);
/// assert!(d.forward(&x).unwrap().to_vec_f64().iter().any(|&v| v == 0.0));
/// d.eval();
/// assert_eq!(d.forward(&x).unwrap().to_vec_f64(), vec![1.0; 100]);
/// ```
#[derive(Debug)]
pub struct Dropout {
    /// Drop probability.
    pub p: f64,
    rng: Mutex<Rng>,
    training: TrainingFlag,
}

impl Dropout {
    /// Dropout with probability `p` and an RNG seeded with `seed`.
    ///
    /// ```
    /// use gradus_nn::{layers::Dropout, Module};
    /// use gradus_tensor::{DType, Tensor};
    /// let x = Tensor::ones(&[64], DType::F32);
    /// let (a, b) = (Dropout::new(0.5, 3), Dropout::new(0.5, 3));
    /// assert_eq!(a.forward(&x).unwrap().to_vec_f64(), b.forward(&x).unwrap().to_vec_f64());
    /// ```
    pub fn new(p: f64, seed: u64) -> Dropout {
        Dropout {
            p,
            rng: Mutex::new(Rng::seed(seed)),
            training: TrainingFlag::default(),
        }
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if !self.training.get() || self.p == 0.0 {
            return Ok(x.clone());
        }
        x.dropout(self.p, &mut self.rng.lock().expect("dropout rng"))
    }

    fn set_own_training(&self, on: bool) {
        self.training.set(on);
    }

    fn own_rng(&self) -> Option<&Mutex<Rng>> {
        Some(&self.rng)
    }
}
