//! A full-batch run is plain gradient descent on the whole training set in its natural order:
//! the trainer gathers the rows once and steps on the same batch every epoch. The noise-scale
//! estimate, which splits each batch into two halves, shuffles it as it shuffles mini-batches.

use gradus_data::{BatchMode, Dataset, Targets as HostTargets};
use gradus_nn::layers::Linear;
use gradus_nn::Module;
use gradus_optim::{Optimizer, Schedule, Sgd};
use gradus_tensor::{DType, Rng, Tensor};
use gradus_train::task::{Targets, Task};
use gradus_train::{TrainOptions, Trainer};
use std::collections::BTreeMap;

/// `n` samples of 3 features and 2 regression outputs.
fn data(n: usize, seed: u64) -> Dataset {
    let x = Tensor::randn(&[n, 3], DType::F32, seed)
        .to_vec::<f32>()
        .unwrap();
    let y = (0..n)
        .flat_map(|i| [x[3 * i] - 2.0 * x[3 * i + 2], 0.5 * x[3 * i + 1] + 1.0])
        .collect();
    Dataset::new(x, vec![3], HostTargets::Values { values: y, dim: 2 }).unwrap()
}

fn model() -> Box<dyn Module> {
    let m: Box<dyn Module> = Box::new(Linear::new(3, 2, true, &mut Rng::seed(4)));
    m.cast(DType::F64).unwrap();
    m
}

fn params(m: &dyn Module) -> Vec<f64> {
    m.parameters()
        .iter()
        .flat_map(|p| p.tensor().to_vec_f64())
        .collect()
}

/// Six epochs of SGD (lr 0.1, seed 9) in batch mode `batch`: the trained parameters.
fn fit(train: &Dataset, val: Option<&Dataset>, batch: BatchMode, noise_scale: bool) -> Vec<f64> {
    let m = model();
    let tensors: Vec<Tensor> = m.parameters().iter().map(|p| p.tensor()).collect();
    let mut t = Trainer {
        model: m,
        optimizer: Optimizer::new(Sgd::new(0.1), &tensors).unwrap(),
        schedule: Schedule::Constant(0.1),
        plateau: None,
        task: Task::Regression { outputs: 2 },
        options: TrainOptions {
            epochs: 6,
            batch,
            dtype: DType::F64,
            noise_scale,
            seed: 9,
            quiet: true,
            ..TrainOptions::default()
        },
        model_metadata: BTreeMap::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let summary = t.fit(train, val, dir.path(), false).unwrap();
    assert_eq!(summary.steps, 6);
    params(t.model.as_ref())
}

#[test]
fn a_full_batch_run_is_gradient_descent_on_the_rows_in_order() {
    let (train, val) = (data(50, 1), data(20, 2));
    let trained = fit(&train, Some(&val), BatchMode::Full, false);

    // the same six steps by hand, on every row in order
    let task = Task::Regression { outputs: 2 };
    let m = model();
    let tensors: Vec<Tensor> = m.parameters().iter().map(|p| p.tensor()).collect();
    let mut sgd = Optimizer::new(Sgd::new(0.1), &tensors).unwrap();
    let x = Tensor::from_vec(train.features().to_vec(), &[50, 3])
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap();
    let y = Tensor::from_vec(train.targets().values().unwrap().to_vec(), &[50, 2])
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap();
    for _ in 0..6 {
        let loss = task
            .loss(&m.forward(&x).unwrap(), &Targets::Values(y.clone()))
            .unwrap();
        loss.backward().unwrap();
        sgd.step().unwrap();
        sgd.zero_grad();
    }
    assert_eq!(trained, params(m.as_ref()));
}

#[test]
fn the_noise_scale_halves_of_a_full_batch_are_random_rows() {
    // one mini-batch of every row is shuffled each epoch: the full batch with the noise-scale
    // estimate must take the same halves (not the first and the second half of the file)
    let train = data(50, 1);
    let one_batch = BatchMode::MiniBatch {
        size: 50,
        drop_last: false,
    };
    let full = fit(&train, None, BatchMode::Full, true);
    assert_eq!(full, fit(&train, None, one_batch, true));
    let in_order = fit(&train, None, BatchMode::Full, false);
    assert_ne!(full, in_order, "the shuffled halves sum in another order");
}
