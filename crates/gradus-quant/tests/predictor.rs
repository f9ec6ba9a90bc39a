//! The f32 `Predictor` against the model's own `forward` under `no_grad` (1e-5 relative), on an
//! MLP and LeNet at odd batch sizes and batch 1, the same predictor reused across batch sizes.

use gradus_nn::Module;
use gradus_quant::{Predictor, QuantError};
use gradus_run::ModelSpec;
use gradus_tensor::autodiff::no_grad;
use gradus_tensor::{DType, Rng, Tensor};

fn spec(model: &str, input_shape: &str, outputs: usize) -> ModelSpec {
    spec_for("classification", model, input_shape, outputs)
}

fn spec_for(task: &str, model: &str, input_shape: &str, outputs: usize) -> ModelSpec {
    serde_json::from_str(&format!(
        r#"{{"data":{{"format":"mnist","path":"x"}},"model":{model},"task":"{task}",
        "outputs":{outputs},"input_shape":{input_shape},"dtype":"f32","features":[],
        "target":null,"vocab":null,"scaler":null,"users_items":null}}"#
    ))
    .unwrap()
}

/// Predictor outputs against `no_grad(|| model.forward(x))` for each batch size.
fn check(spec: &ModelSpec, batches: &[usize]) {
    let model = spec.build(&mut Rng::seed(3)).unwrap();
    let p = Predictor::new(model.as_ref(), spec).unwrap();
    let per: usize = p.input_shape().iter().product();
    let mut y = Vec::new();
    for (i, &rows) in batches.iter().enumerate() {
        let x = Rng::seed(10 + i as u64)
            .uniform(&[rows * per], -1.0, 2.0, DType::F32)
            .to_vec::<f32>()
            .unwrap();
        let shape: Vec<usize> = std::iter::once(rows)
            .chain(p.input_shape().iter().copied())
            .collect();
        let want = no_grad(|| model.forward(&Tensor::from_vec(x.clone(), &shape)?))
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        p.predict_into(&x, rows, &mut y).unwrap();
        assert_eq!(y.len(), want.len(), "{} batch {rows}", spec.model.kind);
        assert_eq!(y.len(), rows * spec.outputs);
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(scale > 1e-3, "outputs are not all ~0");
        for (j, (a, b)) in y.iter().zip(&want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs().max(scale),
                "{} batch {rows}, output {j}: predictor {a}, forward {b}",
                spec.model.kind
            );
        }
        // and through the Module interface, which `gradus predict` uses
        let t = p.forward(&Tensor::from_vec(x, &shape).unwrap()).unwrap();
        assert_eq!(t.shape(), &[rows, spec.outputs]);
        assert_eq!(t.to_vec::<f32>().unwrap(), y);
    }
}

#[test]
fn mlp_matches_forward_at_odd_batch_sizes_and_batch_1() {
    let s = spec(r#"{"kind":"mlp","hidden":[64,32]}"#, "[1,28,28]", 10);
    check(&s, &[1, 7, 33, 1, 300]);
    let tanh = spec(
        r#"{"kind":"mlp","hidden":[16],"activation":"tanh"}"#,
        "[20]",
        3,
    );
    check(&tanh, &[5, 1]);
}

#[test]
fn lenet_matches_forward_at_odd_batch_sizes_and_batch_1() {
    let s = spec(r#"{"kind":"cnn"}"#, "[1,28,28]", 10);
    check(&s, &[1, 3, 17, 1]);
}

#[test]
fn linear_models_match_forward() {
    for (kind, task, outputs) in [
        ("linear", "regression", 2),
        ("logistic", "binary", 1),
        ("softmax", "classification", 4),
    ] {
        let s = spec_for(task, &format!(r#"{{"kind":"{kind}"}}"#), "[9]", outputs);
        check(&s, &[1, 5]);
    }
}

#[test]
fn wrong_input_and_unsupported_kinds_are_errors() {
    let s = spec(r#"{"kind":"mlp","hidden":[8]}"#, "[4]", 2);
    let model = s.build(&mut Rng::seed(0)).unwrap();
    let p = Predictor::new(model.as_ref(), &s).unwrap();
    let e = p.predict(&[0.0; 7], 2).unwrap_err();
    assert!(matches!(e, QuantError::Shape(_)), "{e}");
    assert!(e.to_string().contains("7 values"), "{e}");
    let lstm = spec(r#"{"kind":"lstm","width":8}"#, "[5,3]", 2);
    let model = lstm.build(&mut Rng::seed(0)).unwrap();
    let e = Predictor::new(model.as_ref(), &lstm).unwrap_err();
    assert!(matches!(e, QuantError::Unsupported(_)), "{e}");
    assert!(e.to_string().contains("lstm"), "{e}");
}
