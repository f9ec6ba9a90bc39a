//! The gradient noise scale in training: on one process from two micro-batches per step (which
//! must not change the step), data parallel from the ranks' gradients; either way in
//! `metrics.csv`'s `noise_scale` column. (The estimator itself is checked against a known noise
//! scale in `src/noise_scale.rs`.)

use gradus_data::{BatchMode, Dataset, Targets};
use gradus_dist::{GradientReducer, LocalGroup};
use gradus_nn::layers::Activation;
use gradus_nn::models::Mlp;
use gradus_nn::Module;
use gradus_optim::{Optimizer, Schedule, Sgd};
use gradus_tensor::{DType, Rng, Tensor};
use gradus_train::parallel::DataParallel;
use gradus_train::task::Task;
use gradus_train::{TrainOptions, Trainer};
use std::path::Path;
use std::sync::Arc;

/// 64 noisy samples of y = 2 x0 - x1 (a strong signal under the noise at the start).
fn data() -> Dataset {
    let x: Vec<f32> = Tensor::randn(&[64, 2], DType::F32, 11).to_vec().unwrap();
    let noise: Vec<f32> = Tensor::randn(&[64], DType::F32, 12).to_vec().unwrap();
    let y: Vec<f32> = x
        .chunks(2)
        .zip(&noise)
        .map(|(r, e)| 2.0 * r[0] - r[1] + 0.5 * e)
        .collect();
    Dataset::new(x, vec![2], Targets::Values { values: y, dim: 1 }).unwrap()
}

fn trainer(noise_scale: bool, parallel: Option<DataParallel>) -> Trainer {
    let model = Mlp::new(&[2, 8, 1], Activation::Tanh, &mut Rng::seed(5));
    model.cast(DType::F64).unwrap();
    let optimizer = Optimizer::with_params(Sgd::new(0.05), &model.parameters()).unwrap();
    Trainer {
        model: Box::new(model),
        optimizer,
        schedule: Schedule::Constant(0.05),
        plateau: None,
        task: Task::Regression { outputs: 1 },
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

fn params(t: &Trainer) -> Vec<f64> {
    t.model
        .parameters()
        .iter()
        .flat_map(|p| p.tensor().to_vec_f64())
        .collect()
}

/// The `noise_scale` column of `dir/metrics.csv`, if it has one.
fn noise_column(dir: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = header.iter().position(|h| *h == "noise_scale")?;
    Some(
        lines
            .map(|l| l.split(',').nth(at).unwrap().to_string())
            .collect(),
    )
}

fn positive(cells: &[String]) -> bool {
    cells
        .iter()
        .all(|c| c.parse::<f64>().is_ok_and(|v| v.is_finite() && v > 0.0))
}

#[test]
fn micro_batches_measure_the_noise_scale_without_changing_the_steps() {
    let data = data();
    let (plain_dir, split_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut plain = trainer(false, None);
    plain.fit(&data, None, plain_dir.path(), false).unwrap();
    let mut split = trainer(true, None);
    split.fit(&data, None, split_dir.path(), false).unwrap();
    let (a, b) = (params(&plain), params(&split));
    let diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    assert!(
        diff < 1e-12,
        "the split step moved the parameters by {diff}"
    );
    assert_eq!(noise_column(plain_dir.path()), None, "not asked for");
    let cells = noise_column(split_dir.path()).expect("a noise_scale column");
    assert_eq!(cells.len(), 2);
    assert!(positive(&cells), "B_simple per epoch: {cells:?}");
}

#[test]
fn data_parallel_ranks_measure_the_noise_scale() {
    let data = data();
    let dir = tempfile::tempdir().unwrap();
    std::thread::scope(|s| {
        for c in LocalGroup::new(2) {
            let (data, out) = (&data, dir.path());
            s.spawn(move || {
                let p = DataParallel::new(Arc::new(c), GradientReducer::default());
                trainer(false, Some(p)).fit(data, None, out, false).unwrap();
            });
        }
    });
    let cells = noise_column(dir.path()).expect("a noise_scale column");
    assert!(positive(&cells), "B_simple per epoch: {cells:?}");
}
