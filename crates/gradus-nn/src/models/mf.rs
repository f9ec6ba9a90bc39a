//! A matrix-factorization recommender: `r(u, i) = <p_u, q_i> + b_u + b_i + mu`.

use crate::layers::embedding::Embedding;
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

    /// Predicted ratings `[n]` for parallel lists of user and item ids: two `[n]` tensors of
    /// whole numbers (as [`Embedding`] takes them).
    ///
    /// # Errors
    /// On lists that are not 1-D of one length, or an id that is negative, fractional or out of
    /// range (naming `matrix_factorization`, the id's position and its value).
    ///
    /// ```
    /// use gradus_tensor::{Rng, Tensor};
    /// let mf = gradus_nn::models::MatrixFactorization::new(3, 4, 2, &mut Rng::seed(0));
    /// let ids = |v: Vec<f32>| Tensor::from_vec(v.clone(), &[v.len()]).unwrap();
    /// assert_eq!(mf.predict(&ids(vec![0.0, 2.0]), &ids(vec![3.0, 3.0])).unwrap().shape(), &[2]);
    /// assert!(mf.predict(&ids(vec![0.0]), &ids(vec![4.0])).is_err());
    /// ```
    pub fn predict(&self, users: &Tensor, items: &Tensor) -> Result<Tensor> {
        if users.rank() != 1 || items.shape() != users.shape() {
            return Err(TensorError::InvalidArgument {
                op: OP,
                detail: format!(
                    "user ids of shape {:?} and item ids of shape {:?}: expected two [n] lists",
                    users.shape(),
                    items.shape()
                ),
            });
        }
        let n = users.numel();
        self.ratings(users, items, |e, _| e.for_indices(OP, &[n], &[n]))
    }

    /// `<p_u, q_i> + b_u + b_i + mu` for `[n]` ids; `err` restates an id's error with the column
    /// (0 users, 1 items) it came from.
    fn ratings(
        &self,
        users: &Tensor,
        items: &Tensor,
        err: impl Fn(TensorError, usize) -> TensorError,
    ) -> Result<Tensor> {
        let n = users.numel();
        let rows =
            |emb: &Embedding, ids: &Tensor, col: usize| emb.forward(ids).map_err(|e| err(e, col));
        let (p, q) = (
            rows(&self.user_emb, users, 0)?,
            rows(&self.item_emb, items, 1)?,
        );
        let dot = p.mul(&q)?.sum(&[1], false)?;
        let bias = rows(&self.user_bias, users, 0)?
            .add(&rows(&self.item_bias, items, 1)?)?
            .reshape(&[n])?;
        dot.add(&bias)?.add(&self.global_bias.tensor())
    }
}

/// The name errors give.
const OP: &str = "matrix_factorization";

impl Module for MatrixFactorization {
    /// Predicted ratings `[batch]` for `[batch, 2]` (user id, item id) pairs, read where they
    /// live (no host read).
    ///
    /// # Errors
    /// On another shape, or an id that is negative, fractional or out of range (naming
    /// `matrix_factorization`, the id's position `[row, column]` in `x` and its value).
    ///
    /// ```
    /// use gradus_nn::{models::MatrixFactorization, Module};
    /// use gradus_tensor::{Rng, Tensor};
    /// let mf = MatrixFactorization::new(3, 4, 2, &mut Rng::seed(0));
    /// let pairs = Tensor::from_vec(vec![0.0f32, 1.0, 2.0, 4.0], &[2, 2]).unwrap();
    /// assert_eq!(
    ///     mf.forward(&pairs).unwrap_err().to_string(),
    ///     "matrix_factorization: index 4 at position [1, 1] is out of range for an axis of size 4"
    /// );
    /// ```
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.rank() != 2 || x.shape()[1] != 2 {
            return Err(TensorError::InvalidShape {
                op: OP,
                shape: x.shape().to_vec(),
                detail: "expected [batch, 2] (user, item) ids".into(),
            });
        }
        let column = |c: usize| x.narrow(1, c, 1)?.squeeze(1);
        self.ratings(&column(0)?, &column(1)?, |e, col| match e {
            TensorError::InvalidIndex {
                position,
                value,
                size,
                ..
            } => TensorError::InvalidIndex {
                op: OP,
                position: vec![position[0], col],
                value,
                size,
            },
            other => other,
        })
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
