//! L-BFGS (strong Wolfe) and Newton reach the optimum of an L2-regularized logistic regression on
//! the breast-cancer data: both agree on the loss to 1e-8 and end with a gradient norm < 1e-6.

// Tensor handles are cheap reference-counted clones; `&[p.clone()]` reads better than
// `std::slice::from_ref(&p)` in tests.
#![allow(clippy::cloned_ref_to_slice_refs)]

mod common;

use gradus_optim::{Lbfgs, Newton};
use gradus_tensor::{autodiff, Tensor};

/// Standardized features [N, d] and 0/1 targets from the sklearn CSV (header, `target` last).
fn breast_cancer() -> (Tensor, Tensor) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/sklearn/breast_cancer.csv"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    assert_eq!(header.last(), Some(&"target"));
    let rows: Vec<Vec<f64>> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|v| v.trim().parse().unwrap()).collect())
        .collect();
    let (n, d) = (rows.len(), header.len() - 1);
    let mut x = vec![0.0; n * d];
    for j in 0..d {
        let mean = rows.iter().map(|r| r[j]).sum::<f64>() / n as f64;
        let std = (rows.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        for i in 0..n {
            x[i * d + j] = (rows[i][j] - mean) / std;
        }
    }
    let y = rows.iter().map(|r| r[d]).collect();
    (
        Tensor::from_vec(x, &[n, d]).unwrap(),
        Tensor::from_vec(y, &[n]).unwrap(),
    )
}

const LAMBDA: f64 = 1e-2;

/// Mean BCE + (lambda / 2) |w|^2 (the bias is not penalised).
fn loss(params: &Tensor, x: &Tensor, y: &Tensor) -> gradus_tensor::Result<Tensor> {
    let d = x.shape()[1];
    let w = params.narrow(0, 0, d)?;
    common::logistic(params, x, y)?.add(&w.mul(&w)?.sum_all()?.mul_scalar(LAMBDA / 2.0)?)
}

fn grad_norm(params: &Tensor, x: &Tensor, y: &Tensor) -> f64 {
    let p = params.detach().requires_grad_(true);
    let g = autodiff::grad(&loss(&p, x, y).unwrap(), &[&p], None, false)
        .unwrap()
        .remove(0);
    g.to_vec::<f64>()
        .unwrap()
        .iter()
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt()
}

#[test]
fn lbfgs_and_newton_reach_the_same_optimum() {
    let (x, y) = breast_cancer();
    let d = x.shape()[1];

    let p_lbfgs = Tensor::zeros(&[d + 1], gradus_tensor::DType::F64).requires_grad_(true);
    let mut lbfgs = Lbfgs::new(&[p_lbfgs.clone()])
        .max_iter(200)
        .tolerance_grad(1e-10)
        .tolerance_change(1e-14);
    for _ in 0..5 {
        lbfgs
            .step(|| {
                let l = loss(&p_lbfgs, &x, &y)?;
                l.backward()?;
                Ok(l.item()?)
            })
            .unwrap();
    }

    let p_newton = Tensor::zeros(&[d + 1], gradus_tensor::DType::F64);
    let newton = Newton::new();
    for _ in 0..20 {
        let (_, gnorm) = newton.step(&p_newton, |p| loss(p, &x, &y)).unwrap();
        if gnorm < 1e-10 {
            break;
        }
    }

    let l_lbfgs = loss(&p_lbfgs.detach(), &x, &y).unwrap().item().unwrap();
    let l_newton = loss(&p_newton, &x, &y).unwrap().item().unwrap();
    assert!(
        (l_lbfgs - l_newton).abs() < 1e-8,
        "L-BFGS loss {l_lbfgs} vs Newton {l_newton}"
    );
    let (g_lbfgs, g_newton) = (grad_norm(&p_lbfgs, &x, &y), grad_norm(&p_newton, &x, &y));
    assert!(g_lbfgs < 1e-6, "L-BFGS gradient norm {g_lbfgs}");
    assert!(g_newton < 1e-6, "Newton gradient norm {g_newton}");
    // The optimum is not the starting point (a test that cannot pass trivially).
    assert!(l_newton < 0.2, "loss at the optimum {l_newton}");
}

/// f(x) = x0^2 - x1^2 + x1^4: at (0, 0.1) the Hessian diag(2, -1.88) is indefinite.
fn saddle(x: &Tensor) -> gradus_tensor::Result<Tensor> {
    let (a, b) = (x.narrow(0, 0, 1)?, x.narrow(0, 1, 1)?);
    a.powf(2.0)?
        .sub(&b.powf(2.0)?)?
        .add(&b.powf(4.0)?)?
        .sum_all()
}

#[test]
fn newton_damps_an_indefinite_hessian_into_a_descent_step() {
    for (dtype, tol) in [
        (gradus_tensor::DType::F64, 1e-12),
        (gradus_tensor::DType::F32, 1e-6),
    ] {
        let x = Tensor::from_vec(vec![0.0f64, 0.1], &[2])
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        let (before, gnorm) = Newton::new().step(&x, saddle).unwrap();
        // g = (0, -0.196): the undamped step (0, -0.104) goes uphill; damping 1e-10, 1e-9, ...,
        // 1 still leaves H + damping I indefinite, 10 makes it positive definite, and the full
        // step passes the Armijo test
        assert!((before + 0.0099).abs() < tol, "{before}");
        assert!((gnorm - 0.196).abs() < tol, "{gnorm}");
        let got = x.to_vec_f64();
        let want = 0.1 + 0.196 / (10.0 - 1.88);
        assert!(
            got[0] == 0.0 && (got[1] - want).abs() < tol,
            "{dtype:?}: {got:?}"
        );
        assert!(saddle(&x).unwrap().item().unwrap() < before);
        assert_eq!(x.dtype(), dtype);
    }
}

#[test]
fn newton_stays_at_a_stationary_point_and_rejects_a_matrix_iterate() {
    let x = Tensor::from_vec(vec![0.0f64, 0.0], &[2]).unwrap();
    let (loss, gnorm) = Newton::new().step(&x, saddle).unwrap();
    assert_eq!((loss, gnorm), (0.0, 0.0));
    assert_eq!(x.to_vec::<f64>().unwrap(), vec![0.0, 0.0]);
    let m = Tensor::zeros(&[2, 2], gradus_tensor::DType::F64);
    let err = Newton::new().step(&m, |x| x.sum_all()).unwrap_err();
    assert!(err.to_string().contains("[2, 2]"), "{err}");
}

#[test]
fn newton_damps_a_singular_hessian() {
    // f = x0^2 (x1 unused): H = diag(2, 0) is singular; damping 1e-10 makes it solvable and the
    // step lands x0 on 0 (to within the damping)
    let x = Tensor::from_vec(vec![1.0f64, 5.0], &[2]).unwrap();
    Newton::new()
        .step(&x, |x| x.narrow(0, 0, 1)?.powf(2.0)?.sum_all())
        .unwrap();
    let got = x.to_vec::<f64>().unwrap();
    assert!(got[0].abs() < 1e-9 && got[1] == 5.0, "{got:?}");
}
