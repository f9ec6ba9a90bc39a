//! Hessian-vector products with kept gradient graphs equal fresh ones, and follow the weights
//! when they change: `L(x) = Σ xᵢ⁴` has `H = diag(12 xᵢ²)`, two batches weighted ¼ and ¾.

use gradus_analysis::Objective;
use gradus_tensor::{Param, Tensor};
use std::cell::Cell;
use std::rc::Rc;

/// The objective and a count of its batch-loss evaluations.
fn quartic(x: &Param) -> (Objective<'static>, Rc<Cell<usize>>) {
    let p = x.clone();
    let calls = Rc::new(Cell::new(0));
    let counter = calls.clone();
    let f = Objective::new(vec![("x".into(), x.clone())], vec![0.25, 0.75], move |b| {
        counter.set(counter.get() + 1);
        let t = p.tensor();
        // batch 1 counts its loss twice: the mean is (¼ + 2·¾) Σ x⁴ = 1.75 Σ x⁴
        let scale = if b == 0 { 1.0 } else { 2.0 };
        Ok(t.mul(&t)?.mul(&t)?.mul(&t)?.sum_all()?.mul_scalar(scale)?)
    })
    .unwrap();
    (f, calls)
}

#[test]
fn kept_graphs_give_the_same_products_and_follow_new_weights() {
    let x = Param::new(Tensor::from_vec(vec![1.0f64, -2.0], &[2]).unwrap());
    let (fresh, fresh_calls) = quartic(&x);
    let (kept, kept_calls) = quartic(&x);
    let kept = kept.keep_gradient_graphs();
    let v = vec![Tensor::from_vec(vec![1.0f64, 1.0], &[2]).unwrap()];
    let want = |x: [f64; 2]| vec![1.75 * 12.0 * x[0] * x[0], 1.75 * 12.0 * x[1] * x[1]];
    for _ in 0..2 {
        assert_eq!(
            kept.hvp(&v).unwrap()[0].to_vec::<f64>().unwrap(),
            want([1.0, -2.0])
        );
        assert_eq!(
            fresh.hvp(&v).unwrap()[0].to_vec::<f64>().unwrap(),
            want([1.0, -2.0])
        );
    }
    // two products: the kept graphs evaluated each batch loss once, the fresh ones twice
    assert_eq!((kept_calls.get(), fresh_calls.get()), (2, 4));
    kept.set_values(&[Tensor::from_vec(vec![3.0f64, 0.5], &[2]).unwrap()])
        .unwrap();
    assert_eq!(
        kept.hvp(&v).unwrap()[0].to_vec::<f64>().unwrap(),
        want([3.0, 0.5])
    );
    assert_eq!(
        fresh.hvp(&v).unwrap()[0].to_vec::<f64>().unwrap(),
        want([3.0, 0.5])
    );
    assert_eq!(kept_calls.get(), 4, "new weights: the graphs were rebuilt");
}
