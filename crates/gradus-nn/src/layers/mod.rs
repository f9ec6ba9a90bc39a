//! Layers, one file each, all implementing [`Module`](crate::Module) with PyTorch's parameter
//! names, layouts and default initializations.

pub mod activation;
pub mod attention;
pub mod batchnorm;
pub mod cells;
pub mod checkpoint;
pub mod conv2d;
pub mod dropout;
pub mod embedding;
pub mod flatten;
pub mod layernorm;
pub mod linear;
pub mod lora;
pub mod pool;
pub mod recurrent;
pub mod sequential;
pub mod transformer;

pub use activation::Activation;
pub use attention::MultiheadAttention;
pub use batchnorm::BatchNorm;
pub use checkpoint::Checkpoint;
pub use conv2d::Conv2d;
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use flatten::Flatten;
pub use layernorm::LayerNorm;
pub use linear::Linear;
pub use lora::{add_lora, merge_lora, LoraAdapter, LoraConfig};
pub use pool::{AvgPool2d, MaxPool2d};
pub use recurrent::{CellKind, Recurrent, RecurrentState};
pub use sequential::Sequential;
pub use transformer::TransformerBlock;
