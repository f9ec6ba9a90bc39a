//! Every ready model's first loss against the value a sensible initialization gives: `ln(classes)`
//! for a classifier (its logits start near zero), the targets' mean square for a regression
//! (its outputs start near zero), over a few seeds. A GPT on 65 symbols used to start at 38.

use gradus_nn::layers::Activation;
use gradus_nn::loss::{self, CrossEntropyOptions, Reduction};
use gradus_nn::models::{Gpt, GptConfig, LeNet, LstmClassifier, MatrixFactorization, Mlp};
use gradus_nn::Module;
use gradus_tensor::{DType, Rng, Tensor};

const SEEDS: [u64; 3] = [0, 1, 2];

/// Class labels (or ids) as the tensor the losses and embeddings take: whole numbers in f32.
fn classes(labels: &[usize]) -> Tensor {
    let v: Vec<f32> = labels.iter().map(|&c| c as f32).collect();
    Tensor::from_vec(v, &[labels.len()]).unwrap()
}

fn labels(n: usize, classes: usize, rng: &mut Rng) -> Vec<usize> {
    (0..n).map(|_| rng.below(classes)).collect()
}

fn cross_entropy(logits: &Tensor, targets: &[usize]) -> f64 {
    let o = CrossEntropyOptions::default();
    loss::cross_entropy(logits, &classes(targets), &o)
        .unwrap()
        .item()
        .unwrap()
}

/// Asserts `|got - want| <= tol` for every seed, with a message naming the model.
fn assert_near(model: &str, got: &[f64], want: f64, tol: f64) {
    for (seed, g) in SEEDS.iter().zip(got) {
        assert!(
            (g - want).abs() <= tol,
            "{model}, seed {seed}: first loss {g}, expected {want} +- {tol}"
        );
    }
}

#[test]
fn gpt_starts_near_ln_vocab() {
    // the Shakespeare example's model: 65 symbols, width 64, 2 layers, 4 heads, context 64
    for tie_weights in [true, false] {
        let cfg = GptConfig {
            vocab: 65,
            block_size: 64,
            embed_dim: 64,
            heads: 4,
            layers: 2,
            tie_weights,
        };
        let losses: Vec<f64> = SEEDS
            .iter()
            .map(|&seed| {
                let gpt = Gpt::new(cfg, &mut Rng::seed(seed));
                let mut rng = Rng::seed(100 + seed);
                let ids: Vec<f32> = labels(4 * 64, 65, &mut rng)
                    .iter()
                    .map(|&i| i as f32)
                    .collect();
                let targets = labels(4 * 64, 65, &mut rng);
                let x = Tensor::from_vec(ids, &[4, 64]).unwrap();
                let logits = gpt.forward(&x).unwrap().reshape(&[4 * 64, 65]).unwrap();
                cross_entropy(&logits, &targets)
            })
            .collect();
        assert_near(
            &format!("gpt (tied {tie_weights})"),
            &losses,
            65f64.ln(),
            0.1,
        );
    }
}

#[test]
fn deeper_gpt_residual_stream_stays_small() {
    // residual projections scaled by 1/sqrt(2 layers): 8 layers start as well as 2
    let cfg = GptConfig {
        vocab: 30,
        block_size: 16,
        embed_dim: 32,
        heads: 4,
        layers: 8,
        tie_weights: true,
    };
    let losses: Vec<f64> = SEEDS
        .iter()
        .map(|&seed| {
            let gpt = Gpt::new(cfg, &mut Rng::seed(seed));
            let mut rng = Rng::seed(7 + seed);
            let ids: Vec<f32> = labels(4 * 16, 30, &mut rng)
                .iter()
                .map(|&i| i as f32)
                .collect();
            let x = Tensor::from_vec(ids, &[4, 16]).unwrap();
            let logits = gpt.forward(&x).unwrap().reshape(&[64, 30]).unwrap();
            cross_entropy(&logits, &labels(64, 30, &mut rng))
        })
        .collect();
    assert_near("gpt (8 layers)", &losses, 30f64.ln(), 0.1);
}

#[test]
fn mlp_classifier_starts_near_ln_classes() {
    let losses: Vec<f64> = SEEDS
        .iter()
        .map(|&seed| {
            let mlp = Mlp::new(&[30, 128, 128, 10], Activation::ReLU, &mut Rng::seed(seed));
            let mut rng = Rng::seed(50 + seed);
            let x = rng.normal(&[256, 30], 0.0, 1.0, DType::F32); // standardized features
            cross_entropy(&mlp.forward(&x).unwrap(), &labels(256, 10, &mut rng))
        })
        .collect();
    assert_near("mlp classifier", &losses, 10f64.ln(), 0.1);
}

#[test]
fn mlp_regression_starts_near_the_targets_mean_square() {
    // standardized targets: mean square 1 (their variance); the outputs add a little
    let losses: Vec<f64> = SEEDS
        .iter()
        .map(|&seed| {
            let mlp = Mlp::new(&[8, 64, 64, 1], Activation::Tanh, &mut Rng::seed(seed));
            let mut rng = Rng::seed(60 + seed);
            let x = rng.normal(&[512, 8], 0.0, 1.0, DType::F32);
            let y = rng.normal(&[512, 1], 0.0, 1.0, DType::F32);
            let mean_square = y.mul(&y).unwrap().mean_all().unwrap().item().unwrap();
            let mse = loss::mse_loss(&mlp.forward(&x).unwrap(), &y, Reduction::Mean).unwrap();
            mse.item().unwrap() / mean_square
        })
        .collect();
    assert_near(
        "mlp regression (loss / target mean square)",
        &losses,
        1.0,
        0.25,
    );
}

#[test]
fn lenet_starts_near_ln_classes() {
    let losses: Vec<f64> = SEEDS
        .iter()
        .map(|&seed| {
            let net = LeNet::new(10, &mut Rng::seed(seed));
            let mut rng = Rng::seed(70 + seed);
            let x = rng.uniform(&[16, 1, 28, 28], 0.0, 1.0, DType::F32); // MNIST pixels in [0, 1]
            cross_entropy(&net.forward(&x).unwrap(), &labels(16, 10, &mut rng))
        })
        .collect();
    assert_near("lenet", &losses, 10f64.ln(), 0.1);
}

#[test]
fn lstm_classifier_starts_near_ln_classes() {
    let losses: Vec<f64> = SEEDS
        .iter()
        .map(|&seed| {
            let m = LstmClassifier::new(6, 32, 2, 5, &mut Rng::seed(seed));
            let mut rng = Rng::seed(80 + seed);
            let x = rng.normal(&[64, 12, 6], 0.0, 1.0, DType::F32);
            cross_entropy(&m.forward(&x).unwrap(), &labels(64, 5, &mut rng))
        })
        .collect();
    assert_near("lstm classifier", &losses, 5f64.ln(), 0.1);
}

#[test]
fn matrix_factorization_starts_at_the_ratings_mean_square() {
    // predictions start at the global bias (0) plus factor products of variance dim * 0.1^4
    let (users, items, dim) = (40, 30, 8);
    let losses: Vec<f64> = SEEDS
        .iter()
        .map(|&seed| {
            let mf = MatrixFactorization::new(users, items, dim, &mut Rng::seed(seed));
            let mut rng = Rng::seed(90 + seed);
            let (u, i) = (labels(500, users, &mut rng), labels(500, items, &mut rng));
            let ratings: Vec<f32> = (0..500).map(|_| 1.0 + rng.below(5) as f32).collect();
            let mean_square =
                ratings.iter().map(|r| (r * r) as f64).sum::<f64>() / ratings.len() as f64;
            let y = Tensor::from_vec(ratings, &[500]).unwrap();
            let mse = loss::mse_loss(
                &mf.predict(&classes(&u), &classes(&i)).unwrap(),
                &y,
                Reduction::Mean,
            )
            .unwrap();
            mse.item().unwrap() / (mean_square + dim as f64 * 1e-4)
        })
        .collect();
    assert_near("matrix factorization (loss / expected)", &losses, 1.0, 0.02);
}
