//! `Embedding`: a lookup table `weight [num_embeddings, dim]`, initialized `N(0, 1)`.

use crate::module::Module;
use crate::param::Param;
use gradus_tensor::{DType, Result, Rng, Tensor};

/// Maps integer ids to rows of `weight` (`torch.nn.Embedding`). [`Module::forward`] takes the ids
/// as a float tensor of any shape `[..]` (whole numbers) and returns `[.., dim]`.
///
/// ```
/// use gradus_nn::{layers::Embedding, Module};
/// use gradus_tensor::{Rng, Tensor};
/// let emb = Embedding::new(10, 4, &mut Rng::seed(0));
/// let ids = Tensor::from_vec(vec![1.0f32, 3.0, 9.0], &[3]).unwrap();
/// assert_eq!(emb.forward(&ids).unwrap().shape(), &[3, 4]);
/// ```
#[derive(Debug, Clone)]
pub struct Embedding {
    /// `[num_embeddings, dim]`
    pub weight: Param,
}

impl Embedding {
    /// A table with `N(0, 1)` entries (PyTorch's default).
    ///
    /// ```
    /// use gradus_tensor::Rng;
    /// assert_eq!(gradus_nn::layers::Embedding::new(7, 3, &mut Rng::seed(0)).weight.shape(), vec![7, 3]);
    /// ```
    pub fn new(num_embeddings: usize, dim: usize, rng: &mut Rng) -> Embedding {
        Embedding {
            weight: Param::new(rng.normal(&[num_embeddings, dim], 0.0, 1.0, DType::F32)),
        }
    }
}

impl Module for Embedding {
    /// The rows of `weight` for the ids `x` (any shape `[..]`), shaped `[.., dim]`.
    ///
    /// The ids are a tensor of whole numbers in a float dtype (gradus has no integer dtype; f32
    /// holds ids exactly up to 2^24, f64 up to 2^53), read where they live: one `index_select`,
    /// no host read.
    ///
    /// # Errors
    /// On an id that is negative, fractional or not below `num_embeddings`: an
    /// [`TensorError::InvalidIndex`](gradus_tensor::TensorError::InvalidIndex) naming
    /// `embedding`, the id's position in `x` and its value.
    ///
    /// ```
    /// use gradus_nn::{layers::Embedding, Module};
    /// use gradus_tensor::{Rng, Tensor};
    /// let emb = Embedding::new(4, 2, &mut Rng::seed(0));
    /// let ids = Tensor::from_vec(vec![0.0f32, 1.0, 2.0, 3.0], &[2, 2]).unwrap();
    /// assert_eq!(emb.forward(&ids).unwrap().shape(), &[2, 2, 2]);
    /// let bad = Tensor::from_vec(vec![0.0f32, 1.0, 4.0, 3.0], &[2, 2]).unwrap();
    /// assert_eq!(
    ///     emb.forward(&bad).unwrap_err().to_string(),
    ///     "embedding: index 4 at position [1, 0] is out of range for an axis of size 4"
    /// );
    /// ```
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let w = self.weight.tensor();
        let n = x.numel();
        let mut out = x.shape().to_vec();
        out.push(w.shape()[1]);
        w.index_select(0, &x.reshape(&[n])?)
            .map_err(|e| e.for_indices("embedding", &[n], x.shape()))?
            .reshape(&out)
    }

    fn own_params(&self) -> Vec<(String, Param)> {
        vec![("weight".into(), self.weight.clone())]
    }
}
