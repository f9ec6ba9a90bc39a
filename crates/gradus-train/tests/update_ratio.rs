//! The per-layer update-to-parameter ratio of `layers.csv` ("update:data ratio",
//! `||Δθ_layer|| / ||θ_layer||`): after one full-batch SGD step on a two-layer model, each
//! layer's value equals the ratio computed by hand from the weights before and after the step.

use gradus_data::{BatchMode, Dataset, Targets};
use gradus_nn::layers::{Activation, Linear, Sequential};
use gradus_nn::Module;
use gradus_optim::{Optimizer, Schedule, Sgd};
use gradus_tensor::{DType, Rng, Tensor};
use gradus_train::task::Task;
use gradus_train::{TrainOptions, Trainer};
use std::collections::BTreeMap;

fn values(model: &dyn Module) -> Vec<(String, Vec<f64>)> {
    model
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.tensor().to_vec_f64()))
        .collect()
}

/// `sqrt(sum (after - before)^2 / sum before^2)` over the parameters whose name starts with
/// `layer.`, from host values.
fn by_hand(before: &[(String, Vec<f64>)], after: &[(String, Vec<f64>)], layer: &str) -> f64 {
    let (mut d, mut b) = (0.0, 0.0);
    for ((name, x0), (_, x1)) in before.iter().zip(after) {
        if name.starts_with(&format!("{layer}.")) {
            for (u, v) in x0.iter().zip(x1) {
                d += (v - u) * (v - u);
                b += u * u;
            }
        }
    }
    (d / b).sqrt()
}

#[test]
fn layers_csv_has_each_layers_update_ratio_of_one_sgd_step() {
    let mut rng = Rng::seed(7);
    let model = Sequential::new()
        .push(Linear::new(2, 3, true, &mut rng))
        .push(Activation::Tanh)
        .push(Linear::new(3, 1, true, &mut rng));
    model.cast(DType::F64).unwrap();
    let before = values(&model);
    let params: Vec<Tensor> = model.parameters().iter().map(|p| p.tensor()).collect();
    let x: Vec<f32> = vec![0.5, -1.0, 1.5, 0.25, -0.75, 2.0, 1.0, 1.0];
    let y: Vec<f32> = vec![1.0, -2.0, 0.5, 3.0];
    let data = Dataset::new(x, vec![2], Targets::Values { values: y, dim: 1 }).unwrap();
    let mut t = Trainer {
        model: Box::new(model),
        optimizer: Optimizer::new(Sgd::new(0.1), &params).unwrap(),
        schedule: Schedule::Constant(0.1),
        plateau: None,
        task: Task::Regression { outputs: 1 },
        options: TrainOptions {
            dtype: DType::F64,
            quiet: true,
            epochs: 1,
            batch: BatchMode::Full,
            ..TrainOptions::default()
        },
        model_metadata: BTreeMap::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    t.fit(&data, None, dir.path(), false).unwrap();
    let after = values(t.model.as_ref());

    let text = std::fs::read_to_string(dir.path().join("layers.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("epoch,layer,grad_norm,update_ratio"),
        "{text}"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2, "one row per layer: {text}");
    for (row, layer) in rows.iter().zip(["0", "2"]) {
        assert_eq!(row[1], layer);
        let got: f64 = row[3].parse().unwrap();
        let want = by_hand(&before, &after, layer);
        assert!(want > 0.0 && want.is_finite());
        assert!(
            (got - want).abs() <= 1e-12 * want,
            "layer {layer}: layers.csv {got}, by hand {want}"
        );
    }
}
