//! Differentiable operations, one family per file; each op's backward rule sits next to its
//! forward. Composite ops (softmax, conv2d, pooling, GELU) are built from primitives and get their
//! gradients, including second derivatives, for free.

pub mod activation;
pub mod binary;
pub mod conv;
mod conv_direct;
pub mod dropout;
pub mod index;
pub mod linalg;
pub mod logistic;
pub mod matmul;
pub mod nn;
pub mod norm;
pub mod pool;
pub mod recurrent;
pub mod reduce;
pub mod shape;
pub mod softmax;
pub mod sparse;
pub mod unary;
