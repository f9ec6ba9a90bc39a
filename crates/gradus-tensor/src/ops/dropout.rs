//! Inverted dropout with a seeded mask.

use crate::{Result, Rng, Tensor, TensorError};

impl Tensor {
    /// Zeroes each element with probability `p` and scales the rest by `1 / (1 - p)`, drawing the
    /// mask from `rng` (so a seed reproduces it). Call only in training mode.
    ///
    /// # Errors
    /// When `p` is outside `[0, 1]`.
    ///
    /// ```
    /// use gradus_tensor::{DType, Rng, Tensor};
    /// let x = Tensor::ones(&[1000], DType::F64);
    /// let y = x.dropout(0.5, &mut Rng::seed(0)).unwrap().to_vec::<f64>().unwrap();
    /// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
    /// ```
    pub fn dropout(&self, p: f64, rng: &mut Rng) -> Result<Tensor> {
        if !(0.0..=1.0).contains(&p) {
            return Err(TensorError::InvalidArgument {
                op: "dropout",
                detail: format!("probability {p} is outside [0, 1]"),
            });
        }
        if p == 0.0 {
            return Ok(self.clone());
        }
        let keep = if p == 1.0 { 0.0 } else { 1.0 / (1.0 - p) };
        let mask = rng
            .bernoulli_on(self.shape(), 1.0 - p, self.dtype(), self.device())?
            .mul_scalar(keep)?;
        self.mul(&mask)
    }
}
