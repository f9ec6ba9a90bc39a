//! Quadratics with a known spectrum `L(x) = ½ xᵀAx`, `A = Q diag(λ) Qᵀ` (Q a Householder
//! reflection, so A is dense): at the stationary point 0 the smallest eigenvalue is found and a
//! negative one flagged as a saddle; Keskar's ε-sharpness has a closed form on a separable one.

use gradus_analysis::sharpness::{epsilon_sharpness, EpsSharpnessOptions};
use gradus_analysis::{analyze, lanczos, AnalysisOptions, Objective};
use gradus_tensor::{Param, Tensor};

/// `½ xᵀAx` with eigenvalues `lambda`, over one parameter `x` (at 0).
fn quadratic(lambda: &[f64]) -> Objective<'static> {
    let n = lambda.len();
    let v: Vec<f64> = (0..n).map(|i| 1.0 + i as f64 * 0.37).collect();
    let vv: f64 = v.iter().map(|a| a * a).sum();
    let q = |i: usize, j: usize| f64::from(u8::from(i == j)) - 2.0 * v[i] * v[j] / vv;
    let a: Vec<f64> = (0..n * n)
        .map(|k| (0..n).map(|m| q(k / n, m) * lambda[m] * q(k % n, m)).sum())
        .collect();
    let a = Tensor::from_vec(a, &[n, n]).unwrap();
    let x = Param::new(Tensor::from_vec(vec![0.0f64; n], &[n, 1]).unwrap());
    let p = x.clone();
    Objective::new(vec![("x".into(), x)], vec![1.0], move |_| {
        let x = p.tensor();
        Ok(x.transpose(0, 1)?
            .matmul(&a.matmul(&x)?)?
            .sum_all()?
            .mul_scalar(0.5)?)
    })
    .unwrap()
}

#[test]
fn the_smallest_eigenvalue_of_a_saddle_is_found_and_flagged() {
    let lambda = [5.0, 3.0, 1.0, 0.5, -0.7, -2.0];
    let f = quadratic(&lambda);
    let ext = lanczos::extreme_eigenvalues(&f, 2, 6, 0).unwrap();
    assert!((ext.top[0].value - 5.0).abs() < 1e-9 && (ext.top[1].value - 3.0).abs() < 1e-9);
    assert!(
        (ext.smallest.value + 2.0).abs() < 1e-9,
        "{:?}",
        ext.smallest
    );
    let a = analyze(
        &f,
        &AnalysisOptions {
            top_k: 2,
            layer_steps: 6,
            lr: Some(0.5),
            ..AnalysisOptions::default()
        },
    )
    .unwrap();
    assert!(a.saddle.detected, "{:?}", a.saddle);
    assert!((a.saddle.min_eigenvalue + 2.0).abs() < 1e-9);
    assert!((a.saddle.relative + 0.4).abs() < 1e-9);
    // 2/η = 4 < λ_max = 5: gradient descent at η = 0.5 is beyond the edge of stability
    let eos = a.sharpness.edge_of_stability.unwrap();
    assert!(eos.beyond && (eos.threshold - 4.0).abs() < 1e-12 && (eos.ratio - 1.25).abs() < 1e-9);
    // the one parameter's block is the whole Hessian
    assert!((a.per_layer[0].top.value - 5.0).abs() < 1e-9);
    assert_eq!(a.parameters, 6);
}

#[test]
fn a_minimum_is_not_flagged() {
    let f = quadratic(&[4.0, 2.0, 1.0, 1e-3]);
    let ext = lanczos::extreme_eigenvalues(&f, 1, 4, 0).unwrap();
    assert!((ext.smallest.value - 1e-3).abs() < 1e-9);
    let a = analyze(&f, &AnalysisOptions::default()).unwrap();
    assert!(!a.saddle.detected, "{:?}", a.saddle);
    assert!(a.sharpness.edge_of_stability.is_none()); // no learning rate given
}

#[test]
fn epsilon_sharpness_reaches_the_box_corner_of_a_separable_quadratic() {
    // L(x) = Σ cᵢ xᵢ² at x₀: the box |yᵢ| ≤ ε(|x₀ᵢ| + 1) is widest where it moves away from 0
    let c = Tensor::from_vec(vec![1.0f64, 4.0, 0.5], &[3]).unwrap();
    let x0 = [1.0, -2.0, 3.0];
    let x = Param::new(Tensor::from_vec(x0.to_vec(), &[3]).unwrap());
    let p = x.clone();
    let f = Objective::new(vec![("x".into(), x.clone())], vec![1.0], move |_| {
        Ok(p.tensor().mul(&p.tensor())?.mul(&c)?.sum_all()?)
    })
    .unwrap();
    let eps = 1e-2;
    let coef = [1.0, 4.0, 0.5];
    let loss: f64 = (0..3).map(|i| coef[i] * x0[i] * x0[i]).sum();
    let max: f64 = (0..3)
        .map(|i| {
            let far = x0[i].abs() + eps * (x0[i].abs() + 1.0);
            coef[i] * far * far
        })
        .sum();
    let s = epsilon_sharpness(
        &f,
        &EpsSharpnessOptions {
            epsilon: eps,
            ..EpsSharpnessOptions::default()
        },
    )
    .unwrap();
    let want = 100.0 * (max - loss) / (1.0 + loss);
    assert!(
        (s.sharpness_percent - want).abs() < 1e-9,
        "{} vs {want}",
        s.sharpness_percent
    );
    assert!((s.loss - loss).abs() < 1e-12);
    // the weights are restored
    assert_eq!(x.tensor().to_vec::<f64>().unwrap(), x0.to_vec());
}

#[test]
fn bad_arguments_are_refused_with_their_name() {
    let f = quadratic(&[1.0, 2.0]);
    let msg = |e: gradus_analysis::AnalysisError| e.to_string();
    let wrong = vec![Tensor::from_vec(vec![1.0f64; 3], &[3]).unwrap()];
    assert!(msg(f.hvp(&wrong).unwrap_err()).contains("`x`"));
    assert!(msg(lanczos::extreme_eigenvalues(&f, 0, 4, 0).unwrap_err()).contains("k = 0"));
    assert!(
        msg(gradus_analysis::sharpness::edge_of_stability(1.0, 0.0).unwrap_err())
            .contains("learning rate 0")
    );
    let frozen = Param::new(Tensor::from_vec(vec![0.0f64], &[1]).unwrap());
    frozen.set_requires_grad(false);
    let none = Objective::new(vec![("w".into(), frozen)], vec![1.0], |_| unreachable!());
    assert!(none.is_err());
}
