//! A matrix-factorization recommender: `r(u, i) = <p_u, q_i> + b_u + b_i + mu`.

use crate::layers::embedding::{ids_of, Embedding};
use crate::module::Module;
use crate::param::Param;
use gradus_tensor::{DType, Result, Rng, Tensor, TensorError};

/// User and item embeddings with biases. [`Module::forward`] takes `[batch, 2]` (user id, item
/// id) as floats and returns predicted ratings `[batch]`.
///
/// ```
/// use gradus_nn::{models::MatrixFactorization, Module};
/// use gradus_tensor::{Rng, Tensor};
/// let mf = MatrixFactorization::new(5, 7, 3, &mut Rng::seed(0));
/// let pairs = Tensor::from_vec(vec![0.0f32, 6.0, 4.0, 1.0], &[2, 2]).unwrap();
/// assert_eq!(mf.forward(&pairs).unwrap().shape(), &[2]);
/// ```
pub struct MatrixFactorization {
    /// `[users, dim]`
    pub user_emb: Embedding,
    /// `[items, dim]`
    pub item_emb: Embedding,
    /// `[users, 1]`
    pub user_bias: Embedding,
    /// `[items, 1]`
    pub item_bias: Embedding,
    /// `[]` global offset
    pub global_bias: Param,
}

impl MatrixFactorization {
    /// Factors `N(0, 0.1^2)`, biases zero.
    ///
    /// ```
    /// use gradus_nn::{models::MatrixFactorization, Module};
    /// use gradus_tensor::Rng;
    /// assert_eq!(MatrixFactorization::new(3, 4, 2, &mut Rng::seed(0)).num_parameters(), 3 * 2 + 4 * 2 + 3 + 4 + 1);
    /// ```
    pub fn new(users: usize, items: usize, dim: usize, rng: &mut Rng) -> MatrixFactorization {
        let table = |rows: usize, cols: usize, std: f64, rng: &mut Rng| Embedding {
            weight: Param::new(rng.normal(&[rows, cols], 0.0, std, DType::F32)),
        };
        MatrixFactorization {
            user_emb: table(users, dim, 0.1, rng),
            item_emb: table(items, dim, 0.1, rng),
            user_bias: Embedding {
                weight: Param::new(Tensor::zeros(&[users, 1], DType::F32)),
            },
            item_bias: Embedding {
                weight: Param::new(Tensor::zeros(&[items, 1], DType::F32)),
            },
            global_bias: Param::new(Tensor::zeros(&[], DType::F32)),
        }
    }

    /// Predicted ratings for parallel lists of user and item ids.
    ///
    /// # Errors
    /// On lists of different lengths or an id out of range.
    ///
    /// ```
    /// use gradus_tensor::Rng;
    /// let mf = gradus_nn::models::MatrixFactorization::new(3, 4, 2, &mut Rng::seed(0));
    /// assert_eq!(mf.predict(&[0, 2], &[3, 3]).unwrap().shape(), &[2]);
    /// assert!(mf.predict(&[0], &[4]).is_err());
    /// ```
    pub fn predict(&self, users: &[usize], items: &[usize]) -> Result<Tensor> {
        if users.len() != items.len() {
            return Err(TensorError::InvalidArgument {
                op: "matrix_factorization",
                detail: format!("{} users but {} items", users.len(), items.len()),
            });
        }
        let n = users.len();
        let (p, q) = (
            self.user_emb.lookup(users, &[n])?,
            self.item_emb.lookup(items, &[n])?,
        );
        let dot = p.mul(&q)?.sum(&[1], false)?;
        let bias = self
            .user_bias
            .lookup(users, &[n])?
            .add(&self.item_bias.lookup(items, &[n])?)?
            .reshape(&[n])?;
        dot.add(&bias)?.add(&self.global_bias.tensor())
    }
}

impl Module for MatrixFactorization {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.rank() != 2 || x.shape()[1] != 2 {
            return Err(TensorError::InvalidShape {
                op: "matrix_factorization",
                shape: x.shape().to_vec(),
                detail: "expected [batch, 2] (user, item) ids".into(),
            });
        }
        let ids = ids_of(x)?;
        let users: Vec<usize> = ids.iter().step_by(2).copied().collect();
        let items: Vec<usize> = ids.iter().skip(1).step_by(2).copied().collect();
        self.predict(&users, &items)
    }

    fn own_params(&self) -> Vec<(String, Param)> {
        vec![("global_bias".into(), self.global_bias.clone())]
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("user_emb".into(), &self.user_emb),
            ("item_emb".into(), &self.item_emb),
            ("user_bias".into(), &self.user_bias),
            ("item_bias".into(), &self.item_bias),
        ]
    }
}
