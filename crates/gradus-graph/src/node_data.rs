//! `NodeData`: a graph with node features, labels and a train/validation/test split of the nodes
//! (the transductive setting of Planetoid-style benchmarks).

use crate::{GraphError, Result};
use gradus_tensor::ops::sparse::SparseMatrix;
use gradus_tensor::Tensor;

/// One graph for node classification.
#[derive(Debug, Clone)]
pub struct NodeData {
    /// `[nodes, nodes]` normalized adjacency ([`crate::gcn_norm`]).
    pub adj: SparseMatrix,
    /// `[nodes, features]`
    pub features: Tensor,
    /// `[nodes]`, each below `num_classes`
    pub labels: Vec<usize>,
    /// Number of classes.
    pub num_classes: usize,
    /// Labelled nodes used for training.
    pub train: Vec<usize>,
    /// Nodes for model selection.
    pub val: Vec<usize>,
    /// Held-out nodes.
    pub test: Vec<usize>,
}

impl NodeData {
    /// Checks that shapes agree and every label and split index is in range.
    ///
    /// # Errors
    /// [`GraphError::Invalid`] naming the field at fault.
    pub fn validate(&self) -> Result<()> {
        let n = self.labels.len();
        let bad = |key: &'static str, detail: String| Err(GraphError::Invalid { key, detail });
        if self.adj.shape() != [n, n] {
            return bad(
                "adj",
                format!("is {:?}, expected [{n}, {n}]", self.adj.shape()),
            );
        }
        if self.features.rank() != 2 || self.features.shape()[0] != n {
            return bad(
                "features",
                format!("is {:?}, expected [{n}, _]", self.features.shape()),
            );
        }
        if let Some(i) = self.labels.iter().position(|&c| c >= self.num_classes) {
            return bad(
                "labels",
                format!(
                    "node {i} has class {} of {}",
                    self.labels[i], self.num_classes
                ),
            );
        }
        for (key, split) in [
            ("train", &self.train),
            ("val", &self.val),
            ("test", &self.test),
        ] {
            if let Some(&i) = split.iter().find(|&&i| i >= n) {
                return bad(key, format!("holds node {i} of a graph of {n}"));
            }
        }
        Ok(())
    }

    /// The labels of `nodes` as a float tensor of class indices `[len]` (what `cross_entropy`
    /// takes).
    pub fn targets(&self, nodes: &[usize]) -> Tensor {
        let t: Vec<f32> = nodes.iter().map(|&i| self.labels[i] as f32).collect();
        Tensor::from_vec(t, &[nodes.len()]).expect("a 1-D tensor")
    }
}

/// `nodes` as a float index tensor `[len]` for `index_select`.
pub fn index_tensor(nodes: &[usize]) -> Tensor {
    let t: Vec<f32> = nodes.iter().map(|&i| i as f32).collect();
    Tensor::from_vec(t, &[nodes.len()]).expect("a 1-D tensor")
}

/// The fraction of `nodes` whose row of `logits [nodes_total, classes]` has its largest value at
/// the node's label (ties go to the lower class).
///
/// ```
/// use gradus_graph::accuracy;
/// use gradus_tensor::Tensor;
/// let logits = Tensor::from_vec(vec![0.9f32, 0.1, 0.2, 0.8, 0.7, 0.3], &[3, 2]).unwrap();
/// assert_eq!(accuracy(&logits, &[0, 1, 1], &[0, 1, 2]), 2.0 / 3.0);
/// ```
pub fn accuracy(logits: &Tensor, labels: &[usize], nodes: &[usize]) -> f64 {
    if nodes.is_empty() {
        return 0.0;
    }
    let c = logits.shape()[1];
    let v = logits.to_vec_f64();
    let hits = nodes
        .iter()
        .filter(|&&i| {
            let row = &v[i * c..(i + 1) * c];
            let best = (0..c).fold(0, |b, j| if row[j] > row[b] { j } else { b });
            best == labels[i]
        })
        .count();
    hits as f64 / nodes.len() as f64
}
