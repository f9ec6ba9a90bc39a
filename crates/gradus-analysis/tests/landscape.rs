//! Loss landscapes on diabetes least squares, where the loss is exactly quadratic: the surface
//! along two directions must equal `L + α gᵀd₁ + β gᵀd₂ + ½(α²d₁ᵀHd₁ + 2αβ d₁ᵀHd₂ + β²d₂ᵀHd₂)`
//! built from the gradient and Hessian-vector products; the segment between two weight sets is a
//! parabola through both ends.

mod common;

use common::diabetes_model;
use gradus_analysis::landscape::{directions, interpolate, surface};
use gradus_analysis::model_objective::{first_batches, model_objective};
use gradus_analysis::vector::{axpy, dot, gaussian};
use gradus_data::BatchMode;
use gradus_tensor::{DType, Rng};
use gradus_train::task::Task;

const TASK: Task = Task::Regression { outputs: 1 };

#[test]
fn the_surface_of_a_quadratic_loss_is_its_second_order_expansion() {
    let (data, model, n, _) = diabetes_model();
    let batches = first_batches(
        n,
        BatchMode::MiniBatch {
            size: 128,
            drop_last: false,
        },
        9,
    )
    .unwrap();
    let f = model_objective(&model, &TASK, &data, &batches, DType::F64).unwrap();
    let before = f.values();
    let s = surface(&f, 5, 1.0, 42).unwrap();
    assert_eq!(s.coordinates, vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
    let (d1, d2) = directions(&f, 42).unwrap();
    // the bias (1-D) is left out of the directions, the weight row keeps its norm
    assert_eq!(d1[1].to_vec::<f64>().unwrap(), vec![0.0]);
    let norm = |t: &gradus_tensor::Tensor| t.sum_squares().unwrap().item().unwrap().sqrt();
    assert!((norm(&d1[0]) - norm(&before[0])).abs() < 1e-9 * norm(&before[0]));
    let (l, g) = (f.loss().unwrap(), f.gradient().unwrap());
    let (h1, h2) = (f.hvp(&d1).unwrap(), f.hvp(&d2).unwrap());
    let (g1, g2) = (dot(&g, &d1).unwrap(), dot(&g, &d2).unwrap());
    let (a11, a12, a22) = (
        dot(&d1, &h1).unwrap(),
        dot(&d1, &h2).unwrap(),
        dot(&d2, &h2).unwrap(),
    );
    for (j, &b) in s.coordinates.iter().enumerate() {
        for (i, &a) in s.coordinates.iter().enumerate() {
            let want = l + a * g1 + b * g2 + 0.5 * (a * a * a11 + 2.0 * a * b * a12 + b * b * a22);
            let got = s.losses[j][i];
            assert!(
                (got - want).abs() <= 1e-9 * want.abs(),
                "({a}, {b}): {got} vs {want}"
            );
        }
    }
    // the weights are back
    for (x, y) in f.values().iter().zip(&before) {
        assert_eq!(x.to_vec::<f64>().unwrap(), y.to_vec::<f64>().unwrap());
    }
}

#[test]
fn interpolation_between_two_weight_sets_is_the_parabola_through_them() {
    let (data, model, n, _) = diabetes_model();
    let batches = first_batches(n, BatchMode::Full, 1).unwrap();
    let f = model_objective(&model, &TASK, &data, &batches, DType::F64).unwrap();
    let start = f.values();
    let end = axpy(&start, 1.0, &gaussian(&start, &mut Rng::seed(9)).unwrap()).unwrap();
    let alphas = [-0.5, 0.0, 0.5, 1.0, 1.5];
    let line = interpolate(&f, &start, &end, &alphas).unwrap();
    let l0 = f.loss().unwrap();
    assert_eq!(line.losses[1], l0);
    // L(start + α δ) = L0 + α gᵀδ + ½ α² δᵀHδ
    let delta = axpy(&end, -1.0, &start).unwrap();
    let gd = dot(&f.gradient().unwrap(), &delta).unwrap();
    let dhd = dot(&delta, &f.hvp(&delta).unwrap()).unwrap();
    for (a, got) in alphas.iter().zip(&line.losses) {
        let want = l0 + a * gd + 0.5 * a * a * dhd;
        assert!(
            (got - want).abs() <= 1e-9 * want.abs(),
            "α {a}: {got} vs {want}"
        );
    }
}
