//! SAM and Lookahead against steps derived by hand on a tiny quadratic, f(x) = 0.5 x^T D x with
//! D = diag(1, 4), so grad f(x) = D x.

// Tensor handles are cheap reference-counted clones; `&[p.clone()]` reads better than
// `std::slice::from_ref(&p)` in tests.
#![allow(clippy::cloned_ref_to_slice_refs)]

use gradus_optim::{GradientTransformation, Lookahead, Sam, Sgd};
use gradus_tensor::Tensor;

const D: [f64; 2] = [1.0, 4.0];

fn loss(x: &Tensor) -> gradus_tensor::Result<Tensor> {
    let d = Tensor::from_vec(D.to_vec(), &[2])?;
    x.mul(x)?.mul(&d)?.sum_all()?.mul_scalar(0.5)
}

#[test]
fn sam_step_matches_hand_derivation() {
    let (x0, lr, rho) = ([1.0, 1.0], 0.1, 0.05);
    let x = Tensor::from_vec(x0.to_vec(), &[2])
        .unwrap()
        .requires_grad_(true);
    let mut sam = Sam::new(Sgd::new(lr), rho, &[x.clone()]).unwrap();
    let l0 = sam
        .step(|| {
            let l = loss(&x)?;
            l.backward()?;
            Ok(l.item()?)
        })
        .unwrap();
    // g = D x0 = (1, 4); e = rho g / |g|; g' = D (x0 + e); x1 = x0 - lr g'
    let g = [D[0] * x0[0], D[1] * x0[1]];
    let norm = (g[0] * g[0] + g[1] * g[1]).sqrt();
    let expected: Vec<f64> = (0..2)
        .map(|i| x0[i] - lr * D[i] * (x0[i] + rho * g[i] / (norm + 1e-12)))
        .collect();
    assert_eq!(l0, 2.5);
    let got = x.to_vec::<f64>().unwrap();
    for i in 0..2 {
        assert!(
            (got[i] - expected[i]).abs() < 1e-15,
            "coordinate {i}: {} vs {}",
            got[i],
            expected[i]
        );
    }
}

#[test]
fn lookahead_matches_hand_derivation() {
    let (lr, k, alpha) = (0.1, 2u64, 0.5);
    let x = Tensor::from_vec(vec![1.0f64, 1.0], &[2]).unwrap();
    let opt = Lookahead::new(Sgd::new(lr), k, alpha);
    let mut state = opt.init(&[x.clone()]).unwrap();
    let grad = |x: &Tensor| {
        let v = x.to_vec::<f64>().unwrap();
        Tensor::from_vec(vec![D[0] * v[0], D[1] * v[1]], &[2]).unwrap()
    };
    // Coordinate i: fast steps multiply by (1 - lr D_i); after k steps, slow = 1 + alpha ((1 - lr D_i)^k - 1).
    let mut expected = [1.0f64, 1.0];
    for cycle in 0..3 {
        for _ in 0..k {
            opt.apply(&[x.clone()], &[grad(&x)], &mut state).unwrap();
        }
        for i in 0..2 {
            let fast = expected[i] * (1.0 - lr * D[i]).powi(k as i32);
            expected[i] += alpha * (fast - expected[i]);
        }
        let got = x.to_vec::<f64>().unwrap();
        for i in 0..2 {
            assert!(
                (got[i] - expected[i]).abs() < 1e-15,
                "cycle {cycle} coordinate {i}: {} vs {}",
                got[i],
                expected[i]
            );
        }
    }
    // Mid-cycle the parameters are the fast weights.
    opt.apply(&[x.clone()], &[grad(&x)], &mut state).unwrap();
    let got = x.to_vec::<f64>().unwrap();
    assert!((got[1] - expected[1] * (1.0 - lr * D[1])).abs() < 1e-15);
}
