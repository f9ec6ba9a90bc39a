//! Gradient checkpointing: the same gradients as without it (bit for bit), second derivatives,
//! gradchecks, captured tensors, and the errors.

use gradus_tensor::autodiff::{checkpoint, grad, hvp, no_grad};
use gradus_tensor::{gradcheck, gradgradcheck, DType, GradcheckOptions, Rng, Tensor};

/// `depth` tanh layers `x -> tanh(x w_i + b_i)`, `[batch, width]`.
struct Net {
    layers: Vec<(Tensor, Tensor)>,
}

impl Net {
    fn new(width: usize, depth: usize, dtype: DType, seed: u64) -> Net {
        let mut rng = Rng::seed(seed);
        let layers = (0..depth)
            .map(|_| {
                let w = rng.normal(&[width, width], 0.0, 1.0 / (width as f64).sqrt(), dtype);
                let b = rng.normal(&[width], 0.0, 0.1, dtype);
                (w.requires_grad_(true), b.requires_grad_(true))
            })
            .collect();
        Net { layers }
    }

    fn params(&self) -> Vec<&Tensor> {
        self.layers.iter().flat_map(|(w, b)| [w, b]).collect()
    }

    /// The loss `mean(net(x)^2)`, each layer checkpointed or not.
    fn loss(&self, x: &Tensor, checkpointed: bool) -> Tensor {
        let mut h = x.clone();
        for (w, b) in &self.layers {
            let (w, b) = (w.clone(), b.clone());
            let layer = move |xs: &[Tensor]| xs[0].matmul(&w)?.add(&b)?.tanh();
            h = if checkpointed {
                checkpoint(layer, &[&h]).unwrap()
            } else {
                layer(&[h]).unwrap()
            };
        }
        h.mul(&h).unwrap().mean_all().unwrap()
    }
}

fn grads_of(net: &Net, x: &Tensor, checkpointed: bool) -> Vec<Vec<f32>> {
    let mut wrt = net.params();
    wrt.push(x);
    grad(&net.loss(x, checkpointed), &wrt, None, false)
        .unwrap()
        .iter()
        .map(|g| g.to_vec::<f32>().unwrap())
        .collect()
}

#[test]
fn gradients_with_and_without_checkpoints_are_equal_bit_for_bit() {
    let net = Net::new(16, 6, DType::F32, 1);
    let x = Rng::seed(2)
        .normal(&[8, 16], 0.0, 1.0, DType::F32)
        .requires_grad_(true);
    let plain = grads_of(&net, &x, false);
    let checkpointed = grads_of(&net, &x, true);
    assert_eq!(plain.len(), 13);
    for (a, b) in plain.iter().zip(&checkpointed) {
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(a), bits(b));
    }
}

#[test]
fn backward_fills_the_captured_parameters_grad_as_without_checkpoints() {
    let net = Net::new(4, 3, DType::F64, 3);
    let x = Rng::seed(4).normal(&[2, 4], 0.0, 1.0, DType::F64);
    net.loss(&x, false).backward().unwrap();
    let plain: Vec<Vec<f64>> = net
        .params()
        .iter()
        .map(|p| p.grad().unwrap().to_vec::<f64>().unwrap())
        .collect();
    net.params().iter().for_each(|p| p.set_grad(None));
    let loss = net.loss(&x, true);
    assert!(loss.requires_grad());
    loss.backward().unwrap();
    for (p, want) in net.params().iter().zip(&plain) {
        assert_eq!(&p.grad().unwrap().to_vec::<f64>().unwrap(), want);
    }
}

#[test]
fn checkpointed_layers_pass_gradcheck_and_gradgradcheck() {
    let f = |xs: &[Tensor]| {
        let (w, b) = (xs[1].clone(), xs[2].clone());
        let layer = move |ys: &[Tensor]| ys[0].matmul(&w)?.add(&b)?.tanh()?.mul(&ys[0]);
        checkpoint(layer, &[&xs[0]])?.exp()
    };
    let mut rng = Rng::seed(5);
    let inputs = [
        rng.normal(&[3, 4], 0.0, 1.0, DType::F64),
        rng.normal(&[4, 4], 0.0, 0.5, DType::F64),
        rng.normal(&[4], 0.0, 0.5, DType::F64),
    ];
    gradcheck(f, &inputs, GradcheckOptions::default()).unwrap();
    gradgradcheck(f, &inputs, GradcheckOptions::default()).unwrap();
}

#[test]
fn hessian_vector_products_through_checkpoints_match_the_plain_ones() {
    let w = Rng::seed(6).normal(&[5, 5], 0.0, 0.5, DType::F64);
    let v = Rng::seed(7).normal(&[2, 5], 0.0, 1.0, DType::F64);
    let x = Rng::seed(8).normal(&[2, 5], 0.0, 1.0, DType::F64);
    let f = |checkpointed: bool| {
        let w = w.clone();
        move |x: &Tensor| {
            let w = w.clone();
            let layer = move |xs: &[Tensor]| xs[0].matmul(&w)?.sigmoid()?.mul(&xs[0]);
            let h = if checkpointed {
                checkpoint(layer.clone(), &[x])?
            } else {
                layer(std::slice::from_ref(x))?
            };
            h.powf(2.0)?.sum_all()
        }
    };
    let plain = hvp(f(false), &x, &v).unwrap().to_vec::<f64>().unwrap();
    let checkpointed = hvp(f(true), &x, &v).unwrap().to_vec::<f64>().unwrap();
    // the second backward pass sums the same terms in another order: equal to rounding
    for (a, b) in plain.iter().zip(&checkpointed) {
        assert!((a - b).abs() <= 1e-14 * (1.0 + a.abs()), "{a} vs {b}");
    }
}

#[test]
fn nested_checkpoints_give_the_plain_gradient() {
    let net = Net::new(4, 2, DType::F64, 9);
    let x = Rng::seed(10)
        .normal(&[3, 4], 0.0, 1.0, DType::F64)
        .requires_grad_(true);
    let plain = grad(&net.loss(&x, true), &[&x], None, false).unwrap()[0]
        .to_vec::<f64>()
        .unwrap();
    let layers = net.layers.clone();
    let outer = checkpoint(
        move |xs: &[Tensor]| {
            let net = Net {
                layers: layers.clone(),
            };
            Ok(net.loss(&xs[0], true))
        },
        &[&x],
    )
    .unwrap();
    let nested = grad(&outer, &[&x], None, false).unwrap()[0]
        .to_vec::<f64>()
        .unwrap();
    assert_eq!(plain, nested);
}

#[test]
fn outside_recording_a_checkpoint_is_a_plain_call() {
    let w = Tensor::ones(&[2], DType::F64).requires_grad_(true);
    let w2 = w.clone();
    let y = no_grad(|| checkpoint(move |xs| xs[0].mul(&w2), &[&Tensor::ones(&[2], DType::F64)]))
        .unwrap();
    assert!(!y.requires_grad());
    // nothing requires gradients: the output is returned as is
    let z = checkpoint(|xs| xs[0].exp(), &[&Tensor::ones(&[2], DType::F64)]).unwrap();
    assert!(!z.requires_grad());
}

#[test]
fn a_checkpoint_returning_its_input_passes_the_gradient_through() {
    let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2])
        .unwrap()
        .requires_grad_(true);
    let y = checkpoint(|xs| Ok(xs[0].clone()), &[&x]).unwrap();
    y.mul_scalar(3.0)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(x.grad().unwrap().to_vec::<f64>().unwrap(), vec![3.0, 3.0]);
}

#[test]
fn a_parameter_replaced_between_forward_and_backward_is_an_error() {
    use std::sync::{Arc, Mutex};
    let slot = Arc::new(Mutex::new(
        Tensor::ones(&[2], DType::F64).requires_grad_(true),
    ));
    let held = slot.clone();
    let x = Tensor::ones(&[2], DType::F64).requires_grad_(true);
    let y = checkpoint(move |xs| xs[0].mul(&held.lock().unwrap().clone()), &[&x]).unwrap();
    *slot.lock().unwrap() = Tensor::ones(&[2], DType::F64).requires_grad_(true);
    let err = y.sum_all().unwrap().backward().unwrap_err().to_string();
    assert!(err.contains("checkpoint"), "{err}");
    assert!(err.contains("replaced"), "{err}");
}
