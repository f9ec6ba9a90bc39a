//! [`GraphBuilder`]: an ONNX graph built node by node, with the model's weights as initializers.

use super::proto::{
    AttributeProto, Dimension, DimensionValue, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, TensorProto, TensorShapeProto, TensorTypeProto, TypeProto, ValueInfoProto,
    DOUBLE, FLOAT, INT64,
};
use crate::error::{Result, RunError};
use gradus_tensor::{DType, Tensor};

/// The ONNX opset gradus exports to.
pub const OPSET: i64 = 17;
/// The IR version that goes with opset 17.
pub const IR_VERSION: i64 = 8;
/// The name of the dynamic batch dimension.
pub const BATCH: &str = "batch";

/// An ONNX element type for a gradus dtype (f32 `FLOAT`, f64 `DOUBLE`).
///
/// # Errors
/// For a dtype ONNX export does not support.
pub fn elem_type(dtype: DType) -> Result<i32> {
    match dtype {
        DType::F32 => Ok(FLOAT),
        DType::F64 => Ok(DOUBLE),
        other => Err(RunError::Setup(format!(
            "ONNX export: models of dtype {other:?} are not supported (f32, f64)"
        ))),
    }
}

/// An integer attribute.
pub fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i,
        r#type: 2,
        ..Default::default()
    }
}

/// An integer-list attribute.
pub fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints: v.to_vec(),
        r#type: 7,
        ..Default::default()
    }
}

/// A float attribute.
pub fn float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        f,
        r#type: 1,
        ..Default::default()
    }
}

/// Builds one graph: weights, nodes in order, then [`finish`](GraphBuilder::finish).
pub struct GraphBuilder {
    dtype: i32,
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

impl GraphBuilder {
    /// An empty graph whose floating-point values are of ONNX type `dtype`.
    pub fn new(dtype: i32) -> GraphBuilder {
        GraphBuilder {
            dtype,
            nodes: Vec::new(),
            initializers: Vec::new(),
        }
    }

    /// Adds `t` as an initializer named `name` (the model's parameter name), in the graph's
    /// float type; returns its name.
    pub fn weight(&mut self, name: &str, t: &Tensor) -> String {
        // the host boundary of export: the weights are written into the file
        self.values(name, t.shape(), &t.to_vec_f64())
    }

    /// Adds `values` (row-major, of shape `dims`) as an initializer named `name`, in the graph's
    /// float type (weights rearranged on the host, as ONNX's LSTM gate order needs); returns its
    /// name.
    pub fn values(&mut self, name: &str, dims: &[usize], values: &[f64]) -> String {
        let raw_data = if self.dtype == DOUBLE {
            values.iter().flat_map(|v| v.to_le_bytes()).collect()
        } else {
            values
                .iter()
                .flat_map(|v| (*v as f32).to_le_bytes())
                .collect()
        };
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: self.dtype,
            name: name.into(),
            raw_data,
        });
        name.into()
    }

    /// Whether an initializer of that name is already there (constants are shared by name).
    pub fn has(&self, name: &str) -> bool {
        self.initializers.iter().any(|t| t.name == name)
    }

    /// Adds an int64 vector constant (axes, shapes), once per name; returns its name.
    pub fn int64s(&mut self, name: &str, v: &[i64]) -> String {
        if self.has(name) {
            return name.into();
        }
        self.initializers.push(TensorProto {
            dims: vec![v.len() as i64],
            data_type: INT64,
            name: name.into(),
            raw_data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        });
        name.into()
    }

    /// Adds a scalar constant (`[]`) of the graph's float type, once per name; returns its name.
    pub fn scalar(&mut self, name: &str, v: f64) -> String {
        if self.has(name) {
            return name.into();
        }
        let raw_data = if self.dtype == DOUBLE {
            v.to_le_bytes().to_vec()
        } else {
            (v as f32).to_le_bytes().to_vec()
        };
        self.initializers.push(TensorProto {
            dims: vec![],
            data_type: self.dtype,
            name: name.into(),
            raw_data,
        });
        name.into()
    }

    /// Adds a node `op(inputs)` with `attrs`; returns the name of its one output.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        self.node_n(op, inputs, attrs, 1).remove(0)
    }

    /// Adds a node `op(inputs)` with `attrs` and `outputs` outputs; returns their names.
    pub fn node_n(
        &mut self,
        op: &str,
        inputs: &[&str],
        attrs: Vec<AttributeProto>,
        outputs: usize,
    ) -> Vec<String> {
        let name = format!("{}_{}", op.to_lowercase(), self.nodes.len());
        let output: Vec<String> = (0..outputs).map(|i| format!("{name}_out{i}")).collect();
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: output.clone(),
            name,
            op_type: op.into(),
            attribute: attrs,
        });
        output
    }

    /// The model: input `input` of shape `[batch, input_dims...]` (element type `input_type`:
    /// the float type, or [`INT64`] for token ids), the last node's output renamed `output`,
    /// of shape `[batch, output_dims...]`.
    ///
    /// # Errors
    /// When the graph has no node.
    pub fn finish(
        mut self,
        input_type: i32,
        input_dims: &[usize],
        output_dims: &[usize],
    ) -> Result<ModelProto> {
        let last = self
            .nodes
            .last_mut()
            .ok_or_else(|| RunError::Setup("ONNX export: the graph has no node".into()))?;
        // the last node's first output is the graph's
        last.output.truncate(1);
        last.output[0] = "output".into();
        let value = |name: &str, elem_type: i32, dims: &[usize]| ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto {
                tensor_type: Some(TensorTypeProto {
                    elem_type,
                    shape: Some(TensorShapeProto {
                        dim: std::iter::once(DimensionValue::DimParam(BATCH.into()))
                            .chain(dims.iter().map(|&d| DimensionValue::DimValue(d as i64)))
                            .map(|v| Dimension { value: Some(v) })
                            .collect(),
                    }),
                }),
            }),
        };
        Ok(ModelProto {
            ir_version: IR_VERSION,
            producer_name: "gradus".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            graph: Some(GraphProto {
                node: self.nodes,
                name: "gradus".into(),
                initializer: self.initializers,
                input: vec![value("input", input_type, input_dims)],
                output: vec![value("output", self.dtype, output_dims)],
            }),
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
            }],
        })
    }
}
