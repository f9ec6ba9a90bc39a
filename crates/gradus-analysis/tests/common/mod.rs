//! Shared by the tests: the diabetes data (shipped in the repository's `data/sklearn`), a linear
//! model on it in f64, and the dense Hessian of its least-squares loss for comparison.
#![allow(dead_code)]

use faer::{Mat, Side};
use gradus_data::{Dataset, Targets};
use gradus_nn::{layers::Linear, Module};
use gradus_tensor::{DType, Device, Rng};

/// Features (as the f32 a `Dataset` holds), targets, rows and columns of `diabetes.csv`.
pub fn diabetes() -> (Vec<f32>, Vec<f32>, usize, usize) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/sklearn/diabetes.csv"
    );
    let text =
        std::fs::read_to_string(path).expect("data/sklearn/diabetes.csv ships with the repository");
    let mut lines = text.lines();
    let d = lines.next().unwrap().split(',').count() - 1;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for line in lines.filter(|l| !l.is_empty()) {
        let v: Vec<f32> = line.split(',').map(|s| s.parse().unwrap()).collect();
        x.extend_from_slice(&v[..d]);
        y.push(v[d]);
    }
    let n = y.len();
    (x, y, n, d)
}

/// The diabetes data as a regression `Dataset` and a `Linear(d, 1)` in f64.
pub fn diabetes_model() -> (Dataset, Linear, usize, usize) {
    let (x, y, n, d) = diabetes();
    let data = Dataset::new(x, vec![d], Targets::Values { values: y, dim: 1 }).unwrap();
    let model = Linear::new(d, 1, true, &mut Rng::seed(1));
    model.to(Device::Cpu, DType::F64).unwrap();
    (data, model, n, d)
}

/// `2/n · X̃ᵀX̃` with `X̃ = [X, 1]` (weight first, then bias, as `Linear` names them): the
/// Hessian of the mean squared error of a linear model.
pub fn dense_hessian() -> Mat<f64> {
    let (x, _, n, d) = diabetes();
    let col = |i: usize, j: usize| if j < d { x[i * d + j] as f64 } else { 1.0 };
    Mat::from_fn(d + 1, d + 1, |a, b| {
        2.0 / n as f64 * (0..n).map(|i| col(i, a) * col(i, b)).sum::<f64>()
    })
}

/// Eigenvalues (ascending) and eigenvectors (columns) of a dense symmetric matrix.
pub fn dense_eigen(h: &Mat<f64>) -> (Vec<f64>, Mat<f64>) {
    let e = h.self_adjoint_eigen(Side::Lower).unwrap();
    let s = e.S().column_vector();
    ((0..h.nrows()).map(|i| s[i]).collect(), e.U().to_owned())
}

pub fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}
