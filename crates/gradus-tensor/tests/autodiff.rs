//! Autodiff semantics: accumulation, no_grad, detach, higher order, errors.

use gradus_tensor::autodiff::{grad, hessian, hvp, no_grad};
use gradus_tensor::{DType, Rng, Tensor};

fn t(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

#[test]
fn gradients_accumulate_across_backward_calls_and_clear_with_set_grad() {
    let x = t(&[1.0, -2.0], &[2]).requires_grad_(true);
    for _ in 0..3 {
        x.mul_scalar(2.0)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
    }
    assert_eq!(x.grad().unwrap().to_vec::<f64>().unwrap(), vec![6.0, 6.0]);
    x.set_grad(None);
    x.exp().unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(
        x.grad().unwrap().to_vec::<f64>().unwrap(),
        vec![1f64.exp(), (-2f64).exp()]
    );
}

#[test]
fn shared_subexpressions_sum_their_gradient_paths() {
    // y = a*x + x^2 uses x twice: dy/dx = a + 2x
    let x = t(&[3.0], &[1]).requires_grad_(true);
    let a = t(&[5.0], &[1]);
    let y = a
        .mul(&x)
        .unwrap()
        .add(&x.mul(&x).unwrap())
        .unwrap()
        .sum_all()
        .unwrap();
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().item().unwrap(), 11.0);
    assert!(a.grad().is_none(), "a constant gets no gradient");
}

#[test]
fn no_grad_and_detach_cut_the_graph() {
    let x = t(&[1.0, 2.0], &[2]).requires_grad_(true);
    let y = no_grad(|| x.mul(&x).unwrap());
    assert!(!y.requires_grad());
    let z = x.mul(&x.detach()).unwrap().sum_all().unwrap(); // d/dx = x (detached factor constant)
    z.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec::<f64>().unwrap(), vec![1.0, 2.0]);
}

#[test]
fn backward_errors_are_clear() {
    let x = t(&[1.0, 2.0], &[2]).requires_grad_(true);
    let err = x.exp().unwrap().backward().unwrap_err().to_string();
    assert!(err.contains("non-scalar") && err.contains("[2]"), "{err}");
    let err = t(&[1.0], &[1]).backward().unwrap_err().to_string();
    assert!(err.contains("does not require gradients"), "{err}");
}

#[test]
fn hvp_and_hessian_match_the_closed_form_of_a_quadratic() {
    // f(x) = 0.5 x^T A x with symmetric A: H = A
    let a = [4.0, 1.0, 0.5, 1.0, 3.0, -1.0, 0.5, -1.0, 2.0];
    let at = t(&a, &[3, 3]);
    let f = |x: &Tensor| x.matmul(&at)?.mul(x)?.sum_all()?.mul_scalar(0.5);
    let x = t(&[0.3, -0.7, 1.1], &[3]);
    let h = hessian(f, &x).unwrap().to_vec::<f64>().unwrap();
    for (got, want) in h.iter().zip(&a) {
        assert!((got - want).abs() < 1e-12, "{h:?}");
    }
    let v = t(&[1.0, 2.0, -1.0], &[3]);
    let hv = hvp(f, &x, &v).unwrap().to_vec::<f64>().unwrap();
    let want: Vec<f64> = (0..3)
        .map(|i| (0..3).map(|j| a[i * 3 + j] * [1.0, 2.0, -1.0][j]).sum())
        .collect();
    for (g, w) in hv.iter().zip(&want) {
        assert!((g - w).abs() < 1e-12);
    }
}

#[test]
fn hessian_of_softmax_cross_entropy_matches_its_closed_form() {
    let logits = Rng::seed(3).normal(&[4], 0.0, 1.0, DType::F64);
    let f = |z: &Tensor| z.log_softmax(0)?.narrow(0, 2, 1)?.neg()?.sum_all();
    let h = hessian(f, &logits).unwrap().to_vec::<f64>().unwrap();
    // closed form: diag(p) - p p^T
    let p = logits.softmax(0).unwrap().to_vec::<f64>().unwrap();
    for i in 0..4 {
        for j in 0..4 {
            let want = if i == j { p[i] } else { 0.0 } - p[i] * p[j];
            assert!(
                (h[i * 4 + j] - want).abs() < 1e-12,
                "H[{i}][{j}] = {} vs {want}",
                h[i * 4 + j]
            );
        }
    }
}

#[test]
fn grad_returns_zeros_for_unused_inputs_and_leaves_dot_grad_alone() {
    let x = t(&[2.0], &[1]).requires_grad_(true);
    let unused = t(&[7.0], &[1]).requires_grad_(true);
    let y = x.powf(3.0).unwrap().sum_all().unwrap();
    let g = grad(&y, &[&x, &unused], None, false).unwrap();
    assert_eq!(g[0].item().unwrap(), 12.0);
    assert_eq!(g[1].item().unwrap(), 0.0);
    assert!(x.grad().is_none());
}

#[test]
fn gradients_flow_through_views_of_f32_tensors() {
    let w = Tensor::from_vec((0..6).map(|v| v as f32).collect(), &[2, 3])
        .unwrap()
        .requires_grad_(true);
    let y = w.t().unwrap().narrow(0, 1, 2).unwrap().sum_all().unwrap();
    y.backward().unwrap();
    assert_eq!(
        w.grad().unwrap().to_vec::<f32>().unwrap(),
        vec![0.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    );
}

#[test]
fn shape_errors_name_the_op_and_shapes() {
    let a = Tensor::zeros(&[2, 3], DType::F32);
    let b = Tensor::zeros(&[4, 3], DType::F32);
    let msg = a.add(&b).unwrap_err().to_string();
    assert!(
        msg.contains("add") && msg.contains("[2, 3]") && msg.contains("[4, 3]"),
        "{msg}"
    );
    let msg = a.matmul(&b).unwrap_err().to_string();
    assert!(msg.contains("matmul") && msg.contains("[4, 3]"), "{msg}");
    let msg = a
        .add(&Tensor::zeros(&[2, 3], DType::F64))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("dtype"), "{msg}");
}

#[test]
fn random_tensors_are_reproducible_from_a_seed() {
    let a = Tensor::randn(&[100], DType::F32, 9)
        .to_vec::<f32>()
        .unwrap();
    let b = Tensor::randn(&[100], DType::F32, 9)
        .to_vec::<f32>()
        .unwrap();
    let c = Tensor::randn(&[100], DType::F32, 10)
        .to_vec::<f32>()
        .unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    let mean = a.iter().sum::<f32>() / 100.0;
    assert!(mean.abs() < 0.3);
}

#[test]
fn parallel_and_serial_paths_agree() {
    // above the parallel threshold, elementwise and reductions must match a serial reference
    let n = 200_000;
    let x = Rng::seed(1).uniform(&[n / 100, 100], -1.0, 1.0, DType::F64);
    let y = x
        .mul(&x)
        .unwrap()
        .sum(&[1], false)
        .unwrap()
        .to_vec::<f64>()
        .unwrap();
    let xv = x.to_vec::<f64>().unwrap();
    for (r, got) in y.iter().enumerate() {
        let want: f64 = xv[r * 100..(r + 1) * 100].iter().map(|v| v * v).sum();
        assert!((got - want).abs() < 1e-12);
    }
    let cols = x.sum(&[0], false).unwrap().to_vec::<f64>().unwrap();
    for (c, got) in cols.iter().enumerate() {
        let want: f64 = (0..n / 100).map(|r| xv[r * 100 + c]).sum();
        assert!((got - want).abs() < 1e-9);
    }
}

#[test]
fn ndarray_round_trip() {
    let x = Rng::seed(2).normal(&[2, 3, 4], 0.0, 1.0, DType::F32);
    let back = Tensor::from(x.to_ndarray::<f32>().unwrap());
    assert_eq!(back.shape(), x.shape());
    assert_eq!(back.to_vec::<f32>().unwrap(), x.to_vec::<f32>().unwrap());
}

/// The engine's in-place path (slices added into one buffer, totals summed in place) must equal
/// the recorded path (`create_graph`: each slice zero-padded, every sum a new `add`).
#[test]
fn in_place_accumulation_matches_the_recorded_path() {
    let x = Tensor::randn(&[3, 8, 5], DType::F64, 7).requires_grad_(true);
    let w = Tensor::randn(&[5, 4], DType::F64, 8).requires_grad_(true);
    let f = || {
        // overlapping and repeated slices on two axes, a shared weight, a view of the input
        let mut total = x
            .narrow(1, 0, 3)
            .unwrap()
            .matmul(&w)
            .unwrap()
            .sum_all()
            .unwrap();
        for (axis, start, len) in [(1, 2, 4), (1, 2, 4), (2, 1, 3), (0, 1, 2), (1, 7, 1)] {
            let piece = x.narrow(axis, start, len).unwrap();
            let s = piece.mul(&piece).unwrap().sum_all().unwrap();
            total = total.add(&s).unwrap();
        }
        let y = x
            .reshape(&[24, 5])
            .unwrap()
            .matmul(&w)
            .unwrap()
            .tanh()
            .unwrap();
        total.add(&y.sum_all().unwrap()).unwrap()
    };
    let fast = grad(&f(), &[&x, &w], None, false).unwrap();
    let recorded = grad(&f(), &[&x, &w], None, true).unwrap();
    for (a, b) in fast.iter().zip(&recorded) {
        for (p, q) in a.to_vec_f64().iter().zip(b.to_vec_f64()) {
            assert!((p - q).abs() < 1e-12, "{p} vs {q}");
        }
    }
}
