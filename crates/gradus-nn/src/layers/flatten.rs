//! `Flatten`: merges dimensions `start..=end` (PyTorch defaults 1 and -1).

use crate::module::Module;
use gradus_tensor::{Result, Tensor};

/// Flattens `[n, c, h, w]` to `[n, c*h*w]` by default (`torch.nn.Flatten`).
///
/// ```
/// use gradus_nn::{layers::Flatten, Module};
/// use gradus_tensor::{DType, Tensor};
/// let y = Flatten::default().forward(&Tensor::ones(&[2, 3, 4, 5], DType::F32)).unwrap();
/// assert_eq!(y.shape(), &[2, 60]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Flatten {
    /// First dimension to merge.
    pub start: isize,
    /// Last dimension to merge (inclusive).
    pub end: isize,
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten { start: 1, end: -1 }
    }
}

impl Module for Flatten {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.flatten(self.start, self.end)
    }
}
