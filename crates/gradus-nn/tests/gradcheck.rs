//! Every layer and loss passes `gradus_tensor::gradcheck` (central differences in f64) with
//! respect to its input and all of its parameters, on small random values.

use gradus_nn::layers::lora::{add_lora, LoraConfig};
use gradus_nn::layers::{
    Activation, AvgPool2d, BatchNorm, Conv2d, Dropout, Embedding, Flatten, LayerNorm, Linear,
    MaxPool2d, MultiheadAttention, Recurrent, Sequential, TransformerBlock,
};
use gradus_nn::loss::{self, CrossEntropyOptions, Reduction};
use gradus_nn::Module;
use gradus_tensor::ops::{conv::Conv2dOptions, pool::Pool2d};
use gradus_tensor::{gradcheck, DType, GradcheckOptions, Result, Rng, Tensor};

fn randn(shape: &[usize], seed: u64) -> Tensor {
    Rng::seed(seed).normal(shape, 0.0, 1.0, DType::F64)
}

/// Gradchecks `m` with respect to `x` (when `wrt_x`) and every parameter (set to random values).
fn check(m: &dyn Module, x: Tensor, wrt_x: bool) {
    m.cast(DType::F64).unwrap();
    let params = m.parameters();
    let mut inputs: Vec<Tensor> = params
        .iter()
        .enumerate()
        .map(|(i, p)| randn(&p.shape(), 100 + i as u64).mul_scalar(0.5).unwrap())
        .collect();
    if wrt_x {
        inputs.insert(0, x.clone());
    }
    let f = |xs: &[Tensor]| -> Result<Tensor> {
        let (input, ps) = if wrt_x {
            (xs[0].clone(), &xs[1..])
        } else {
            (x.clone(), xs)
        };
        params.iter().zip(ps).for_each(|(p, t)| p.bind(t.clone()));
        m.forward(&input)
    };
    if let Err(e) = gradcheck(f, &inputs, GradcheckOptions::default()) {
        panic!("{e}");
    }
}

#[test]
fn linear_and_containers() {
    let mut rng = Rng::seed(0);
    check(&Linear::new(4, 3, true, &mut rng), randn(&[2, 4], 1), true);
    check(
        &Linear::new(4, 3, false, &mut rng),
        randn(&[2, 2, 4], 2),
        true,
    );
    let seq = Sequential::new()
        .push(Flatten::default())
        .push(Linear::new(6, 2, true, &mut rng))
        .push(Activation::Tanh);
    check(&seq, randn(&[2, 2, 3], 3), true);
}

#[test]
fn activations() {
    let all = [
        Activation::ReLU,
        Activation::leaky_relu(),
        Activation::elu(),
        Activation::GELU,
        Activation::GELUTanh,
        Activation::SiLU,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::softplus(),
        Activation::Softmax(-1),
        Activation::LogSoftmax(0),
        Activation::Identity,
    ];
    for a in all {
        check(&a, randn(&[3, 4], 4), true);
    }
}

#[test]
fn dropout_with_a_fixed_mask() {
    // a fresh layer per call reproduces the mask, so the function is deterministic
    let f = |xs: &[Tensor]| Dropout::new(0.3, 7).forward(&xs[0]);
    gradcheck(f, &[randn(&[4, 5], 5)], GradcheckOptions::default()).unwrap();
}

#[test]
fn normalization() {
    check(&BatchNorm::new_1d(3), randn(&[5, 3], 6), true);
    check(&BatchNorm::new_1d(2), randn(&[3, 2, 4], 7), true);
    check(&BatchNorm::new_2d(2), randn(&[2, 2, 3, 3], 8), true);
    let eval = BatchNorm::new_2d(2);
    eval.eval();
    check(&eval, randn(&[2, 2, 2, 2], 9), true);
    check(&LayerNorm::new(&[4]), randn(&[2, 3, 4], 10), true);
    check(&LayerNorm::new(&[2, 3]), randn(&[2, 2, 3], 11), true);
}

#[test]
fn embedding_weight() {
    let ids = Tensor::from_vec(vec![1.0f64, 3.0, 1.0, 0.0], &[2, 2]).unwrap();
    check(&Embedding::new(5, 3, &mut Rng::seed(0)), ids, false);
    // f32 ids (the table is f64 here) read through a transposed view
    let ids = Tensor::from_vec(vec![4.0f32, 0.0, 2.0, 4.0, 1.0, 0.0], &[2, 3])
        .unwrap()
        .t()
        .unwrap();
    check(&Embedding::new(5, 2, &mut Rng::seed(1)), ids, false);
}

#[test]
fn convolution_and_pooling() {
    let mut rng = Rng::seed(0);
    let opts = Conv2dOptions {
        stride: (2, 1),
        padding: (1, 1),
        dilation: (1, 2),
        groups: 2,
    };
    check(
        &Conv2d::new(4, 2, (3, 2), opts, true, &mut rng),
        randn(&[1, 4, 5, 5], 12),
        true,
    );
    check(
        &Conv2d::new(1, 2, (2, 2), Conv2dOptions::default(), false, &mut rng),
        randn(&[2, 1, 3, 3], 13),
        true,
    );
    check(
        &MaxPool2d(Pool2d::new((2, 2))),
        randn(&[1, 2, 4, 4], 14),
        true,
    );
    check(
        &AvgPool2d(Pool2d {
            kernel: (3, 3),
            stride: (2, 2),
            padding: (1, 1),
        }),
        randn(&[1, 2, 5, 5], 15),
        true,
    );
}

#[test]
fn recurrent_layers() {
    let mut rng = Rng::seed(0);
    check(
        &Recurrent::rnn(2, 3, 2, &mut rng),
        randn(&[2, 3, 2], 16),
        true,
    );
    check(
        &Recurrent::gru(2, 3, 1, &mut rng),
        randn(&[2, 3, 2], 17),
        true,
    );
    check(
        &Recurrent::lstm(2, 3, 2, &mut rng),
        randn(&[2, 3, 2], 18),
        true,
    );
}

/// Attention with a key padding mask, as a module for `check`.
struct Masked(MultiheadAttention, Vec<bool>);
impl Module for Masked {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.0.attend(x, Some(&self.1))
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("attn".into(), &self.0)]
    }
}

#[test]
fn attention_and_transformer() {
    let mut rng = Rng::seed(0);
    check(
        &MultiheadAttention::new(4, 2, false, &mut rng),
        randn(&[2, 3, 4], 19),
        true,
    );
    check(
        &MultiheadAttention::new(4, 2, true, &mut rng),
        randn(&[1, 3, 4], 20),
        true,
    );
    let mask = vec![false, false, true, false, true, false];
    check(
        &Masked(MultiheadAttention::new(4, 1, true, &mut rng), mask),
        randn(&[2, 3, 4], 21),
        true,
    );
    check(
        &TransformerBlock::new(4, 2, 8, true, &mut rng),
        randn(&[1, 3, 4], 22),
        true,
    );
}

#[test]
fn lora_adapters() {
    // every parameter (frozen base, A, B) is bound to random values, so B is not zero here
    let mut rng = Rng::seed(0);
    let config = |t: &str| LoraConfig {
        rank: 2,
        alpha: 4.0,
        target_modules: vec![t.into()],
    };
    let lin = Linear::new(3, 2, true, &mut rng);
    add_lora(&lin, &config("lin"), &mut rng).unwrap_err(); // a lone layer is named ""
    let seq = Sequential::new().push(lin);
    add_lora(&seq, &config("0"), &mut rng).unwrap();
    check(&seq, randn(&[2, 3], 23), true);
    let mha = Sequential::new().push(MultiheadAttention::new(4, 2, true, &mut rng));
    add_lora(&mha, &config("in_proj"), &mut rng).unwrap();
    add_lora(&mha, &config("out_proj"), &mut rng).unwrap();
    // in_proj: A [2, 4], B [12, 2]; out_proj: A [2, 4], B [4, 2]
    assert_eq!(mha.num_trainable_parameters(), 8 + 24 + 8 + 8);
    check(&mha, randn(&[1, 3, 4], 26), true);
}

fn check_loss(f: impl Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Tensor]) {
    if let Err(e) = gradcheck(f, inputs, GradcheckOptions::default()) {
        panic!("{e}");
    }
}

#[test]
fn losses() {
    let (x, y) = (randn(&[3, 4], 24), randn(&[3, 4], 25));
    for r in [Reduction::Mean, Reduction::Sum, Reduction::None] {
        check_loss(
            |xs| loss::mse_loss(&xs[0], &xs[1], r),
            &[x.clone(), y.clone()],
        );
        check_loss(
            |xs| loss::l1_loss(&xs[0], &xs[1], r),
            &[x.clone(), y.clone()],
        );
        check_loss(
            |xs| loss::huber_loss(&xs[0], &xs[1], 0.8, r),
            &[x.clone(), y.clone()],
        );
        check_loss(
            |xs| loss::bce_with_logits(&xs[0], &xs[1], r),
            &[x.clone(), y.sigmoid().unwrap()],
        );
    }
    let p = randn(&[3, 4], 26).softmax(-1).unwrap();
    check_loss(
        |xs| loss::kl_div(&xs[0], &xs[1], Reduction::BatchMean),
        &[x.log_softmax(-1).unwrap(), p],
    );
}

#[test]
fn classification_losses() {
    let logits = randn(&[4, 3], 27);
    let weight = Tensor::from_vec(vec![0.5f64, 2.0, 1.0], &[3]).unwrap();
    let targets = Tensor::from_vec(vec![2.0f32, 0.0, 1.0, 1.0], &[4]).unwrap();
    for (smoothing, reduction) in [
        (0.0, Reduction::Mean),
        (0.2, Reduction::Mean),
        (0.1, Reduction::Sum),
        (0.1, Reduction::None),
    ] {
        let o = CrossEntropyOptions {
            weight: Some(weight.clone()),
            ignore_index: Some(0),
            label_smoothing: smoothing,
            reduction,
        };
        check_loss(
            |xs| loss::cross_entropy(&xs[0], &targets, &o),
            std::slice::from_ref(&logits),
        );
        check_loss(
            |xs| loss::nll_loss(&xs[0].log_softmax(1)?, &targets, &o),
            std::slice::from_ref(&logits),
        );
    }
}
