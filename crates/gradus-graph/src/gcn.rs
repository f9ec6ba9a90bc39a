//! `Gcn`: the two-layer graph convolutional network of Kipf & Welling (2017),
//! `softmax(Â ReLU(Â X W0) W1)` with dropout before each layer (PyG's `examples/gcn.py`).

use crate::GraphConv;
use gradus_nn::module::TrainingFlag;
use gradus_nn::{Module, Param};
use gradus_tensor::ops::sparse::SparseMatrix;
use gradus_tensor::{Result, Rng, Tensor};
use std::sync::Mutex;

/// A two-layer GCN over a fixed graph (transductive node classification): input features
/// `[nodes, in]`, output logits `[nodes, classes]`. In training mode dropout with probability
/// `dropout` is applied to the input and to the hidden layer, as in the paper and PyG's example;
/// [`Module::eval`] turns it off. Parameters: `conv1.lin.weight [hidden, in]`, `conv1.bias`,
/// `conv2.lin.weight [classes, hidden]`, `conv2.bias` (PyG's names).
///
/// ```
/// use gradus_graph::{gcn_norm, Gcn};
/// use gradus_nn::Module;
/// use gradus_tensor::{DType, Rng, Tensor};
/// let adj = gcn_norm(3, &[(0, 1, 1.0), (1, 0, 1.0)], true).unwrap();
/// let gcn = Gcn::new(adj, 5, 16, 2, 0.5, &mut Rng::seed(0));
/// assert_eq!(gcn.forward(&Tensor::ones(&[3, 5], DType::F32)).unwrap().shape(), &[3, 2]);
/// assert_eq!(gcn.parameters().len(), 4);
/// ```
#[derive(Debug)]
pub struct Gcn {
    /// `in -> hidden`
    pub conv1: GraphConv,
    /// `hidden -> classes`
    pub conv2: GraphConv,
    /// `[nodes, nodes]`, from [`crate::gcn_norm`]
    pub adj: SparseMatrix,
    /// Dropout probability on the input and the hidden layer.
    pub dropout: f64,
    rng: Mutex<Rng>,
    training: TrainingFlag,
}

impl Gcn {
    /// A GCN on the normalized adjacency `adj`; weights drawn from `rng`, dropout masks from
    /// a generator seeded from it.
    pub fn new(
        adj: SparseMatrix,
        in_channels: usize,
        hidden: usize,
        classes: usize,
        dropout: f64,
        rng: &mut Rng,
    ) -> Gcn {
        let conv1 = GraphConv::new(in_channels, hidden, rng);
        let conv2 = GraphConv::new(hidden, classes, rng);
        let seed = rng.below(u32::MAX as usize) as u64;
        Gcn {
            conv1,
            conv2,
            adj,
            dropout,
            rng: Mutex::new(Rng::seed(seed)),
            training: TrainingFlag::default(),
        }
    }

    fn drop(&self, x: &Tensor) -> Result<Tensor> {
        if !self.training.get() || self.dropout == 0.0 {
            return Ok(x.clone());
        }
        x.dropout(self.dropout, &mut self.rng.lock().expect("gcn dropout rng"))
    }
}

impl Module for Gcn {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.conv1.forward(&self.adj, &self.drop(x)?)?.relu()?;
        self.conv2.forward(&self.adj, &self.drop(&h)?)
    }

    fn own_params(&self) -> Vec<(String, Param)> {
        let mut out = Vec::new();
        for (layer, conv) in [("conv1", &self.conv1), ("conv2", &self.conv2)] {
            for (name, p) in conv.named_parameters() {
                out.push((format!("{layer}.{name}"), p));
            }
        }
        out
    }

    fn set_own_training(&self, on: bool) {
        self.training.set(on);
    }

    fn own_rng(&self) -> Option<&Mutex<Rng>> {
        Some(&self.rng)
    }
}
