//! The learning-rate range test on the breast-cancer logistic regression (data shipped in
//! `data/sklearn`): its suggestion must lie inside the range of fixed rates that converge, a range
//! this test measures itself by training at fixed rates on a grid, independently of the finder.

use gradus_data::csv::{read_csv, CsvOptions, TargetKind};
use gradus_data::{BatchMode, Batcher, Dataset, Standardizer};
use gradus_nn::{layers::Linear, Module};
use gradus_optim::{Optimizer, Schedule, Sgd};
use gradus_tensor::{autodiff::no_grad, DType, Rng};
use gradus_train::batch::to_device;
use gradus_train::lr_finder::{lr_range_test, LrFinderOptions};
use gradus_train::task::Task;

const BATCH: BatchMode = BatchMode::MiniBatch {
    size: 32,
    drop_last: false,
};
/// Epochs of a fixed-rate run.
const EPOCHS: u64 = 5;
/// A run converged when its mean training loss ends below this (it starts near ln 2 = 0.69; the
/// best logistic fit of this data is near 0.05).
const CONVERGED: f64 = 0.15;

fn breast_cancer() -> Dataset {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/sklearn/breast_cancer.csv"
    );
    let mut data = read_csv(path, &CsvOptions::new("target", TargetKind::Class)).unwrap();
    Standardizer::fit(&data)
        .unwrap()
        .transform(&mut data)
        .unwrap();
    data
}

fn model() -> Linear {
    Linear::new(30, 1, true, &mut Rng::seed(7))
}

fn sgd(lr: Schedule) -> Sgd {
    Sgd::new(lr)
}

/// Mean training loss after `EPOCHS` epochs of SGD at the fixed rate `lr` (infinite if it blew
/// up).
fn fixed_rate_loss(data: &Dataset, lr: f64) -> f64 {
    let m = model();
    let mut opt = Optimizer::with_named_params(sgd(lr.into()), &m.named_parameters()).unwrap();
    let batcher = Batcher::new(data.len(), BATCH).unwrap().shuffled(3);
    for epoch in 0..EPOCHS {
        for idx in batcher.epoch(epoch) {
            let b = to_device(data, &idx, &Task::Binary, DType::F32).unwrap();
            let loss = Task::Binary.loss(&m.forward(&b.x).unwrap(), &b.y).unwrap();
            if !loss.item().unwrap().is_finite() {
                return f64::INFINITY;
            }
            loss.backward().unwrap();
            opt.step().unwrap();
            opt.zero_grad();
        }
    }
    let all: Vec<usize> = (0..data.len()).collect();
    let b = to_device(data, &all, &Task::Binary, DType::F32).unwrap();
    let loss = no_grad(|| Task::Binary.loss(&m.forward(&b.x).unwrap(), &b.y).unwrap());
    let v = loss.item().unwrap();
    if v.is_finite() {
        v
    } else {
        f64::INFINITY
    }
}

#[test]
fn suggestion_lies_in_the_range_where_fixed_rate_runs_converge() {
    let data = breast_cancer();
    let m = model();
    let before: Vec<Vec<f64>> = m
        .named_parameters()
        .iter()
        .map(|(_, p)| p.tensor().to_vec_f64())
        .collect();
    let options = LrFinderOptions {
        end_lr: 1e3,
        ..LrFinderOptions::default()
    };
    let t = lr_range_test(
        &m,
        &Task::Binary,
        &data,
        BATCH,
        DType::F32,
        |lr| {
            Ok(Optimizer::with_named_params(
                sgd(lr),
                &m.named_parameters(),
            )?)
        },
        &options,
    )
    .unwrap();
    // the weights are put back
    let after: Vec<Vec<f64>> = m
        .named_parameters()
        .iter()
        .map(|(_, p)| p.tensor().to_vec_f64())
        .collect();
    assert_eq!(before, after);
    assert!(t.diverged, "the loss should blow up before lr = 1e3: {t:?}");
    let stop = *t.lrs.last().unwrap();

    // the converging range, measured on a grid of fixed rates 1e-4 .. 1e3 (half decades)
    let grid: Vec<f64> = (0..=14)
        .map(|i| 10f64.powf(-4.0 + 0.5 * i as f64))
        .collect();
    let losses: Vec<f64> = grid.iter().map(|&r| fixed_rate_loss(&data, r)).collect();
    let converges: Vec<bool> = losses.iter().map(|&l| l < CONVERGED).collect();
    let report = format!(
        "suggested {:.3e} (steepest {:?}, min/10 {:.3e}), stopped at {stop:.3e}; grid {:?}",
        t.suggested_lr,
        t.steepest_lr,
        t.min_lr / 10.0,
        grid.iter().zip(&losses).collect::<Vec<_>>()
    );
    eprintln!("{report}");
    // the range is bounded on both sides, so that lying inside it means something
    assert!(!converges[0] && !converges[grid.len() - 1], "{report}");
    let lo = grid[converges.iter().position(|&c| c).expect(&report)];
    let hi = grid[converges.iter().rposition(|&c| c).unwrap()];
    assert!(
        lo <= t.suggested_lr && t.suggested_lr <= hi,
        "suggestion outside [{lo:e}, {hi:e}]: {report}"
    );
    // the suggested rate itself converges; 100x the rate where the test stopped does not
    assert!(
        fixed_rate_loss(&data, t.suggested_lr) < CONVERGED,
        "{report}"
    );
    assert!(
        fixed_rate_loss(&data, 100.0 * stop) >= CONVERGED,
        "{report}"
    );
}

#[test]
fn invalid_options_are_refused_naming_them() {
    let data = breast_cancer();
    let m = model();
    let options = LrFinderOptions {
        start_lr: 1.0,
        end_lr: 0.1,
        ..LrFinderOptions::default()
    };
    let e = lr_range_test(
        &m,
        &Task::Binary,
        &data,
        BATCH,
        DType::F32,
        |lr| {
            Ok(Optimizer::with_named_params(
                sgd(lr),
                &m.named_parameters(),
            )?)
        },
        &options,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("start_lr") && e.contains("end_lr"), "{e}");
}
