//! On linear least squares the Hessian is `2/n · X̃ᵀX̃`: the matrix-free measures on a `Linear`
//! model trained on nothing (the Hessian does not depend on the weights) must match faer's dense
//! eigendecomposition of the explicitly formed matrix, on the diabetes data, cut into uneven
//! batches so that the weighting of batch losses is exercised too.

mod common;

use common::{dense_eigen, dense_hessian, diabetes_model, rel};
use gradus_analysis::model_objective::{first_batches, model_objective};
use gradus_analysis::slq::{broaden, slq, DensityOptions, Quadrature};
use gradus_analysis::{hutchinson::hutchinson_trace, lanczos, vector};
use gradus_data::BatchMode;
use gradus_tensor::{DType, Rng};
use gradus_train::task::Task;

const TASK: Task = Task::Regression { outputs: 1 };

fn batches(n: usize) -> Vec<Vec<usize>> {
    // 442 rows in batches of 100: four full and one of 42
    let b = first_batches(
        n,
        BatchMode::MiniBatch {
            size: 100,
            drop_last: false,
        },
        10,
    )
    .unwrap();
    assert_eq!(b.len(), 5);
    b
}

#[test]
fn top_and_smallest_eigenvalues_match_the_dense_hessian() {
    let (data, model, n, d) = diabetes_model();
    let f = model_objective(&model, &TASK, &data, &batches(n), DType::F64).unwrap();
    assert_eq!(f.dim(), d + 1);
    let (dense, _) = dense_eigen(&dense_hessian());
    let ext = lanczos::extreme_eigenvalues(&f, 3, d + 1, 7).unwrap();
    for (i, e) in ext.top.iter().enumerate() {
        let want = dense[d - i];
        assert!(
            rel(e.value, want) < 1e-6,
            "top {i}: {} vs dense {want}",
            e.value
        );
    }
    assert!(
        rel(ext.smallest.value, dense[0]) < 1e-6,
        "{} vs {}",
        ext.smallest.value,
        dense[0]
    );
}

#[test]
fn full_length_lanczos_recovers_the_whole_spectrum_and_the_trace() {
    let (data, model, n, d) = diabetes_model();
    let f = model_objective(&model, &TASK, &data, &batches(n), DType::F64).unwrap();
    let h = dense_hessian();
    let (dense, _) = dense_eigen(&h);
    let trace: f64 = (0..=d).map(|i| h[(i, i)]).sum();
    let start = vector::gaussian(&f.values(), &mut Rng::seed(3)).unwrap();
    let ritz = lanczos::lanczos(&f, &start, d + 1).unwrap().ritz().unwrap();
    assert_eq!(
        ritz.values.len(),
        d + 1,
        "the eigenvalues are distinct: no early breakdown"
    );
    for (got, want) in ritz.values.iter().zip(&dense) {
        assert!(rel(*got, *want) < 1e-6, "{got} vs dense {want}");
    }
    let sum: f64 = ritz.values.iter().sum();
    assert!(
        rel(sum, trace) < 1e-6,
        "Σ Ritz values {sum} vs tr H {trace}"
    );
}

#[test]
fn slq_density_matches_the_dense_quadrature_of_the_same_probes() {
    let (data, model, n, d) = diabetes_model();
    let f = model_objective(&model, &TASK, &data, &batches(n), DType::F64).unwrap();
    let (dense, u) = dense_eigen(&dense_hessian());
    let options = DensityOptions {
        probes: 3,
        steps: d + 1,
        bins: 400,
        seed: 11,
        ..DensityOptions::default()
    };
    let got = slq(&f, &options).unwrap();
    // the same probes, drawn as slq draws them; the exact quadrature of probe z puts weight
    // (uᵢᵀz)² / ‖z‖² on each eigenvalue λᵢ
    let mut rng = Rng::seed(options.seed);
    let exact: Vec<Quadrature> = (0..options.probes)
        .map(|_| {
            let z = vector::rademacher(&f.values(), &mut rng).unwrap();
            let flat: Vec<f64> = z.iter().flat_map(|t| t.to_vec::<f64>().unwrap()).collect();
            let norm2: f64 = flat.iter().map(|v| v * v).sum();
            let weights = (0..=d)
                .map(|i| (0..=d).map(|k| u[(k, i)] * flat[k]).sum::<f64>().powi(2) / norm2)
                .collect();
            Quadrature {
                nodes: dense.clone(),
                weights,
            }
        })
        .collect();
    let want = broaden(exact, &options).unwrap();
    assert_eq!(got.grid.len(), want.grid.len());
    for (a, b) in got.grid.iter().zip(&want.grid) {
        assert!((a - b).abs() <= 1e-6 * b.abs().max(1e-3), "grid {a} vs {b}");
    }
    let peak = want.density.iter().cloned().fold(0.0, f64::max);
    let worst = got
        .density
        .iter()
        .zip(&want.density)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        worst <= 1e-6 * peak,
        "density differs by {worst} (peak {peak})"
    );
    let step = want.grid[1] - want.grid[0];
    let mass: f64 = got.density.iter().sum::<f64>() * step;
    assert!(
        (mass - 1.0).abs() < 1e-12,
        "the density integrates to {mass}"
    );
    // each probe's weights are the squared components of a unit vector
    for q in &got.quadratures {
        assert!((q.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}

#[test]
fn per_layer_blocks_are_the_weight_gram_and_the_bias_curvature() {
    let (data, model, n, d) = diabetes_model();
    let f = model_objective(&model, &TASK, &data, &batches(n), DType::F64).unwrap();
    assert_eq!(f.names(), &["weight".to_string(), "bias".to_string()]);
    let h = dense_hessian();
    let block = faer::Mat::from_fn(d, d, |i, j| h[(i, j)]);
    let (dense_w, _) = dense_eigen(&block);
    let w = lanczos::extreme_eigenvalues(&f.block(0).unwrap(), 1, d, 5).unwrap();
    assert!(
        rel(w.top[0].value, dense_w[d - 1]) < 1e-6,
        "{} vs {}",
        w.top[0].value,
        dense_w[d - 1]
    );
    // the bias block is 2/n · Σ 1 = 2
    let b = lanczos::extreme_eigenvalues(&f.block(1).unwrap(), 1, 1, 5).unwrap();
    assert!(rel(b.top[0].value, 2.0) < 1e-12, "{}", b.top[0].value);
}

#[test]
fn hutchinson_trace_lies_within_four_standard_deviations_of_the_exact_trace() {
    let (data, model, n, d) = diabetes_model();
    let f = model_objective(&model, &TASK, &data, &batches(n), DType::F64).unwrap();
    let h = dense_hessian();
    let trace: f64 = (0..=d).map(|i| h[(i, i)]).sum();
    // for Rademacher probes Var(zᵀHz) = 2 Σ_{i≠j} H_ij², so the mean of p probes has
    // standard deviation √(2 Σ_{i≠j} H_ij² / p)
    let off: f64 = (0..=d)
        .flat_map(|i| (0..=d).filter(move |&j| j != i).map(move |j| (i, j)))
        .map(|(i, j)| h[(i, j)] * h[(i, j)])
        .sum();
    let probes = 100;
    let sd = (2.0 * off / probes as f64).sqrt();
    let t = hutchinson_trace(&f, probes, 2024).unwrap();
    assert_eq!(t.probes, probes);
    assert!(
        (t.trace - trace).abs() <= 4.0 * sd,
        "Hutchinson {} vs tr H {trace} (sd {sd})",
        t.trace
    );
    // the reported standard error estimates the same spread
    assert!(
        t.std_error > 0.25 * sd && t.std_error < 4.0 * sd,
        "{} vs {sd}",
        t.std_error
    );
}
