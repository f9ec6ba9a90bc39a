//! `Tensor::backward_with_hook`: the hook fires once per leaf, after the leaf's last gradient
//! contribution, in the order the backward pass finishes the leaves, and the gradients equal
//! those of plain `backward`.

use gradus_tensor::{DType, Result, Tensor, TensorId};
use std::collections::HashMap;

struct Net {
    w1: Tensor, // [4, 4], used in layer 1 and again (tied) in layer 3
    b1: Tensor, // [4]
    w2: Tensor, // [4, 4]
    b2: Tensor, // [4]
    s: Tensor,  // [8], two halves (narrow) used in layers 1 and 2
    unused: Tensor,
}

fn net() -> Net {
    let leaf = |shape: &[usize], seed| Tensor::randn(shape, DType::F64, seed).requires_grad_(true);
    Net {
        w1: leaf(&[4, 4], 1),
        b1: leaf(&[4], 2),
        w2: leaf(&[4, 4], 3),
        b2: leaf(&[4], 4),
        s: leaf(&[8], 5),
        unused: leaf(&[3], 6),
    }
}

impl Net {
    fn leaves(&self) -> Vec<(&'static str, &Tensor)> {
        vec![
            ("w1", &self.w1),
            ("b1", &self.b1),
            ("w2", &self.w2),
            ("b2", &self.b2),
            ("s", &self.s),
            ("unused", &self.unused),
        ]
    }

    fn loss(&self, x: &Tensor) -> Result<Tensor> {
        let h1 = x
            .matmul(&self.w1)?
            .add(&self.b1)?
            .mul(&self.s.narrow(0, 0, 4)?)?
            .tanh()?;
        let h2 = h1
            .matmul(&self.w2)?
            .add(&self.b2)?
            .mul(&self.s.narrow(0, 4, 4)?)?
            .tanh()?;
        let h3 = h2.matmul(&self.w1)?; // the tied use: w1's last contribution comes first
        let _ = self.unused.exp()?; // recorded, but not part of the loss
        h3.mul(&h3)?.sum_all()
    }
}

fn input() -> Tensor {
    Tensor::randn(&[5, 4], DType::F64, 9)
}

/// Every leaf's gradient after plain `backward`.
fn plain_grads() -> Vec<Option<Vec<f64>>> {
    let n = net();
    n.loss(&input()).unwrap().backward().unwrap();
    n.leaves()
        .iter()
        .map(|(_, t)| t.grad().map(|g| g.to_vec_f64()))
        .collect()
}

#[test]
fn hook_fires_once_per_leaf_with_its_final_gradient() {
    let expected = plain_grads();
    let n = net();
    let names: HashMap<TensorId, &str> = n.leaves().iter().map(|(s, t)| (t.id(), *s)).collect();
    let mut fired: Vec<(&str, Vec<f64>)> = Vec::new();
    n.loss(&input())
        .unwrap()
        .backward_with_hook(|leaf| {
            let grad = leaf.grad().expect("the hook sees the accumulated gradient");
            fired.push((names[&leaf.id()], grad.to_vec_f64()));
            Ok(())
        })
        .unwrap();
    let order: Vec<&str> = fired.iter().map(|(s, _)| *s).collect();
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        vec!["b1", "b2", "s", "w1", "w2"],
        "once each: {order:?}"
    );
    // the gradient when the hook fired is the final one: w1 and s got two contributions each
    for (name, at_hook) in &fired {
        let i = n.leaves().iter().position(|(s, _)| s == name).unwrap();
        assert_eq!(Some(at_hook), expected[i].as_ref(), "{name}");
        assert_eq!(n.leaves()[i].1.grad().unwrap().to_vec_f64(), *at_hook);
    }
    // reverse layer order: layer 2's parameters before layer 1's; w1 (tied, also used by the
    // last layer) only after layer 1's backward
    let at = |s: &str| order.iter().position(|o| *o == s).unwrap();
    assert!(at("w2") < at("b1") && at("b2") < at("b1"), "{order:?}");
    assert!(at("b1") < at("w1") && at("s") > at("w2"), "{order:?}");
    assert!(n.unused.grad().is_none());
}

#[test]
fn hook_sees_gradients_accumulated_over_earlier_passes() {
    let x = Tensor::from_vec(vec![2.0f64, -1.0], &[2])
        .unwrap()
        .requires_grad_(true);
    x.mul_scalar(3.0)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let mut seen = Vec::new();
    x.mul(&x)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward_with_hook(|leaf| {
            seen.push(leaf.grad().unwrap().to_vec_f64());
            Ok(())
        })
        .unwrap();
    // 3 + 2x
    assert_eq!(seen, vec![vec![7.0, 1.0]]);
}

#[test]
fn a_leaf_root_fires_once_and_a_hook_error_stops_the_pass() {
    let x = Tensor::from_vec(vec![1.5f64], &[1])
        .unwrap()
        .requires_grad_(true);
    let mut calls = 0;
    x.backward_with_hook(|_| {
        calls += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!((calls, x.grad().unwrap().item().unwrap()), (1, 1.0));

    let y = x.mul_scalar(2.0).unwrap().sum_all().unwrap();
    let err = y
        .backward_with_hook(|_| {
            Err(gradus_tensor::TensorError::Autodiff(
                "all-reduce failed".into(),
            ))
        })
        .unwrap_err();
    assert!(err.to_string().contains("all-reduce failed"), "{err}");
    let no_grad = Tensor::from_vec(vec![1.0f64], &[1]).unwrap();
    assert!(no_grad.backward_with_hook(|_| Ok(())).is_err());
}
