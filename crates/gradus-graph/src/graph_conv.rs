//! `GraphConv`: the graph convolution of Kipf & Welling (2017), `X' = Â X Wᵀ + b`, laid out as
//! PyTorch Geometric's `GCNConv`.

use gradus_nn::{init, Param};
use gradus_tensor::ops::sparse::SparseMatrix;
use gradus_tensor::{DType, Result, Rng, Tensor};

/// A graph convolution (`torch_geometric.nn.GCNConv` with its defaults): input `x [nodes, in]`,
/// output `[nodes, out]`, computed as `Â (x Wᵀ) + b` with `Â` from [`crate::gcn_norm`] (self
/// loops added, symmetric normalization). As in PyG, the weight is a bias-free linear layer
/// `lin.weight [out, in]` with Glorot-uniform init, and the bias `bias [out]` starts at zero
/// and is added after aggregation; the parameter names are PyG's (`lin.weight`, `bias`), so a
/// state dict maps one to one.
///
/// ```
/// use gradus_graph::{gcn_norm, GraphConv};
/// use gradus_tensor::{DType, Rng, Tensor};
/// let adj = gcn_norm(3, &[(0, 1, 1.0), (1, 0, 1.0)], true).unwrap();
/// let conv = GraphConv::new(4, 2, &mut Rng::seed(0));
/// let y = conv.forward(&adj, &Tensor::ones(&[3, 4], DType::F32)).unwrap();
/// assert_eq!(y.shape(), &[3, 2]);
/// ```
#[derive(Debug, Clone)]
pub struct GraphConv {
    /// `[out, in]` (PyG `lin.weight`)
    pub weight: Param,
    /// `[out]`
    pub bias: Param,
}

impl GraphConv {
    /// A layer with PyG's init: weight Glorot uniform `U(±sqrt(6 / (in + out)))`, bias 0.
    pub fn new(in_channels: usize, out_channels: usize, rng: &mut Rng) -> GraphConv {
        GraphConv {
            weight: Param::new(init::xavier_uniform(
                &[out_channels, in_channels],
                1.0,
                DType::F32,
                rng,
            )),
            bias: Param::new(Tensor::zeros(&[out_channels], DType::F32)),
        }
    }

    /// A layer from given tensors (`weight [out, in]`, `bias [out]`).
    pub fn from_tensors(weight: Tensor, bias: Tensor) -> GraphConv {
        GraphConv {
            weight: Param::new(weight),
            bias: Param::new(bias),
        }
    }

    /// `adj @ (x @ weightᵀ) + bias` for `x [nodes, in]` and a normalized adjacency
    /// `adj [nodes, nodes]`.
    ///
    /// # Errors
    /// When `x` is not `[nodes, in]` for the adjacency's `nodes` and the weight's `in`.
    pub fn forward(&self, adj: &SparseMatrix, x: &Tensor) -> Result<Tensor> {
        let h = x.matmul(&self.weight.tensor().t()?)?;
        adj.matmul(&h)?.add(&self.bias.tensor())
    }

    /// The parameters with PyG's names: `lin.weight`, `bias`.
    pub fn named_parameters(&self) -> Vec<(String, Param)> {
        vec![
            ("lin.weight".to_string(), self.weight.clone()),
            ("bias".to_string(), self.bias.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{gcn_norm, to_undirected};
    use gradus_tensor::{gradcheck, GradcheckOptions};

    #[test]
    fn matches_the_dense_formula_and_its_gradients_match_central_differences() {
        let adj = gcn_norm(4, &to_undirected(&[(0, 1), (1, 2), (2, 3)]), true).unwrap();
        let mut rng = Rng::seed(5);
        let x = rng.normal(&[4, 3], 0.0, 1.0, DType::F64);
        let w = rng.normal(&[2, 3], 0.0, 1.0, DType::F64);
        let b = rng.normal(&[2], 0.0, 1.0, DType::F64);
        let conv = GraphConv::from_tensors(w.clone(), b.clone());
        let y = conv.forward(&adj, &x).unwrap().to_vec_f64();
        let dense = adj
            .to_dense(DType::F64)
            .matmul(&x.matmul(&w.t().unwrap()).unwrap())
            .unwrap()
            .add(&b)
            .unwrap()
            .to_vec_f64();
        for (p, q) in y.iter().zip(&dense) {
            assert!((p - q).abs() < 1e-12);
        }
        // the layer holds the checked tensors themselves (Param::from_tensor), so their
        // gradients are the layer's
        let f = |t: &[Tensor]| {
            let conv = GraphConv {
                weight: Param::from_tensor(t[1].clone()),
                bias: Param::from_tensor(t[2].clone()),
            };
            conv.forward(&adj, &t[0])?.tanh()
        };
        gradcheck(f, &[x, w, b], GradcheckOptions::default()).unwrap();
    }

    #[test]
    fn init_is_glorot_uniform_and_zero_bias() {
        let conv = GraphConv::new(30, 10, &mut Rng::seed(0));
        let bound = (6.0f64 / 40.0).sqrt();
        let w = conv.weight.tensor().to_vec_f64();
        assert!(w.iter().all(|v| v.abs() <= bound));
        assert!(w.iter().any(|v| v.abs() > 0.9 * bound));
        assert_eq!(conv.bias.tensor().to_vec_f64(), vec![0.0; 10]);
        let names: Vec<String> = conv
            .named_parameters()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["lin.weight", "bias"]);
    }
}
