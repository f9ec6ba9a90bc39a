//! Gradients at singular points: where a backward rule would compute 0 * inf or 0 / 0 but the
//! limit (and PyTorch) gives a finite value. Every expected value below is PyTorch's (2.15,
//! float64) for the same input.

use gradus_tensor::autodiff::grad;
use gradus_tensor::{gradcheck, gradgradcheck, GradcheckOptions, Result, Tensor};

const INF: f64 = f64::INFINITY;

fn t(v: &[f64]) -> Tensor {
    Tensor::from_vec(v.to_vec(), &[v.len()]).unwrap()
}

fn leaf(v: &[f64]) -> Tensor {
    t(v).requires_grad_(true)
}

/// Gradients of `sum(f(inputs))` with respect to each input.
fn grads(f: impl Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Tensor]) -> Vec<Vec<f64>> {
    let y = f(inputs).unwrap().sum_all().unwrap();
    let refs: Vec<&Tensor> = inputs.iter().collect();
    grad(&y, &refs, None, false)
        .unwrap()
        .iter()
        .map(|g| g.to_vec::<f64>().unwrap())
        .collect()
}

#[test]
fn pow_exponent_gradient_at_a_zero_base_is_zero_as_in_the_issue() {
    // a = [0, 2] constant, b = [1, 1]: d sum(a^b) / db = a^b ln a = [0, 2 ln 2] (not NaN = 0 ln 0)
    let (a, b) = (t(&[0.0, 2.0]), leaf(&[1.0, 1.0]));
    let y = a.pow(&b).unwrap().sum_all().unwrap();
    y.backward().unwrap();
    assert_eq!(
        b.grad().unwrap().to_vec::<f64>().unwrap(),
        vec![0.0, 2.0 * 2f64.ln()]
    );
    // exponent 0 too (0^0 = 1, slope 0); a negative exponent at 0 is a true pole: -inf
    let g = grads(
        |x| t(&[0.0, 0.0, 0.0, 2.0]).pow(&x[0]),
        &[leaf(&[1.0, 0.0, -1.0, 3.0])],
    );
    assert_eq!(g[0], vec![0.0, 0.0, -INF, 8.0 * 2f64.ln()]);
}

#[test]
fn pow_base_gradient_with_a_zero_exponent_is_zero() {
    // d a^b / da = b a^(b-1): 0 where b = 0 (not 0 * 0^-1 = NaN), inf for 0 < b < 1 at a = 0
    let g = grads(
        |x| x[0].pow(&t(&[0.0, 0.0, 0.5, 2.0, 1.0])),
        &[leaf(&[0.0, 2.0, 0.0, 3.0, 0.0])],
    );
    assert_eq!(g[0], vec![0.0, 0.0, INF, 6.0, 1.0]);
    // the scalar-exponent form agrees
    let g = grads(|x| x[0].powf(0.0), &[leaf(&[0.0, 2.0])]);
    assert_eq!(g[0], vec![0.0, 0.0]);
    let g = grads(|x| x[0].powf(0.5), &[leaf(&[0.0])]);
    assert_eq!(g[0], vec![INF]);
}

#[test]
fn second_derivatives_of_pow_at_the_singular_points_are_finite() {
    // d2 sum(a^b) / db2 = a^b ln(a)^2: [0, 2 ln(2)^2] (PyTorch's double backward gives NaN at
    // a = 0; gradus's guarded rule gives the limit)
    let (a, b) = (t(&[0.0, 2.0]), leaf(&[1.0, 1.0]));
    let y = a.pow(&b).unwrap().sum_all().unwrap();
    let gb = grad(&y, &[&b], None, true).unwrap().remove(0);
    assert_eq!(gb.to_vec::<f64>().unwrap(), vec![0.0, 2.0 * 2f64.ln()]);
    let h = grad(&gb.sum_all().unwrap(), &[&b], None, false).unwrap();
    let h = h[0].to_vec::<f64>().unwrap();
    assert_eq!(h[0], 0.0);
    assert!((h[1] - 2.0 * 2f64.ln().powi(2)).abs() < 1e-15);
    // d2 sum(a^b) / da2 = b (b-1) a^(b-2): [0, 12] at a = [0, 2], b = [0, 3]
    let (a, e) = (leaf(&[0.0, 2.0]), t(&[0.0, 3.0]));
    let y = a.pow(&e).unwrap().sum_all().unwrap();
    let ga = grad(&y, &[&a], None, true).unwrap().remove(0);
    assert_eq!(ga.to_vec::<f64>().unwrap(), vec![0.0, 12.0]);
    let h = grad(&ga.sum_all().unwrap(), &[&a], None, false).unwrap();
    assert_eq!(h[0].to_vec::<f64>().unwrap(), vec![0.0, 12.0]);
}

#[test]
fn masks_select_the_gradient_so_an_infinite_one_does_not_leak_as_nan() {
    // relu, clamp, where, maximum and minimum pass the gradient by selection (as PyTorch's
    // `where`): sqrt's infinite slope at 0 stays out of the masked-off places
    assert_eq!(
        grads(|x| x[0].relu()?.sqrt(), &[leaf(&[-1.0, 0.0, 4.0])])[0],
        vec![0.0, 0.0, 0.25]
    );
    assert_eq!(
        grads(|x| x[0].clamp(0.0, 1.0)?.sqrt(), &[leaf(&[-1.0, 0.25])])[0],
        vec![0.0, 1.0]
    );
    let c = t(&[1.0, 0.0]);
    assert_eq!(
        grads(
            |x| c.where_cond(&x[0], &x[1])?.sqrt(),
            &[leaf(&[0.0, 1.0]), leaf(&[0.0, 4.0])]
        ),
        vec![vec![INF, 0.0], vec![0.0, 0.25]]
    );
    assert_eq!(
        grads(
            |x| x[0].maximum(&x[1])?.sqrt(),
            &[leaf(&[0.0, 1.0, 2.0]), leaf(&[-1.0, 1.0, 5.0])]
        ),
        vec![
            vec![INF, 0.25, 0.0],
            vec![0.0, 0.25, 1.0 / (5f64.sqrt() * 2.0)]
        ]
    );
    assert_eq!(
        grads(
            |x| x[0].minimum(&x[1])?.sqrt(),
            &[leaf(&[0.0, 1.0, 4.0]), leaf(&[3.0, 1.0, 9.0])]
        ),
        vec![vec![INF, 0.25, 0.25], vec![0.0, 0.25, 0.0]]
    );
    // NaN on either side: both get the gradient (PyTorch)
    let nan = f64::NAN;
    assert_eq!(
        grads(
            |x| x[0].maximum(&x[1]),
            &[leaf(&[nan, 1.0]), leaf(&[1.0, nan])]
        ),
        vec![vec![1.0, 1.0], vec![1.0, 1.0]]
    );
    // clamp keeps NaN (f64::max alone would return the bound)
    assert!(t(&[nan]).clamp(0.0, 1.0).unwrap().item().unwrap().is_nan());
}

#[test]
fn division_gradient_stays_finite_where_the_square_of_the_divisor_underflows() {
    // d(a/b)/db = -(a/b)/b: b^2 = 1e-340 underflows to 0, (a/b)/b = 1e140 does not
    let g = grads(|x| t(&[1e-200]).div(&x[0]), &[leaf(&[1e-170])]);
    assert_eq!(g[0], vec![-((1e-200f64 / 1e-170) / 1e-170)]);
    assert!(g[0][0].is_finite());
}

#[test]
fn max_of_all_elements_splits_the_gradient_among_ties() {
    assert_eq!(
        grads(|x| x[0].max_all(), &[leaf(&[1.0, 3.0, 3.0])])[0],
        vec![0.0, 0.5, 0.5]
    );
    let nan = f64::NAN;
    assert_eq!(
        grads(|x| x[0].max_all(), &[leaf(&[1.0, nan, nan])])[0],
        vec![0.0, 0.5, 0.5]
    );
    // along an axis the gradient goes to the first maximum, as torch.max(dim)
    assert_eq!(
        grads(|x| x[0].max(0, false), &[leaf(&[1.0, 3.0, 3.0])])[0],
        vec![0.0, 1.0, 0.0]
    );
}

#[test]
fn norm_of_a_zero_vector_has_gradient_zero() {
    assert_eq!(
        grads(|x| x[0].norm(&[0], false), &[leaf(&[0.0, 0.0, 0.0])])[0],
        vec![0.0; 3]
    );
    assert_eq!(
        grads(|x| x[0].norm(&[0], false), &[leaf(&[3.0, 4.0])])[0],
        vec![0.6, 0.8]
    );
    let x = Tensor::from_vec(vec![0.0, 0.0, 3.0, 4.0], &[2, 2])
        .unwrap()
        .requires_grad_(true);
    x.norm(&[1], true)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(
        x.grad().unwrap().to_vec::<f64>().unwrap(),
        vec![0.0, 0.0, 0.6, 0.8]
    );
    // the composed sqrt(sum x^2) gives NaN there, in PyTorch as here: norm is the safe form
    let composed = grads(|x| x[0].mul(&x[0])?.sum_all()?.sqrt(), &[leaf(&[0.0, 0.0])]);
    assert!(composed[0].iter().all(|v| v.is_nan()));
    // second derivatives at the zero vector are finite too
    let z = leaf(&[0.0, 0.0]);
    let g = grad(&z.norm(&[0], false).unwrap(), &[&z], None, true)
        .unwrap()
        .remove(0);
    let h = grad(&g.sum_all().unwrap(), &[&z], None, false).unwrap();
    assert!(h[0].to_vec::<f64>().unwrap().iter().all(|v| v.is_finite()));
}

#[test]
fn guarded_rules_pass_gradcheck_away_from_the_singular_points() {
    let opts = GradcheckOptions::default();
    let norm = |x: &[Tensor]| x[0].norm(&[1], false);
    let x = Tensor::from_vec(vec![0.3, -1.2, 0.7, 2.0, 0.1, -0.4], &[2, 3]).unwrap();
    gradcheck(norm, std::slice::from_ref(&x), opts).unwrap();
    gradgradcheck(norm, &[x], opts).unwrap();
    let pow = |x: &[Tensor]| x[0].pow(&x[1]);
    let (a, b) = (t(&[0.5, 1.5, 2.0]), t(&[0.7, -1.3, 2.5]));
    gradcheck(pow, &[a.clone(), b.clone()], opts).unwrap();
    gradgradcheck(pow, &[a, b], opts).unwrap();
    let div = |x: &[Tensor]| x[0].div(&x[1]);
    let (a, b) = (t(&[0.5, -1.5, 2.0]), t(&[0.7, -1.3, 2.5]));
    gradcheck(div, &[a.clone(), b.clone()], opts).unwrap();
    gradgradcheck(div, &[a, b], opts).unwrap();
    let max = |x: &[Tensor]| x[0].maximum(&x[1]);
    let (a, b) = (t(&[0.5, -1.5, 2.0]), t(&[0.7, -1.3, 1.5]));
    gradcheck(max, &[a, b], opts).unwrap();
}

#[test]
fn true_poles_and_kinks_keep_pytorchs_values() {
    // |x|' = sign(x): 0 at 0; sqrt' and log' are +inf at 0 (a real pole, as in PyTorch)
    assert_eq!(
        grads(|x| x[0].abs(), &[leaf(&[-2.0, 0.0, 3.0])])[0],
        vec![-1.0, 0.0, 1.0]
    );
    assert_eq!(grads(|x| x[0].sqrt(), &[leaf(&[0.0])])[0], vec![INF]);
    assert_eq!(grads(|x| x[0].log(), &[leaf(&[0.0])])[0], vec![INF]);
    // clamp passes the gradient at its bounds; relu not at 0
    assert_eq!(
        grads(|x| x[0].clamp(-1.0, 1.0), &[leaf(&[-1.0, 1.0, 1.5])])[0],
        vec![1.0, 1.0, 0.0]
    );
    assert_eq!(grads(|x| x[0].relu(), &[leaf(&[0.0])])[0], vec![0.0]);
    // elu at +inf has slope 1 (its unused negative branch is inf there), at 0 slope alpha
    assert_eq!(
        grads(|x| x[0].elu(0.5), &[leaf(&[INF, 0.0, 1.0])])[0],
        vec![1.0, 0.5, 1.0]
    );
    // log_softmax with a -inf logit: finite gradients (PyTorch: [1, -1] for a seed of ones)
    assert_eq!(
        grads(|x| x[0].log_softmax(0), &[leaf(&[f64::NEG_INFINITY, 0.0])])[0],
        vec![1.0, -1.0]
    );
    assert_eq!(
        grads(|x| x[0].softmax(0), &[leaf(&[f64::NEG_INFINITY, 0.0])])[0],
        vec![0.0, 0.0]
    );
}
