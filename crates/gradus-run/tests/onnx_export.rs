//! ONNX export from the library: the graph's structure, its dynamic batch dimension and its
//! initializers holding the model's weights bit for bit (`tests/python/test_onnx_export.py`
//! runs the exported models in ONNX Runtime against gradus's forward pass).

use gradus_run::onnx::proto::{DimensionValue, ModelProto, FLOAT};
use gradus_run::onnx::to_onnx;
use gradus_run::ModelSpec;
use gradus_tensor::Rng;
use prost::Message;

fn spec(kind: &str, extra: &str, input: &[usize], outputs: usize, task: &str) -> ModelSpec {
    let json = format!(
        r#"{{"data":{{"format":"csv","path":"x"}},"model":{{"kind":"{kind}"{extra}}},
            "task":"{task}","outputs":{outputs},"input_shape":{input:?},"dtype":"f32",
            "features":[],"target":null,"vocab":null,"scaler":null,"users_items":null}}"#
    );
    serde_json::from_str(&json).expect("a model spec")
}

fn export(spec: &ModelSpec) -> ModelProto {
    let model = spec.build(&mut Rng::seed(7)).unwrap();
    let proto = to_onnx(model.as_ref(), spec).unwrap();
    // what is written is what is read back
    let bytes = proto.encode_to_vec();
    let back = ModelProto::decode(&bytes[..]).unwrap();
    assert_eq!(back, proto);
    // every initializer is the parameter of the same name, as f32 little-endian
    let params = model.named_parameters();
    let graph = back.graph.clone().unwrap();
    for init in &graph.initializer {
        let Some((_, p)) = params.iter().find(|(n, _)| *n == init.name) else {
            continue; // a constant of the graph (GELU's), not a parameter
        };
        let want: Vec<u8> = p
            .tensor()
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(init.raw_data, want, "{}", init.name);
        assert_eq!(init.data_type, FLOAT);
        let dims: Vec<i64> = p.tensor().shape().iter().map(|&d| d as i64).collect();
        assert_eq!(init.dims, dims, "{}", init.name);
    }
    back
}

fn ops(m: &ModelProto) -> Vec<String> {
    m.graph
        .as_ref()
        .unwrap()
        .node
        .iter()
        .map(|n| n.op_type.clone())
        .collect()
}

#[test]
fn a_linear_model_is_one_gemm_with_a_dynamic_batch() {
    let m = export(&spec("linear", "", &[3], 2, "regression"));
    assert_eq!(m.opset_import[0].version, 17);
    assert_eq!(ops(&m), ["Gemm"]);
    let g = m.graph.unwrap();
    let dims = |v: &gradus_run::onnx::proto::ValueInfoProto| -> Vec<DimensionValue> {
        let t = v.r#type.clone().unwrap().tensor_type.unwrap();
        t.shape
            .unwrap()
            .dim
            .into_iter()
            .map(|d| d.value.unwrap())
            .collect()
    };
    assert_eq!(
        dims(&g.input[0]),
        [
            DimensionValue::DimParam("batch".into()),
            DimensionValue::DimValue(3)
        ]
    );
    assert_eq!(
        dims(&g.output[0]),
        [
            DimensionValue::DimParam("batch".into()),
            DimensionValue::DimValue(2)
        ]
    );
    assert_eq!(g.node[0].output, ["output"]);
}

#[test]
fn an_mlp_alternates_gemm_and_its_activation() {
    let m = export(&spec(
        "mlp",
        r#","hidden":[5,4],"activation":"tanh""#,
        &[3],
        2,
        "classification",
    ));
    assert_eq!(ops(&m), ["Gemm", "Tanh", "Gemm", "Tanh", "Gemm"]);
    let gelu = export(&spec(
        "mlp",
        r#","hidden":[5],"activation":"gelu""#,
        &[3],
        2,
        "classification",
    ));
    assert_eq!(
        ops(&gelu),
        ["Gemm", "Mul", "Erf", "Add", "Mul", "Mul", "Gemm"]
    );
}

#[test]
fn lenet_is_conv_pool_twice_then_three_gemms() {
    let m = export(&spec("cnn", "", &[1, 28, 28], 10, "classification"));
    assert_eq!(
        ops(&m),
        [
            "Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Relu",
            "Gemm", "Relu", "Gemm"
        ]
    );
}

#[test]
fn an_lstm_is_one_onnx_lstm_per_layer_with_gates_reordered() {
    let s = spec(
        "lstm",
        r#","width":3,"layers":2"#,
        &[4],
        2,
        "classification",
    );
    let model = s.build(&mut Rng::seed(7)).unwrap();
    let m = to_onnx(model.as_ref(), &s).unwrap();
    assert_eq!(
        ops(&m),
        ["Transpose", "LSTM", "Squeeze", "LSTM", "Squeeze", "Gemm"]
    );
    // ONNX's W is PyTorch's weight_ih with the gate blocks i, f, g, o put as i, o, f, g
    let g = m.graph.unwrap();
    let w = g
        .initializer
        .iter()
        .find(|t| t.name == "lstm.W_l0")
        .unwrap();
    assert_eq!(w.dims, [1, 12, 1]);
    let torch: Vec<f32> = model.named_parameters()[0]
        .1
        .tensor()
        .to_vec::<f32>()
        .unwrap();
    let onnx: Vec<f32> = w
        .raw_data
        .chunks(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let block = |v: &[f32], i: usize| v[i * 3..(i + 1) * 3].to_vec();
    for (onnx_block, torch_block) in [(0, 0), (1, 3), (2, 1), (3, 2)] {
        assert_eq!(block(&onnx, onnx_block), block(&torch, torch_block));
    }
}

#[test]
fn a_gpt_takes_int64_ids_and_gives_logits_per_position() {
    for tie in [true, false] {
        let mut s = spec(
            "gpt",
            &format!(r#","width":8,"heads":2,"layers":2,"tie_weights":{tie}"#),
            &[5],
            6,
            "classification",
        );
        s.vocab = Some(serde_json::from_str(r#"{"chars":"abcdef"}"#).unwrap());
        let m = export(&s);
        let o = ops(&m);
        assert_eq!(o[0], "Gather");
        assert_eq!(o.iter().filter(|op| *op == "LayerNormalization").count(), 5);
        assert_eq!(o.iter().filter(|op| *op == "Softmax").count(), 2);
        let g = m.graph.unwrap();
        let input = g.input[0].r#type.clone().unwrap().tensor_type.unwrap();
        assert_eq!(input.elem_type, gradus_run::onnx::proto::INT64);
        let out = g.output[0].r#type.clone().unwrap().tensor_type.unwrap();
        let dims: Vec<_> = out
            .shape
            .unwrap()
            .dim
            .into_iter()
            .map(|d| d.value.unwrap())
            .collect();
        assert_eq!(
            dims,
            [
                DimensionValue::DimParam("batch".into()),
                DimensionValue::DimValue(5),
                DimensionValue::DimValue(6)
            ]
        );
        // the head reads the token embedding when tied, its own weight otherwise
        let names: Vec<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names.contains(&"head.weight.T"), !tie, "{names:?}");
        assert_eq!(names.contains(&"tok_emb.weight.T"), tie, "{names:?}");
    }
}

#[test]
fn a_kind_without_export_is_named() {
    let s = spec("mf", r#","width":2"#, &[2], 1, "regression");
    let mut s = s;
    s.users_items = Some((3, 4));
    let model = s.build(&mut Rng::seed(0)).unwrap();
    let err = to_onnx(model.as_ref(), &s).unwrap_err().to_string();
    assert!(
        err.contains("model.kind = \"mf\" cannot be exported"),
        "{err}"
    );
}
