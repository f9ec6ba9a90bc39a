//! Per-sample loss weights (scikit-learn's `sample_weight`): an integer weight counts as that many
//! copies of the sample and a zero weight drops it, in the loss of every task, in its gradient,
//! and in a whole full-batch run.

use gradus_data::{BatchMode, Dataset, Targets as HostTargets};
use gradus_nn::layers::Linear;
use gradus_nn::Module;
use gradus_optim::{Optimizer, Schedule, Sgd};
use gradus_tensor::{DType, Rng, Tensor};
use gradus_train::batch::to_device;
use gradus_train::task::{Targets, Task};
use gradus_train::{TrainOptions, Trainer};
use std::collections::BTreeMap;

/// Rows `rows` of a `[n, k]` tensor, in that order.
fn rows(t: &Tensor, rows: &[usize]) -> Tensor {
    let k = t.numel() / t.shape()[0];
    let v = t.to_vec_f64();
    let picked: Vec<f64> = rows
        .iter()
        .flat_map(|&r| v[r * k..(r + 1) * k].to_vec())
        .collect();
    let mut shape = t.shape().to_vec();
    shape[0] = rows.len();
    Tensor::from_vec(picked, &shape).unwrap()
}

/// The loss with weights `[2, 1, 0, 3]` and its gradient against the outputs, next to the plain
/// loss of rows 0, 0, 1, 3, 3, 3 (the weights as copies) and its gradient summed per row.
fn check_weights_are_copies(task: Task, output: Vec<f64>, width: usize, targets: Targets) {
    let weights = [2.0, 1.0, 0.0, 3.0];
    let copies = [0, 0, 1, 3, 3, 3];
    let out = Tensor::from_vec(output.clone(), &[4, width])
        .unwrap()
        .requires_grad_(true);
    let w = Tensor::from_vec(weights.to_vec(), &[4]).unwrap();
    let weighted = task.weighted_loss(&out, &targets, &w).unwrap();
    weighted.backward().unwrap();
    let grad = out.grad().unwrap().to_vec_f64();

    let out2 = rows(&Tensor::from_vec(output, &[4, width]).unwrap(), &copies).requires_grad_(true);
    let targets2 = match &targets {
        Targets::Classes(c) => Targets::Classes(
            rows(&c.reshape(&[4, 1]).unwrap(), &copies)
                .reshape(&[6])
                .unwrap(),
        ),
        Targets::Values(v) => Targets::Values(rows(v, &copies)),
    };
    let plain = task.loss(&out2, &targets2).unwrap();
    plain.backward().unwrap();
    let g2 = out2.grad().unwrap().to_vec_f64();
    let mut summed = vec![0.0; 4 * width];
    for (i, &r) in copies.iter().enumerate() {
        for j in 0..width {
            summed[r * width + j] += g2[i * width + j];
        }
    }
    let (a, b) = (weighted.item().unwrap(), plain.item().unwrap());
    assert!(
        (a - b).abs() < 1e-12,
        "{task:?}: weighted loss {a}, copies {b}"
    );
    for (x, y) in grad.iter().zip(&summed) {
        assert!(
            (x - y).abs() < 1e-12,
            "{task:?}: gradients {grad:?} and {summed:?}"
        );
    }
    assert!(
        grad[2 * width..3 * width].iter().all(|&g| g == 0.0),
        "a zero weight has no gradient"
    );
}

#[test]
fn integer_weights_are_copies_in_every_task() {
    let classes = Targets::Classes(Tensor::from_vec(vec![0.0f64, 2.0, 1.0, 2.0], &[4]).unwrap());
    let logits = vec![
        0.5, -1.0, 2.0, 0.1, 0.2, 0.3, -2.0, 1.0, 0.0, 1.5, 0.5, -0.5,
    ];
    check_weights_are_copies(Task::Classification { classes: 3 }, logits, 3, classes);
    let labels = Targets::Classes(Tensor::from_vec(vec![1.0f64, 0.0, 1.0, 0.0], &[4]).unwrap());
    check_weights_are_copies(Task::Binary, vec![0.3, -1.2, 2.0, 0.7], 1, labels);
    let values = Targets::Values(
        Tensor::from_vec(vec![1.0f64, -1.0, 0.5, 2.0, 0.0, 3.0, -2.0, 1.0], &[4, 2]).unwrap(),
    );
    let out = vec![0.9, -0.5, 1.5, 2.0, -1.0, 2.5, 0.0, 0.0];
    check_weights_are_copies(Task::Regression { outputs: 2 }, out, 2, values);
}

#[test]
fn equal_weights_give_the_plain_loss_and_a_wrong_shape_is_refused() {
    let task = Task::Regression { outputs: 1 };
    let out = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3, 1]).unwrap();
    let y = Targets::Values(Tensor::from_vec(vec![0.0f64, 0.0, 1.0], &[3, 1]).unwrap());
    let w = Tensor::from_vec(vec![0.5f64; 3], &[3]).unwrap();
    let a = task.weighted_loss(&out, &y, &w).unwrap().item().unwrap();
    let b = task.loss(&out, &y).unwrap().item().unwrap();
    assert!((a - b).abs() < 1e-15);
    // a mini-batch of dropped samples only: no loss, no gradient (not 0 / 0)
    let out = out.requires_grad_(true);
    let zero = Tensor::from_vec(vec![0.0f64; 3], &[3]).unwrap();
    let l = task.weighted_loss(&out, &y, &zero).unwrap();
    l.backward().unwrap();
    assert_eq!(l.item().unwrap(), 0.0);
    assert_eq!(out.grad().unwrap().to_vec_f64(), vec![0.0; 3]);
    let short = Tensor::from_vec(vec![1.0f64; 2], &[2]).unwrap();
    let e = task
        .weighted_loss(&out, &y, &short)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[2]") && e.contains("3 samples"), "{e}");
}

fn data(x: Vec<f32>, y: Vec<f32>) -> Dataset {
    Dataset::new(x, vec![1], HostTargets::Values { values: y, dim: 1 }).unwrap()
}

/// Trains a 1-input linear model full batch, 20 SGD steps, and returns its parameters.
fn fit(d: &Dataset) -> Vec<f64> {
    let model: Box<dyn Module> = Box::new(Linear::new(1, 1, true, &mut Rng::seed(3)));
    model.cast(DType::F64).unwrap();
    let params: Vec<Tensor> = model.parameters().iter().map(|p| p.tensor()).collect();
    let mut t = Trainer {
        model,
        optimizer: Optimizer::new(Sgd::new(0.1), &params).unwrap(),
        schedule: Schedule::Constant(0.1),
        plateau: None,
        task: Task::Regression { outputs: 1 },
        options: TrainOptions {
            epochs: 20,
            batch: BatchMode::Full,
            dtype: DType::F64,
            quiet: true,
            ..TrainOptions::default()
        },
        model_metadata: BTreeMap::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    t.fit(d, None, dir.path(), false).unwrap();
    t.model
        .parameters()
        .iter()
        .flat_map(|p| p.tensor().to_vec_f64())
        .collect()
}

#[test]
fn a_weighted_full_batch_run_ends_where_the_run_on_copies_does() {
    let x = vec![0.0, 1.0, 2.0, 3.0];
    let y = vec![1.0, 2.5, 100.0, 7.0];
    let weighted = data(x, y)
        .with_sample_weights(vec![2.0, 1.0, 0.0, 3.0])
        .unwrap();
    let copies = data(
        vec![0.0, 0.0, 1.0, 3.0, 3.0, 3.0],
        vec![1.0, 1.0, 2.5, 7.0, 7.0, 7.0],
    );
    let (a, b) = (fit(&weighted), fit(&copies));
    for (p, q) in a.iter().zip(&b) {
        assert!((p - q).abs() < 1e-9, "weighted {a:?}, copies {b:?}");
    }
    let batch = to_device(
        &weighted,
        &[3, 1],
        &Task::Regression { outputs: 1 },
        DType::F64,
    )
    .unwrap();
    assert_eq!(batch.weights.unwrap().to_vec_f64(), vec![3.0, 1.0]);
    assert_eq!(batch.samples, 2);
}
