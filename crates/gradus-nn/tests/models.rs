//! Each ready model learns a tiny synthetic problem: a few dozen steps of a hand-written Adam (or
//! SGD) bring its loss well below the starting loss.

use gradus_nn::layers::Activation;
use gradus_nn::loss::{self, CrossEntropyOptions, Reduction};
use gradus_nn::models::{Gpt, GptConfig, LeNet, LstmClassifier, MatrixFactorization, Mlp};
use gradus_nn::{Module, Param};
use gradus_tensor::{DType, Result, Rng, Tensor};

/// A minimal Adam (PyTorch's defaults but `lr`), updating parameters in place.
struct Adam {
    lr: f64,
    step: i32,
    moments: Vec<(Vec<f64>, Vec<f64>)>,
}

impl Adam {
    fn new(lr: f64) -> Adam {
        Adam {
            lr,
            step: 0,
            moments: Vec::new(),
        }
    }

    fn update(&mut self, params: &[Param]) {
        self.step += 1;
        if self.moments.is_empty() {
            self.moments = params
                .iter()
                .map(|p| (vec![0.0; p.numel()], vec![0.0; p.numel()]))
                .collect();
        }
        let (b1, b2, t) = (0.9f64, 0.999f64, self.step);
        for (p, (m, v)) in params.iter().zip(&mut self.moments) {
            let Some(g) = p.grad() else { continue };
            let g = g.to_vec_f64();
            p.tensor()
                .update_data(|w: &mut [f32]| {
                    for i in 0..w.len() {
                        m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                        v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                        let (mh, vh) = (m[i] / (1.0 - b1.powi(t)), v[i] / (1.0 - b2.powi(t)));
                        w[i] -= (self.lr * mh / (vh.sqrt() + 1e-8)) as f32;
                    }
                })
                .unwrap();
            p.zero_grad();
        }
    }
}

/// Runs `steps` Adam steps on `loss_fn` and returns (first loss, last loss).
fn train(
    model: &dyn Module,
    lr: f64,
    steps: usize,
    loss_fn: impl Fn() -> Result<Tensor>,
) -> (f64, f64) {
    let mut opt = Adam::new(lr);
    let params = model.parameters();
    let mut losses = Vec::new();
    for _ in 0..steps {
        let l = loss_fn().unwrap();
        losses.push(l.item().unwrap());
        l.backward().unwrap();
        opt.update(&params);
    }
    (losses[0], loss_fn().unwrap().item().unwrap())
}

fn assert_learns(name: &str, (first, last): (f64, f64), ratio: f64) {
    eprintln!("{name}: loss {first:.4} -> {last:.4}");
    assert!(
        last.is_finite() && last < ratio * first,
        "{name}: loss went from {first} to {last}"
    );
}

#[test]
fn mlp_fits_a_smooth_function() {
    let mlp = Mlp::new(&[2, 16, 16, 1], Activation::Tanh, &mut Rng::seed(0));
    let x = Rng::seed(1).uniform(&[64, 2], -1.0, 1.0, DType::F32);
    let v = x.to_vec_f64();
    let y: Vec<f32> = v
        .chunks(2)
        .map(|p| (p[0] * 3.0).sin() as f32 + (p[1] * p[1]) as f32)
        .collect();
    let y = Tensor::from_vec(y, &[64, 1]).unwrap();
    let result = train(&mlp, 0.01, 150, || {
        loss::mse_loss(&mlp.forward(&x)?, &y, Reduction::Mean)
    });
    assert_learns("mlp", result, 0.2);
}

#[test]
fn mlp_learns_with_plain_sgd() {
    let mlp = Mlp::new(&[1, 8, 1], Activation::ReLU, &mut Rng::seed(0));
    let x = Tensor::from_vec((0..16).map(|i| i as f32 / 8.0 - 1.0).collect(), &[16, 1]).unwrap();
    let y = x.mul_scalar(2.0).unwrap().add_scalar(0.5).unwrap();
    let step = || -> f64 {
        let l = loss::mse_loss(&mlp.forward(&x).unwrap(), &y, Reduction::Mean).unwrap();
        l.backward().unwrap();
        for p in mlp.parameters() {
            let g = p.grad().unwrap().to_vec::<f32>().unwrap();
            p.tensor()
                .update_data(|w: &mut [f32]| w.iter_mut().zip(&g).for_each(|(w, g)| *w -= 0.1 * g))
                .unwrap();
            p.zero_grad();
        }
        l.item().unwrap()
    };
    let first = step();
    let mut last = first;
    for _ in 0..60 {
        last = step();
    }
    assert_learns("mlp-sgd", (first, last), 0.5);
}

/// Images whose class is the quadrant holding a bright square.
/// Class labels (or ids) as the tensor the losses and embeddings take: whole numbers in f32.
fn classes(labels: &[usize]) -> Tensor {
    let v: Vec<f32> = labels.iter().map(|&c| c as f32).collect();
    Tensor::from_vec(v, &[labels.len()]).unwrap()
}

fn quadrant_images(n: usize) -> (Tensor, Vec<usize>) {
    let mut data = vec![0.0f32; n * 28 * 28];
    let labels: Vec<usize> = (0..n).map(|i| i % 4).collect();
    for (i, &c) in labels.iter().enumerate() {
        let (r0, c0) = ((c / 2) * 14 + 3, (c % 2) * 14 + 3 + i % 3);
        for r in r0..r0 + 8 {
            for col in c0..c0 + 8 {
                data[i * 784 + r * 28 + col] = 1.0;
            }
        }
    }
    (Tensor::from_vec(data, &[n, 1, 28, 28]).unwrap(), labels)
}

#[test]
fn lenet_classifies_quadrants() {
    let net = LeNet::new(4, &mut Rng::seed(0));
    let (x, labels) = quadrant_images(12);
    let labels = classes(&labels);
    let o = CrossEntropyOptions::default();
    let result = train(&net, 0.003, 25, || {
        loss::cross_entropy(&net.forward(&x)?, &labels, &o)
    });
    assert_learns("lenet", result, 0.3);
}

#[test]
fn lstm_classifies_the_sign_of_a_sum() {
    let model = LstmClassifier::new(1, 12, 1, 2, &mut Rng::seed(0));
    let x = Rng::seed(3).normal(&[32, 6, 1], 0.0, 1.0, DType::F32);
    let labels: Vec<usize> = x
        .to_vec_f64()
        .chunks(6)
        .map(|s| (s.iter().sum::<f64>() > 0.0) as usize)
        .collect();
    let labels = classes(&labels);
    let o = CrossEntropyOptions::default();
    let result = train(&model, 0.03, 60, || {
        loss::cross_entropy(&model.forward(&x)?, &labels, &o)
    });
    assert_learns("lstm", result, 0.5);
}

#[test]
fn gpt_learns_a_repeating_sequence() {
    let cfg = GptConfig {
        vocab: 8,
        block_size: 12,
        embed_dim: 16,
        heads: 2,
        layers: 1,
        tie_weights: true,
    };
    let gpt = Gpt::new(cfg, &mut Rng::seed(0));
    // two sequences of a cycle 0..8, offset; predict each next token
    let seqs: Vec<Vec<usize>> = (0..2)
        .map(|s| (0..13).map(|t| (t + 3 * s) % 8).collect())
        .collect();
    let inputs: Vec<f32> = seqs
        .iter()
        .flat_map(|s| s[..12].iter().map(|&t| t as f32))
        .collect();
    let targets: Vec<usize> = seqs.iter().flat_map(|s| s[1..].to_vec()).collect();
    let targets = classes(&targets);
    let x = Tensor::from_vec(inputs, &[2, 12]).unwrap();
    let o = CrossEntropyOptions::default();
    let result = train(&gpt, 0.01, 40, || {
        loss::cross_entropy(&gpt.forward(&x)?.reshape(&[24, 8])?, &targets, &o)
    });
    assert_learns("gpt", result, 0.3);
}

#[test]
fn matrix_factorization_fits_low_rank_ratings() {
    let (users, items) = (8, 6);
    let mut rng = Rng::seed(5);
    let (u, v) = (
        rng.normal(&[users, 2], 0.0, 1.0, DType::F64).to_vec_f64(),
        rng.normal(&[items, 2], 0.0, 1.0, DType::F64).to_vec_f64(),
    );
    let pairs: Vec<(usize, usize)> = (0..users)
        .flat_map(|a| (0..items).map(move |b| (a, b)))
        .filter(|(a, b)| (a + b) % 3 != 0)
        .collect();
    let ratings: Vec<f32> = pairs
        .iter()
        .map(|&(a, b)| (3.0 + u[2 * a] * v[2 * b] + u[2 * a + 1] * v[2 * b + 1]) as f32)
        .collect();
    let x = Tensor::from_vec(
        pairs
            .iter()
            .flat_map(|&(a, b)| [a as f32, b as f32])
            .collect(),
        &[pairs.len(), 2],
    )
    .unwrap();
    let y = Tensor::from_vec(ratings, &[pairs.len()]).unwrap();
    let mf = MatrixFactorization::new(users, items, 3, &mut Rng::seed(0));
    let result = train(&mf, 0.05, 150, || {
        loss::mse_loss(&mf.forward(&x)?, &y, Reduction::Mean)
    });
    assert_learns("mf", result, 0.1);
}
