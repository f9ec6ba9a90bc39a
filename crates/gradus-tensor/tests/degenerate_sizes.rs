//! Degenerate sizes, as PyTorch handles them: a variance with `correction >= n` is NaN (not a
//! clamped divisor), and zero-size tensors flow through every op and its backward without a panic
//! (a sum over an empty axis is 0, a mean NaN, a product with inner size 0 zeros).

use gradus_tensor::ops::conv::Conv2dOptions;
use gradus_tensor::ops::pool::Pool2d;
use gradus_tensor::{DType, Tensor};

fn t(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

#[test]
fn variance_with_correction_at_least_n_is_nan_as_torch_var() {
    // var([3.0], correction = 1) is NaN (the case), for any axis of length 1
    let one = t(&[3.0], &[1]);
    assert!(one.var(&[0], 1, false).unwrap().item().unwrap().is_nan());
    let column = t(&[1.0, 2.0, 3.0], &[1, 3]).var(&[0], 1, false).unwrap();
    assert!(column.to_vec::<f64>().unwrap().iter().all(|v| v.is_nan()));
    // correction above n with spread values: the divisor is 0, the result inf (torch.var too)
    let two = t(&[1.0, 2.0], &[2]).var(&[0], 2, false).unwrap();
    assert_eq!(two.item().unwrap(), f64::INFINITY);
    // biased variance of one sample is 0; unbiased of two is defined
    assert_eq!(one.var(&[0], 0, false).unwrap().item().unwrap(), 0.0);
    assert_eq!(two.shape(), &[] as &[usize]);
    let pair = t(&[1.0, 2.0], &[2]).var(&[0], 1, false).unwrap();
    assert_eq!(pair.item().unwrap(), 0.5);
    // f32 the same
    let one32 = Tensor::from_vec(vec![3.0f32], &[1]).unwrap();
    assert!(one32.var(&[0], 1, true).unwrap().item().unwrap().is_nan());
}

#[test]
fn reductions_over_an_empty_axis_follow_pytorch() {
    let x = Tensor::zeros(&[8, 0], DType::F64).requires_grad_(true);
    // sum over the empty axis is 0, over the other one an empty tensor
    assert_eq!(
        x.sum(&[1], false).unwrap().to_vec::<f64>().unwrap(),
        vec![0.0; 8]
    );
    let s0 = x.sum(&[0], false).unwrap();
    assert_eq!(s0.shape(), &[0]);
    assert_eq!(x.sum(&[0], true).unwrap().shape(), &[1, 0]);
    assert_eq!(x.sum_all().unwrap().item().unwrap(), 0.0);
    // mean and variance of nothing are NaN
    let m = x.mean(&[1], false).unwrap().to_vec::<f64>().unwrap();
    assert!(m.len() == 8 && m.iter().all(|v| v.is_nan()));
    assert!(x.mean_all().unwrap().item().unwrap().is_nan());
    let v = x.var(&[1], 1, false).unwrap().to_vec::<f64>().unwrap();
    assert!(v.len() == 8 && v.iter().all(|v| v.is_nan()));
    assert_eq!(x.mean(&[0], false).unwrap().shape(), &[0]);
    // f32, and a non-contiguous (transposed) empty view
    let e32 = Tensor::zeros(&[0, 5], DType::F32);
    assert_eq!(
        e32.sum(&[0], false).unwrap().to_vec::<f32>().unwrap(),
        vec![0.0; 5]
    );
    assert_eq!(e32.t().unwrap().sum(&[0], false).unwrap().shape(), &[0]);
    assert_eq!(
        e32.t()
            .unwrap()
            .sum(&[1], false)
            .unwrap()
            .to_vec::<f32>()
            .unwrap(),
        vec![0.0; 5]
    );
    // max over a non-empty axis of an empty tensor is empty; over the empty axis it is refused
    assert_eq!(e32.max(1, false).unwrap().shape(), &[0]);
    assert!(e32.max(0, false).is_err());
    // softmax of an empty tensor is empty, with an empty gradient
    for axis in [0, 1] {
        let s = x.softmax(axis).unwrap();
        assert_eq!(s.shape(), &[8, 0]);
        s.sum_all().unwrap().backward().unwrap();
        assert_eq!(x.grad().unwrap().shape(), &[8, 0]);
        x.set_grad(None);
        assert_eq!(x.log_softmax(axis).unwrap().shape(), &[8, 0]);
    }
    // every reduction's backward on the empty input gives an empty gradient
    for r in [
        x.sum(&[1], false).unwrap().sum_all().unwrap(),
        x.sum(&[0], false).unwrap().sum_all().unwrap(),
        x.mean(&[0], true).unwrap().sum_all().unwrap(),
        x.norm(&[1], false).unwrap().sum_all().unwrap(),
    ] {
        r.backward().unwrap();
        assert_eq!(x.grad().unwrap().shape(), &[8, 0]);
        x.set_grad(None);
    }
}

#[test]
fn a_zero_wide_hidden_layer_trains_forward_and_backward() {
    // hidden = [8, 0]: x [4, 3] -> 8 -> 0 -> 2, as a Linear stack; the 0-wide layer passes
    // nothing, so the output is the last bias and the earlier weights get zero gradients
    let x = t(
        &(0..12).map(|v| v as f64 * 0.1).collect::<Vec<_>>(),
        &[4, 3],
    );
    let w1 = Tensor::ones(&[3, 8], DType::F64).requires_grad_(true);
    let b1 = Tensor::ones(&[8], DType::F64).requires_grad_(true);
    let w2 = Tensor::ones(&[8, 0], DType::F64).requires_grad_(true);
    let b2 = Tensor::ones(&[0], DType::F64).requires_grad_(true);
    let w3 = Tensor::ones(&[0, 2], DType::F64).requires_grad_(true);
    let b3 = t(&[0.5, -0.5], &[2]).requires_grad_(true);
    let h1 = x.matmul(&w1).unwrap().add(&b1).unwrap().relu().unwrap();
    let h2 = h1.matmul(&w2).unwrap().add(&b2).unwrap().tanh().unwrap();
    assert_eq!(h2.shape(), &[4, 0]);
    let y = h2.matmul(&w3).unwrap().add(&b3).unwrap();
    assert_eq!(
        y.to_vec::<f64>().unwrap(),
        vec![0.5, -0.5, 0.5, -0.5, 0.5, -0.5, 0.5, -0.5]
    );
    let loss = y.mul(&y).unwrap().mean_all().unwrap();
    loss.backward().unwrap();
    assert_eq!(w1.grad().unwrap().to_vec::<f64>().unwrap(), vec![0.0; 24]);
    assert_eq!(b1.grad().unwrap().to_vec::<f64>().unwrap(), vec![0.0; 8]);
    assert_eq!(w2.grad().unwrap().shape(), &[8, 0]);
    assert_eq!(b2.grad().unwrap().shape(), &[0]);
    assert_eq!(w3.grad().unwrap().shape(), &[0, 2]);
    // d mean(y^2) / d b3 = 2 y summed over 4 rows / 8 elements
    assert_eq!(b3.grad().unwrap().to_vec::<f64>().unwrap(), vec![0.5, -0.5]);
    // f32 and a batched product with inner size 0
    let a = Tensor::zeros(&[2, 3, 0], DType::F32);
    let b = Tensor::ones(&[2, 0, 4], DType::F32);
    assert_eq!(
        a.matmul(&b).unwrap().to_vec::<f32>().unwrap(),
        vec![0.0; 24]
    );
}

#[test]
fn elementwise_shape_and_index_ops_accept_empty_tensors() {
    let e = Tensor::zeros(&[3, 0], DType::F64).requires_grad_(true);
    let row = Tensor::ones(&[1, 0], DType::F64);
    let y = e
        .add(&row)
        .unwrap()
        .mul(&e)
        .unwrap()
        .exp()
        .unwrap()
        .sigmoid()
        .unwrap()
        .pow(&Tensor::scalar(2.0f64))
        .unwrap()
        .maximum(&row)
        .unwrap()
        .clamp(0.0, 1.0)
        .unwrap()
        .gelu()
        .unwrap();
    assert_eq!(y.shape(), &[3, 0]);
    let z = Tensor::concat(&[&y, &e], 1).unwrap();
    assert_eq!(z.shape(), &[3, 0]);
    let z = z
        .t()
        .unwrap()
        .contiguous()
        .unwrap()
        .reshape(&[0, 3])
        .unwrap();
    let z = z
        .index_select(1, &Tensor::from_vec(vec![0.0f32, 2.0], &[2]).unwrap())
        .unwrap()
        .pad_axis(1, 1, 0)
        .unwrap();
    assert_eq!(z.shape(), &[0, 3]);
    z.sum_all().unwrap().backward().unwrap();
    assert_eq!(e.grad().unwrap().shape(), &[3, 0]);
    assert!(Tensor::zeros(&[0], DType::F32).max_all().is_err());
    assert_eq!(
        Tensor::zeros(&[0, 4], DType::F64)
            .dropout(0.5, &mut gradus_tensor::Rng::seed(1))
            .unwrap()
            .shape(),
        &[0, 4]
    );
}

#[test]
fn convolution_and_pooling_accept_an_empty_batch_or_image() {
    let w = Tensor::ones(&[2, 3, 3, 3], DType::F64).requires_grad_(true);
    let x = Tensor::zeros(&[0, 3, 5, 5], DType::F64).requires_grad_(true);
    let y = x
        .conv2d(
            &w,
            None,
            &Conv2dOptions {
                padding: (1, 1),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(y.shape(), &[0, 2, 5, 5]);
    y.sum_all().unwrap().backward().unwrap();
    assert_eq!(w.grad().unwrap().to_vec::<f64>().unwrap(), vec![0.0; 54]);
    assert_eq!(x.grad().unwrap().shape(), &[0, 3, 5, 5]);
    // a zero-height image with padding: every window reads padding only
    let flat = Tensor::zeros(&[1, 3, 0, 4], DType::F64).requires_grad_(true);
    let y = flat
        .conv2d(
            &w,
            None,
            &Conv2dOptions {
                padding: (2, 1),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(y.to_vec::<f64>().unwrap(), vec![0.0; 2 * 2 * 4]);
    y.sum_all().unwrap().backward().unwrap();
    assert_eq!(flat.grad().unwrap().shape(), &[1, 3, 0, 4]);
    let p = Tensor::zeros(&[0, 2, 4, 4], DType::F32);
    assert_eq!(
        p.max_pool2d(&Pool2d::new((2, 2))).unwrap().shape(),
        &[0, 2, 2, 2]
    );
    assert_eq!(
        p.avg_pool2d(&Pool2d::new((2, 2))).unwrap().shape(),
        &[0, 2, 2, 2]
    );
}
