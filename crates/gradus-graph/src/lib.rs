//! # gradus-graph
//!
//! Graph neural networks on gradus: the graph convolutional network of Kipf & Welling (2017),
//! "Semi-Supervised Classification with Graph Convolutional Networks", with PyTorch Geometric's
//! conventions.
//!
//! - [`gcn_norm`]: the normalized adjacency `Â = D^-1/2 (A + I) D^-1/2` as a
//!   [`SparseMatrix`](gradus_tensor::ops::sparse::SparseMatrix), whose product with a dense
//!   tensor is differentiable (gradient-checked in f64, twice).
//! - [`GraphConv`]: PyG's `GCNConv` (weight `[out, in]`, Glorot init, bias after aggregation).
//! - [`Gcn`]: the paper's two-layer model; [`fit_gcn`] trains it as the paper does.
//! - Data: [`load_karate`] (Zachary's karate club, shipped in `data/karate/`) and
//!   [`stochastic_block_model`] (synthetic graphs of any size with noisy class features).
//!
//! ```
//! use gradus_graph::{fit_gcn, stochastic_block_model, GcnConfig, SbmConfig};
//! let g = stochastic_block_model(&SbmConfig { nodes: 600, val: 100, test: 300, ..Default::default() }).unwrap();
//! let r = fit_gcn(&g, &GcnConfig { epochs: 5, ..Default::default() }).unwrap();
//! assert_eq!(r.losses.len(), 5);
//! ```
#![warn(missing_docs)]

mod error;
mod gcn;
mod graph_conv;
mod karate;
mod node_data;
mod norm;
mod sbm;
mod train;

pub use error::{GraphError, Result};
pub use gcn::Gcn;
pub use graph_conv::GraphConv;
pub use karate::{load_karate, KARATE_TRAIN};
pub use node_data::{accuracy, index_tensor, NodeData};
pub use norm::{gcn_norm, to_undirected};
pub use sbm::{stochastic_block_model, SbmConfig};
pub use train::{fit_gcn, GcnConfig, GcnReport};
