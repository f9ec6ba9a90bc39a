//! `SparseEmbedding`: an embedding table whose lookups produce row-sparse gradients
//! (`torch.nn.Embedding(sparse=True)`): backward touches only the rows looked up, and
//! [`gradus_optim::SparseAdam`] updates only those.

use crate::Result;
use gradus_optim::SparseGrad;
use gradus_tensor::{autodiff, Param, Tensor};
use std::collections::HashMap;

/// A table `weight [num_embeddings, dim]`. [`SparseEmbedding::lookup`] copies the distinct rows a
/// batch needs into a small leaf tensor `[distinct, dim]` and selects from it, so the backward
/// pass and the optimizer work on `distinct × dim` numbers, never on the whole table.
///
/// ```
/// use gradus_embed::SparseEmbedding;
/// use gradus_tensor::{DType, Tensor};
/// let emb = SparseEmbedding::new(Tensor::ones(&[1000, 8], DType::F32));
/// let look = emb.lookup(&[5, 9, 5]).unwrap();
/// assert_eq!(look.output.shape(), &[3, 8]);
/// look.output.sum_all().unwrap().backward().unwrap();
/// let g = look.grad().unwrap().unwrap();
/// assert_eq!(g.indices(), &[5, 9]); // two rows of 1000, row 5 counted twice
/// assert_eq!(g.values().to_vec_f64()[0], 2.0);
/// ```
#[derive(Clone, Debug)]
pub struct SparseEmbedding {
    /// `[num_embeddings, dim]`
    pub weight: Param,
}

/// One batch's lookup: the output and the leaf whose gradient is the table's sparse gradient.
#[derive(Debug)]
pub struct Lookup {
    /// `[ids.len(), dim]`, differentiable.
    pub output: Tensor,
    /// The distinct ids, in order of first appearance.
    pub rows: Vec<usize>,
    /// `[rows.len(), dim]`: the looked-up rows, a leaf that requires grad.
    pub values: Tensor,
}

impl Lookup {
    /// The table's gradient after `backward`: the gradient of each looked-up row (duplicates
    /// already summed), or `None` before backward.
    ///
    /// # Errors
    /// Never in practice (the shapes agree by construction).
    pub fn grad(&self) -> Result<Option<SparseGrad>> {
        match self.values.grad() {
            Some(g) => Ok(Some(SparseGrad::new(self.rows.clone(), g)?)),
            None => Ok(None),
        }
    }
}

impl SparseEmbedding {
    /// A table with the given initial values `[num_embeddings, dim]`.
    pub fn new(weight: Tensor) -> SparseEmbedding {
        SparseEmbedding {
            weight: Param::new(weight),
        }
    }

    /// The rows of `ids`, `[ids.len(), dim]`.
    ///
    /// # Errors
    /// [`gradus_tensor::TensorError::InvalidIndex`] (op `index_select`) for an id not below
    /// `num_embeddings`.
    pub fn lookup(&self, ids: &[usize]) -> Result<Lookup> {
        let mut local = Vec::with_capacity(ids.len());
        let mut rows = Vec::new();
        let mut seen: HashMap<usize, usize> = HashMap::new();
        for &id in ids {
            let k = *seen.entry(id).or_insert_with(|| {
                rows.push(id);
                rows.len() - 1
            });
            local.push(k as f32);
        }
        let table = self.weight.tensor();
        let row_ids: Vec<f32> = rows.iter().map(|&r| r as f32).collect();
        let n = rows.len();
        let values = autodiff::no_grad(|| {
            table.index_select(0, &Tensor::from_vec(row_ids, &[n]).expect("1-D ids"))
        })?
        .detach()
        .requires_grad_(true);
        let output = values.index_select(0, &Tensor::from_vec(local, &[ids.len()])?)?;
        Ok(Lookup {
            output,
            rows,
            values,
        })
    }
}
