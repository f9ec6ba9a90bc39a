//! The trainer on real data reaches known optima: least squares in closed form, and L2-regularized
//! logistic regression as found by L-BFGS; every batch mode converges.

use gradus_data::{csv, BatchMode, Dataset, Standardizer, TargetKind};
use gradus_nn::layers::Linear;
use gradus_nn::Module;
use gradus_optim::{Lbfgs, Optimizer, Schedule, Sgd};
use gradus_tensor::{DType, Rng, Tensor};
use gradus_train::task::Task;
use gradus_train::{TrainOptions, Trainer};
use std::collections::BTreeMap;

fn data(file: &str, target: &str, kind: TargetKind) -> Dataset {
    let path = format!("{}/../../data/{file}", env!("CARGO_MANIFEST_DIR"));
    let mut ds = csv::read_csv(&path, &csv::CsvOptions::new(target, kind)).unwrap();
    Standardizer::fit(&ds).unwrap().transform(&mut ds).unwrap();
    ds
}

fn linear(inputs: usize, outputs: usize) -> Box<dyn Module> {
    let m = Linear::new(inputs, outputs, true, &mut Rng::seed(1));
    m.cast(DType::F64).unwrap();
    Box::new(m)
}

fn train(
    model: Box<dyn Module>,
    sgd: Sgd,
    task: Task,
    ds: &Dataset,
    epochs: usize,
    batch: BatchMode,
) -> Trainer {
    let params: Vec<Tensor> = model.parameters().iter().map(|p| p.tensor()).collect();
    let optimizer = Optimizer::new(sgd, &params).unwrap();
    let options = TrainOptions {
        epochs,
        batch,
        dtype: DType::F64,
        quiet: true,
        checkpoint_every: 0,
        ..TrainOptions::default()
    };
    let mut t = Trainer {
        model,
        optimizer,
        schedule: Schedule::Constant(0.0),
        plateau: None,
        task,
        options,
        model_metadata: BTreeMap::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    t.fit(ds, None, dir.path(), false).unwrap();
    t
}

fn full_loss(t: &Trainer, ds: &Dataset) -> f64 {
    t.evaluate(ds).unwrap().0
}

/// Mean squared error of the least-squares line through standardized x (closed form).
fn least_squares_mse(ds: &Dataset) -> f64 {
    let x: Vec<f64> = ds.features().iter().map(|&v| v as f64).collect();
    let y: Vec<f64> = ds
        .targets()
        .values()
        .unwrap()
        .iter()
        .map(|&v| v as f64)
        .collect();
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxy: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
    let slope = sxy / sxx;
    let icpt = my - slope * mx;
    x.iter()
        .zip(&y)
        .map(|(a, b)| (icpt + slope * a - b).powi(2))
        .sum::<f64>()
        / n
}

#[test]
fn batch_gradient_descent_reaches_the_least_squares_optimum() {
    let ds = data("house-prices.csv", "price", TargetKind::Value);
    let t = train(
        linear(1, 1),
        Sgd::new(0.5),
        Task::Regression { outputs: 1 },
        &ds,
        200,
        BatchMode::Full,
    );
    let (got, best) = (full_loss(&t, &ds), least_squares_mse(&ds));
    assert!(
        (got - best).abs() <= 1e-6 * best,
        "loss {got} vs optimum {best}"
    );
}

#[test]
fn stochastic_and_mini_batch_modes_converge_too() {
    let ds = data("house-prices.csv", "price", TargetKind::Value);
    let best = least_squares_mse(&ds);
    for (mode, lr, epochs) in [
        (BatchMode::Stochastic, 0.01, 60),
        (
            BatchMode::MiniBatch {
                size: 8,
                drop_last: false,
            },
            0.05,
            150,
        ),
    ] {
        // decaying steps remove the noise floor of sampled gradients
        let steps_per_epoch = mode.batches_per_epoch(ds.len()) as u64;
        let sgd = Sgd::new(Schedule::step(lr, steps_per_epoch * 10, 0.5).unwrap());
        let t = train(
            linear(1, 1),
            sgd,
            Task::Regression { outputs: 1 },
            &ds,
            epochs,
            mode,
        );
        let got = full_loss(&t, &ds);
        assert!(
            (got - best) / best < 1e-3,
            "{mode:?}: loss {got} vs optimum {best}"
        );
    }
}

/// f(w, b) = mean BCE(Xw + b, y) + lambda/2 ||(w, b)||^2, minimized by L-BFGS (strong Wolfe).
fn regularized_logistic_optimum(ds: &Dataset, lambda: f64) -> f64 {
    let d = ds.feature_len();
    let x = Tensor::from_vec(
        ds.features().iter().map(|&v| v as f64).collect(),
        &[ds.len(), d],
    )
    .unwrap();
    let y: Vec<f64> = ds
        .targets()
        .labels()
        .unwrap()
        .iter()
        .map(|&l| l as f64)
        .collect();
    let y = Tensor::from_vec(y, &[ds.len(), 1]).unwrap();
    let theta = Tensor::zeros(&[d + 1], DType::F64).requires_grad_(true);
    let objective = || -> gradus_tensor::Result<Tensor> {
        let w = theta.narrow(0, 0, d)?.reshape(&[d, 1])?;
        let z = x.matmul(&w)?.add(&theta.narrow(0, d, 1)?)?;
        let bce = gradus_nn::loss::bce_with_logits(&z, &y, gradus_nn::loss::Reduction::Mean)?;
        bce.add(&theta.mul(&theta)?.sum_all()?.mul_scalar(lambda / 2.0)?)
    };
    let mut lbfgs = Lbfgs::new(std::slice::from_ref(&theta))
        .max_iter(500)
        .tolerance_grad(1e-12)
        .tolerance_change(1e-16);
    lbfgs
        .step(|| {
            theta.set_grad(None);
            let l = objective()?;
            l.backward()?;
            Ok(l.item()?)
        })
        .unwrap();
    objective().unwrap().item().unwrap()
}

#[test]
fn l2_regularized_logistic_regression_reaches_the_lbfgs_optimum() {
    let ds = data("sklearn/breast_cancer.csv", "target", TargetKind::Class);
    let lambda = 0.01;
    let best = regularized_logistic_optimum(&ds, lambda);
    // full-batch gradient descent with Nesterov momentum; SGD's weight_decay adds lambda * theta
    let sgd = Sgd::new(0.5)
        .momentum(0.9)
        .nesterov(true)
        .weight_decay(lambda);
    let t = train(
        linear(ds.feature_len(), 1),
        sgd,
        Task::Binary,
        &ds,
        1500,
        BatchMode::Full,
    );
    let theta: Vec<f64> = t
        .model
        .parameters()
        .iter()
        .flat_map(|p| p.tensor().to_vec_f64())
        .collect();
    let penalty = lambda / 2.0 * theta.iter().map(|v| v * v).sum::<f64>();
    let got = full_loss(&t, &ds) + penalty;
    assert!(
        (got - best).abs() <= 1e-6 * best,
        "regularized loss {got} vs optimum {best}"
    );
}
