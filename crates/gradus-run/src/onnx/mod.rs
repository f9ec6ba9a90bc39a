//! ONNX export of trained models (`gradus export MODEL --onnx out.onnx`).
//!
//! - [`proto`]: the ONNX protobuf messages (prost, no `.proto` compilation).
//! - [`graph`]: [`graph::GraphBuilder`], nodes and initializers to a `ModelProto` (opset 17, a
//!   dynamic batch dimension).
//! - [`export`]: each model kind as a graph ([`to_onnx`]); [`gpt`] the GPT's.
//! - [`sample`]: seeded inputs and gradus's outputs for them, to check a runtime against gradus.

pub mod export;
pub mod gpt;
pub mod graph;
pub mod proto;
pub mod sample;

pub use export::to_onnx;
