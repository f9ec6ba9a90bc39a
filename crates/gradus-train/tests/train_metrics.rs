//! The training metrics of a run without a validation set come from the epoch's training
//! batches (their sums, added over batches and ranks), not from a second pass over the data. With
//! a learning rate of 0 the model does not move during the epoch, so they must equal a full
//! evaluation of the training set: on one process, with the noise scale's two micro-batches per
//! step, and over two data-parallel ranks, for classification and regression.

use gradus_data::{BatchMode, Dataset};
use gradus_dist::{GradientReducer, LocalGroup};
use gradus_nn::layers::Activation;
use gradus_nn::models::Mlp;
use gradus_nn::Module;
use gradus_optim::{Optimizer, Schedule, Sgd};
use gradus_tensor::{DType, Rng, Tensor};
use gradus_train::parallel::DataParallel;
use gradus_train::task::{Targets, Task};
use gradus_train::{TrainOptions, Trainer};
use std::path::Path;
use std::sync::Arc;

/// 50 samples (the batches of 16 leave a last one of 2) of 3 features: 4 classes from the
/// features' signs, or y = x0 - 2 x1 + x2 and its double as two regression targets.
fn data(task: &Task) -> Dataset {
    let x: Vec<f32> = Tensor::randn(&[50, 3], DType::F32, 21).to_vec().unwrap();
    let targets = match task {
        Task::Regression { .. } => gradus_data::Targets::Values {
            values: x
                .chunks(3)
                .flat_map(|r| {
                    let y = r[0] - 2.0 * r[1] + r[2];
                    [y, 2.0 * y]
                })
                .collect(),
            dim: 2,
        },
        _ => gradus_data::Targets::Classes {
            labels: x
                .chunks(3)
                .map(|r| (r[0] > 0.0) as u32 + 2 * (r[1] > 0.0) as u32)
                .collect(),
            num_classes: 4,
        },
    };
    Dataset::new(x, vec![3], targets).unwrap()
}

fn trainer(task: Task, noise_scale: bool, parallel: Option<DataParallel>) -> Trainer {
    let outputs = match task {
        Task::Classification { classes } => classes,
        Task::Regression { outputs } => outputs,
        Task::Binary => 1,
    };
    let model = Mlp::new(&[3, 8, outputs], Activation::Tanh, &mut Rng::seed(5));
    model.cast(DType::F64).unwrap();
    // lr 0: the model is the same at every batch of the epoch and at its end
    let optimizer = Optimizer::with_params(Sgd::new(0.0), &model.parameters()).unwrap();
    Trainer {
        model: Box::new(model),
        optimizer,
        schedule: Schedule::Constant(0.0),
        plateau: None,
        task,
        options: TrainOptions {
            epochs: 2,
            batch: BatchMode::MiniBatch {
                size: 16,
                drop_last: false,
            },
            seed: 3,
            dtype: DType::F64,
            quiet: true,
            noise_scale,
            parallel,
            ..TrainOptions::default()
        },
        model_metadata: Default::default(),
    }
}

/// Column `name` of `dir/metrics.csv`, one value per epoch.
fn column(dir: &Path, name: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = header.iter().position(|h| *h == name).unwrap();
    lines
        .map(|l| l.split(',').nth(at).unwrap().parse().unwrap())
        .collect()
}

fn check(task: Task) {
    let data = data(&task);
    let names: Vec<String> = task
        .metrics_from_sums(&[])
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let full = trainer(task, false, None).evaluate(&data).unwrap().1;
    let runs: [(&str, bool, usize); 3] = [
        ("one process", false, 1),
        ("micro-batches", true, 1),
        ("two ranks", false, 2),
    ];
    for (what, noise_scale, ranks) in runs {
        let dir = tempfile::tempdir().unwrap();
        if ranks == 1 {
            trainer(task, noise_scale, None)
                .fit(&data, None, dir.path(), false)
                .unwrap();
        } else {
            LocalGroup::run(ranks, |c| {
                let p = DataParallel::new(Arc::new(c), GradientReducer::default());
                trainer(task, false, Some(p))
                    .fit(&data, None, dir.path(), false)
                    .unwrap();
            });
        }
        for name in &names {
            let expected = full.iter().find(|(n, _)| n == name).unwrap().1;
            for got in column(dir.path(), name) {
                assert!(
                    (got - expected).abs() <= 1e-9 * expected.abs().max(1.0),
                    "{what}: {name} {got} from the batches, {expected} from a full pass"
                );
            }
        }
    }
}

#[test]
fn classification_accuracy_from_the_batches_equals_a_full_pass() {
    check(Task::Classification { classes: 4 });
}

#[test]
fn regression_rmse_and_r2_from_the_batches_equal_a_full_pass() {
    check(Task::Regression { outputs: 2 });
}

#[test]
fn sums_over_batches_add_up_to_the_metrics_of_all_of_them() {
    let task = Task::Regression { outputs: 1 };
    let p = Tensor::from_vec(vec![1.0f64, 2.5, -1.0, 4.0, 0.5], &[5, 1]).unwrap();
    let t = Tensor::from_vec(vec![1.5f64, 2.0, -2.0, 3.0, 1.0], &[5, 1]).unwrap();
    let whole = task.metrics(&p, &Targets::Values(t.clone())).unwrap();
    let mut sums = vec![0.0; task.metric_sums_len()];
    for (start, len) in [(0, 2), (2, 3)] {
        let part = task
            .metric_sums(
                &p.narrow(0, start, len).unwrap(),
                &Targets::Values(t.narrow(0, start, len).unwrap()),
            )
            .unwrap();
        for (a, b) in sums.iter_mut().zip(part) {
            *a += b;
        }
    }
    for ((n, a), (m, b)) in whole.iter().zip(task.metrics_from_sums(&sums)) {
        assert_eq!(n, &m);
        assert!((a - b).abs() < 1e-12, "{n}: {a} against {b}");
    }
    // targets that do not vary: R² is 0, as from a full pass, not rounding noise over ~0
    let flat = Tensor::from_vec(vec![0.1f64; 5], &[5, 1]).unwrap();
    let sums = task.metric_sums(&p, &Targets::Values(flat)).unwrap();
    assert_eq!(task.metrics_from_sums(&sums)[1], ("r2".to_string(), 0.0));
}
