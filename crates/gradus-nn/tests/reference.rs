//! Every layer and loss against PyTorch float64 references in `tests/reference/layers.json` (made by
//! `tests/reference/make_layer_reference.py`; `GRADUS_REFERENCE_DIR` points at another folder):
//! output, gradients of `sum(output * cotangent)` for every input and parameter, and buffers
//! (BatchNorm running statistics), all to 1e-9 relative.

use gradus_nn::layers::{
    Activation, AvgPool2d, BatchNorm, Conv2d, Embedding, LayerNorm, Linear, MaxPool2d,
    MultiheadAttention, Recurrent,
};
use gradus_nn::loss::{self, CrossEntropyOptions, Reduction};
use gradus_nn::{state_dict, Module};
use gradus_tensor::ops::{conv::Conv2dOptions, pool::Pool2d};
use gradus_tensor::{DType, Rng, Tensor};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

const TOL: f64 = 1e-9;

fn reference_path() -> PathBuf {
    let dir = std::env::var("GRADUS_REFERENCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference"));
    dir.join("layers.json")
}

/// A nested JSON list (or number) as (shape, row-major values).
fn flatten(v: &Value) -> (Vec<usize>, Vec<f64>) {
    match v {
        Value::Array(items) => {
            let parts: Vec<_> = items.iter().map(flatten).collect();
            let inner = parts.first().map(|p| p.0.clone()).unwrap_or_default();
            let mut shape = vec![items.len()];
            shape.extend(inner);
            (shape, parts.into_iter().flat_map(|p| p.1).collect())
        }
        other => (vec![], vec![other.as_f64().expect("number")]),
    }
}

fn tensor(v: &Value) -> Tensor {
    let (shape, data) = flatten(v);
    Tensor::from_vec(data, &shape).unwrap()
}

fn usize_of(v: &Value, key: &str, default: usize) -> usize {
    v.get(key)
        .and_then(Value::as_u64)
        .map_or(default, |x| x as usize)
}

/// An int or a pair as a pair.
fn pair(v: &Value, key: &str, default: usize) -> (usize, usize) {
    match v.get(key) {
        Some(Value::Array(a)) => (
            a[0].as_u64().unwrap() as usize,
            a[1].as_u64().unwrap() as usize,
        ),
        Some(x) => (x.as_u64().unwrap() as usize, x.as_u64().unwrap() as usize),
        None => (default, default),
    }
}

fn reduction(c: &Value) -> Reduction {
    match c.get("reduction").and_then(Value::as_str).unwrap_or("mean") {
        "sum" => Reduction::Sum,
        "none" => Reduction::None,
        _ => Reduction::Mean,
    }
}

fn build_layer(name: &str, c: &Value, rng: &mut Rng) -> Box<dyn Module> {
    let f = |k: &str, d: f64| c.get(k).and_then(Value::as_f64).unwrap_or(d);
    match name {
        "Linear" => Box::new(Linear::new(
            usize_of(c, "in", 0),
            usize_of(c, "out", 0),
            true,
            rng,
        )),
        "ReLU" => Box::new(Activation::ReLU),
        "Tanh" => Box::new(Activation::Tanh),
        "Sigmoid" => Box::new(Activation::Sigmoid),
        "GELU" => Box::new(Activation::GELU),
        "SiLU" => Box::new(Activation::SiLU),
        "Softplus" => Box::new(Activation::softplus()),
        "LeakyReLU" => Box::new(Activation::leaky_relu()),
        "ELU" => Box::new(Activation::elu()),
        "Softmax" => Box::new(Activation::Softmax(c["dim"].as_i64().unwrap() as isize)),
        "LogSoftmax" => Box::new(Activation::LogSoftmax(c["dim"].as_i64().unwrap() as isize)),
        "Conv2d" => {
            let o = Conv2dOptions {
                stride: pair(c, "stride", 1),
                padding: pair(c, "padding", 0),
                dilation: pair(c, "dilation", 1),
                groups: usize_of(c, "groups", 1),
            };
            Box::new(Conv2d::new(
                usize_of(c, "in_channels", 0),
                usize_of(c, "out_channels", 0),
                pair(c, "kernel_size", 0),
                o,
                true,
                rng,
            ))
        }
        "MaxPool2d" | "AvgPool2d" => {
            let k = pair(c, "kernel_size", 0);
            let p = Pool2d {
                kernel: k,
                stride: if c.get("stride").is_some() {
                    pair(c, "stride", 0)
                } else {
                    k
                },
                padding: pair(c, "padding", 0),
            };
            if name == "MaxPool2d" {
                Box::new(MaxPool2d(p))
            } else {
                Box::new(AvgPool2d(p))
            }
        }
        "BatchNorm1d" => Box::new(
            BatchNorm::new_1d(usize_of(c, "num_features", 0))
                .with(f("eps", 1e-5), Some(f("momentum", 0.1))),
        ),
        "BatchNorm2d" => Box::new(
            BatchNorm::new_2d(usize_of(c, "num_features", 0))
                .with(f("eps", 1e-5), Some(f("momentum", 0.1))),
        ),
        "LayerNorm" => {
            let shape: Vec<usize> = c["normalized_shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            Box::new(LayerNorm::new(&shape).with_eps(f("eps", 1e-5)))
        }
        "Embedding" => Box::new(Embedding::new(
            usize_of(c, "num_embeddings", 0),
            usize_of(c, "embedding_dim", 0),
            rng,
        )),
        "RNN" => Box::new(Recurrent::rnn(
            usize_of(c, "input_size", 0),
            usize_of(c, "hidden_size", 0),
            usize_of(c, "num_layers", 1),
            rng,
        )),
        "GRU" => Box::new(Recurrent::gru(
            usize_of(c, "input_size", 0),
            usize_of(c, "hidden_size", 0),
            usize_of(c, "num_layers", 1),
            rng,
        )),
        "LSTM" => Box::new(Recurrent::lstm(
            usize_of(c, "input_size", 0),
            usize_of(c, "hidden_size", 0),
            usize_of(c, "num_layers", 1),
            rng,
        )),
        "MultiheadAttention" => {
            let causal = c.get("causal").and_then(Value::as_bool).unwrap_or(false);
            Box::new(MultiheadAttention::new(
                usize_of(c, "embed_dim", 0),
                usize_of(c, "num_heads", 0),
                causal,
                rng,
            ))
        }
        other => panic!("no gradus layer for `{other}`"),
    }
}

/// Runs a loss on its inputs (`[input, target]`).
fn run_loss(name: &str, c: &Value, xs: &[Tensor]) -> gradus_tensor::Result<Tensor> {
    let r = reduction(c);
    match name {
        "CrossEntropyLoss" => {
            let o = CrossEntropyOptions {
                label_smoothing: c
                    .get("label_smoothing")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0),
                reduction: r,
                ..Default::default()
            };
            // the target tensor as stored: class indices as whole numbers
            loss::cross_entropy(&xs[0], &xs[1], &o)
        }
        "BCEWithLogitsLoss" => loss::bce_with_logits(&xs[0], &xs[1], r),
        "MSELoss" => loss::mse_loss(&xs[0], &xs[1], r),
        "HuberLoss" => loss::huber_loss(&xs[0], &xs[1], c["delta"].as_f64().unwrap(), r),
        "L1Loss" => loss::l1_loss(&xs[0], &xs[1], r),
        other => panic!("no gradus loss for `{other}`"),
    }
}

/// `|a - b| <= TOL * max(1, |b|)`; false for NaN.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= TOL * b.abs().max(1.0)
}

fn compare(what: &str, got: &Tensor, want: &Value, errors: &mut Vec<String>) {
    let (shape, expected) = flatten(want);
    if got.shape() != shape.as_slice() {
        errors.push(format!(
            "{what}: shape {:?}, expected {shape:?}",
            got.shape()
        ));
        return;
    }
    let actual = got.to_vec_f64();
    if let Some((i, (a, b))) = actual
        .iter()
        .zip(&expected)
        .enumerate()
        .find(|(_, (a, b))| !close(**a, **b))
    {
        errors.push(format!(
            "{what}: element {i} is {a:.15e}, expected {b:.15e}"
        ));
    }
}

/// Loads the case's parameters (and, in eval mode, its running statistics) into the module.
fn load_case(m: &dyn Module, case: &Value) -> gradus_nn::Result<()> {
    let mut values: BTreeMap<String, (Vec<usize>, Vec<f64>)> = state_dict::state_dict(m)
        .into_iter()
        .map(|(k, t)| (k, (t.shape().to_vec(), t.to_vec_f64())))
        .collect();
    let mut from_case = |obj: &Value| {
        for (k, v) in obj.as_object().into_iter().flatten() {
            values.insert(k.clone(), flatten(v));
        }
    };
    from_case(&case["params"]);
    if !case["train"].as_bool().unwrap_or(true) {
        from_case(&case["buffers_after"]);
    }
    state_dict::load_values(m, &values)
}

fn run_case(case: &Value, errors: &mut Vec<String>) -> gradus_tensor::Result<()> {
    let name = case["layer"].as_str().unwrap();
    let ctor = &case["ctor"];
    let inputs: Vec<Tensor> = case["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .zip(case["grad_inputs"].as_array().unwrap())
        .map(|(x, g)| tensor(x).requires_grad_(!g.is_null()))
        .collect();
    let module = name.ends_with("Loss").then_some(()).map_or_else(
        || Some(build_layer(name, ctor, &mut Rng::seed(0))),
        |_| None,
    );
    let output = match &module {
        Some(m) => {
            m.cast(DType::F64)?;
            load_case(m.as_ref(), case).map_err(|e| {
                gradus_tensor::TensorError::InvalidArgument {
                    op: "load",
                    detail: e.to_string(),
                }
            })?;
            m.train(case["train"].as_bool().unwrap_or(true));
            m.forward(&inputs[0])?
        }
        None => run_loss(name, ctor, &inputs)?,
    };
    compare("output", &output, &case["output"], errors);
    let objective = output.mul(&tensor(&case["cotangent"]))?.sum_all()?;
    objective.backward()?;
    for (i, (x, want)) in inputs
        .iter()
        .zip(case["grad_inputs"].as_array().unwrap())
        .enumerate()
    {
        if !want.is_null() {
            match x.grad() {
                Some(g) => compare(&format!("grad of input {i}"), &g, want, errors),
                None => errors.push(format!("grad of input {i}: missing")),
            }
        }
    }
    if let Some(m) = &module {
        let params: BTreeMap<String, _> = m.named_parameters().into_iter().collect();
        for (k, want) in case["grad_params"].as_object().into_iter().flatten() {
            match params.get(k).and_then(|p| p.grad()) {
                Some(g) => compare(&format!("grad of {k}"), &g, want, errors),
                None => errors.push(format!("grad of {k}: missing")),
            }
        }
        let buffers: BTreeMap<String, _> = m.named_buffers().into_iter().collect();
        for (k, want) in case["buffers_after"].as_object().into_iter().flatten() {
            match buffers.get(k) {
                Some(b) => compare(&format!("buffer {k}"), &b.tensor(), want, errors),
                None => errors.push(format!("buffer {k}: missing")),
            }
        }
    }
    Ok(())
}

#[test]
fn layers_match_pytorch() {
    let path = reference_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).expect("valid JSON");
    let cases = doc["cases"].as_array().expect("cases");
    assert!(!cases.is_empty(), "no cases in {}", path.display());
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let label = format!(
            "case {i} {} {}",
            case["layer"].as_str().unwrap_or("?"),
            case["ctor"]
        );
        let mut errors = Vec::new();
        if let Err(e) = run_case(case, &mut errors) {
            errors.push(format!("error: {e}"));
        }
        if !errors.is_empty() {
            failures.push(format!("{label}:\n    {}", errors.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} reference cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
