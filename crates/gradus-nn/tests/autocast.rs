//! Autocast against PyTorch: a small MLP (Linear, Tanh, Linear, cross entropy) under
//! `autocast(bf16)` gives PyTorch's `torch.autocast("cpu", dtype=torch.bfloat16)` values in
//! `tests/reference/autocast_bf16.json` (made by `tests/reference/make_autocast_reference.py`):
//! the logits are bf16 values (the linear layers' outputs are rounded), the loss is computed in
//! f32 from them, and the gradients of the f32 master weights flow back through bf16 (see the
//! test for where they differ: the backward of an elementwise op between two 16-bit ops).

use gradus_nn::layers::Linear;
use gradus_nn::loss::{cross_entropy, CrossEntropyOptions};
use gradus_nn::Module;
use gradus_tensor::precision::{autocast::autocast, Half};
use gradus_tensor::{DType, Tensor};
use serde_json::Value;
use std::path::Path;

fn reference() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/autocast_bf16.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A JSON list of numbers or of lists of numbers as an f32 tensor.
fn tensor(v: &Value) -> Tensor {
    let rows = v.as_array().unwrap();
    let (shape, data): (Vec<usize>, Vec<f32>) = match rows[0].as_array() {
        Some(first) => (
            vec![rows.len(), first.len()],
            rows.iter()
                .flat_map(|r| {
                    r.as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_f64().unwrap() as f32)
                })
                .collect(),
        ),
        None => (
            vec![rows.len()],
            rows.iter().map(|x| x.as_f64().unwrap() as f32).collect(),
        ),
    };
    Tensor::from_vec(data, &shape).unwrap()
}

fn values(v: &Value) -> Vec<f64> {
    tensor(v).to_vec_f64()
}

/// What a forward and backward pass of the model gives.
struct Outcome {
    logits: Vec<f64>,
    loss: f64,
    /// By PyTorch parameter name.
    grads: Vec<(String, Vec<f64>)>,
}

/// The model's outcome, under bf16 autocast or not.
fn run(r: &Value, format: Option<Half>) -> Outcome {
    let p = &r["params"];
    let l0 = Linear::from_tensors(tensor(&p["0.weight"]), Some(tensor(&p["0.bias"])));
    let l2 = Linear::from_tensors(tensor(&p["2.weight"]), Some(tensor(&p["2.bias"])));
    let (x, y) = (tensor(&r["x"]), tensor(&r["y"]));
    let (logits, loss) = autocast(format, || {
        let logits = l2.forward(&l0.forward(&x)?.tanh()?)?;
        let loss = cross_entropy(&logits, &y, &CrossEntropyOptions::default())?;
        gradus_tensor::Result::Ok((logits, loss))
    })
    .unwrap();
    assert_eq!(logits.dtype(), DType::F32);
    loss.backward().unwrap();
    let mut grads = Vec::new();
    for (prefix, layer) in [("0", &l0), ("2", &l2)] {
        for (name, param) in layer.named_parameters() {
            let g = param.tensor().grad().unwrap().to_vec_f64();
            grads.push((format!("{prefix}.{name}"), g));
        }
    }
    Outcome {
        logits: logits.to_vec_f64(),
        loss: loss.item().unwrap(),
        grads,
    }
}

/// Largest `|a - b| / (|b| + floor)`.
fn max_rel(a: &[f64], b: &[f64], floor: f64) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / (y.abs() + floor))
        .fold(0.0, f64::max)
}

#[test]
fn bf16_autocast_gives_pytorchs_autocast_values() {
    let r = reference();
    let Outcome {
        logits,
        loss,
        grads,
    } = run(&r, Some(Half::BF16));
    let torch = &r["bf16"];
    let torch_logits = values(&torch["logits"]);
    // the logits are bf16 values, as PyTorch's are (a linear layer's output is rounded)
    let rounded = Tensor::from_vec(logits.clone(), &[logits.len()])
        .unwrap()
        .round_to(Half::BF16)
        .unwrap()
        .to_vec_f64();
    assert_eq!(logits, rounded);
    // equal to PyTorch's but where the f32 sums (in another order) sit on a rounding boundary:
    // then one bf16 step apart (2^-8 relative)
    let same = logits
        .iter()
        .zip(&torch_logits)
        .filter(|(a, b)| a == b)
        .count();
    assert!(
        same * 10 >= logits.len() * 9,
        "{same} of {} equal",
        logits.len()
    );
    assert!(max_rel(&logits, &torch_logits, 1e-3) <= 2f64.powi(-8));
    // the loss runs in f32 on the bf16 logits: PyTorch's to f32 precision, while the f32 run's
    // loss is 7e-4 away
    let torch_loss = torch["loss"].as_f64().unwrap();
    let f32_loss = r["f32"]["loss"].as_f64().unwrap();
    assert!((loss - torch_loss).abs() < 1e-5, "{loss} vs {torch_loss}");
    assert!((f32_loss - torch_loss).abs() > 1e-4);
    // gradients: the last layer's, which flow back through bf16 ops only, are PyTorch's (bit
    // for bit here; a bf16 step allowed for another summation order). The first layer's flow
    // back through tanh, whose PyTorch backward uses its bf16 output where gradus's uses the
    // f32 one (see `precision::autocast`): a few percent apart, and much closer to PyTorch's
    // autocast gradients than PyTorch's f32 gradients are.
    for (name, g) in &grads {
        let t = values(&torch["grads"][name]);
        let err = max_rel(g, &t, 1e-3);
        if name.starts_with("2.") {
            assert!(err <= 2f64.powi(-8), "{name}: {err}");
        } else {
            let f32_err = max_rel(&values(&r["f32"]["grads"][name]), &t, 1e-3);
            assert!(
                err < 0.1 && err < 0.5 * f32_err,
                "{name}: {err} (f32: {f32_err})"
            );
        }
    }
}

#[test]
fn without_autocast_the_same_model_gives_pytorchs_f32_values() {
    let r = reference();
    let Outcome {
        logits,
        loss,
        grads,
    } = run(&r, None);
    let torch = &r["f32"];
    assert!(max_rel(&logits, &values(&torch["logits"]), 1e-3) < 1e-5);
    assert!((loss - torch["loss"].as_f64().unwrap()).abs() < 1e-6);
    for (name, g) in &grads {
        assert!(
            max_rel(g, &values(&torch["grads"][name]), 1e-3) < 1e-5,
            "{name}"
        );
    }
    // and the f32 logits are not bf16 values: the autocast test above can tell them apart
    let bf16_logits = values(&r["bf16"]["logits"]);
    assert!(max_rel(&logits, &bf16_logits, 1e-3) > 2f64.powi(-10));
}
