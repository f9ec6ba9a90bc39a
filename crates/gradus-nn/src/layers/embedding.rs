//! `Embedding`: a lookup table `weight [num_embeddings, dim]`, initialized `N(0, 1)`.

use crate::module::Module;
use crate::param::Param;
use gradus_tensor::{DType, Result, Rng, Tensor, TensorError};

/// Maps integer ids to rows of `weight` (`torch.nn.Embedding`). [`Module::forward`] takes the ids
/// as a float tensor of any shape `[..]` (whole numbers) and returns `[.., dim]`.
///
/// ```
/// use gradus_nn::{layers::Embedding, Module};
/// use gradus_tensor::{Rng, Tensor};
/// let emb = Embedding::new(10, 4, &mut Rng::seed(0));
/// let ids = Tensor::from_vec(vec![1.0f32, 3.0, 9.0], &[3]).unwrap();
/// assert_eq!(emb.forward(&ids).unwrap().shape(), &[3, 4]);
/// assert_eq!(emb.lookup(&[1, 2], &[2]).unwrap().shape(), &[2, 4]);
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

    /// The rows for `ids`, shaped `[shape.., dim]`.
    ///
    /// # Errors
    /// On an id out of range or `shape` not matching `ids.len()`.
    ///
    /// ```
    /// use gradus_tensor::Rng;
    /// let emb = gradus_nn::layers::Embedding::new(4, 2, &mut Rng::seed(0));
    /// assert_eq!(emb.lookup(&[0, 1, 2, 3], &[2, 2]).unwrap().shape(), &[2, 2, 2]);
    /// assert!(emb.lookup(&[4], &[1]).is_err());
    /// ```
    pub fn lookup(&self, ids: &[usize], shape: &[usize]) -> Result<Tensor> {
        let w = self.weight.tensor();
        let mut out = shape.to_vec();
        out.push(w.shape()[1]);
        w.index_select(0, ids)?.reshape(&out)
    }
}

/// Reads whole-number ids from a float tensor.
///
/// An explicit host transfer: tensors hold floats only, so index ops (`index_select`, `gather`,
/// `scatter_add`) take their indices as host `usize`s, as class targets are.
///
/// # Errors
/// On a negative or fractional value.
///
/// ```
/// use gradus_tensor::Tensor;
/// let ids = Tensor::from_vec(vec![2.0f32, 0.0], &[2]).unwrap();
/// assert_eq!(gradus_nn::layers::embedding::ids_of(&ids).unwrap(), vec![2, 0]);
/// ```
pub fn ids_of(x: &Tensor) -> Result<Vec<usize>> {
    x.to_vec_f64()
        .into_iter()
        .map(|v| {
            if v < 0.0 || v.fract() != 0.0 {
                return Err(TensorError::InvalidArgument {
                    op: "embedding",
                    detail: format!("id {v} is not a non-negative whole number"),
                });
            }
            Ok(v as usize)
        })
        .collect()
}

impl Module for Embedding {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.lookup(&ids_of(x)?, x.shape())
    }

    fn own_params(&self) -> Vec<(String, Param)> {
        vec![("weight".into(), self.weight.clone())]
    }
}
