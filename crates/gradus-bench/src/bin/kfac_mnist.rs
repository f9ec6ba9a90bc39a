//! Steps to a target training loss: K-FAC against Adam on an MNIST MLP 784-128-10 (ReLU,
//! softmax cross-entropy, f32), as in the experiments of Martens & Grosse 2015 (there: deep
//! autoencoders; here the repository's MNIST). Both start from the same weights and see the
//! same batches; every `EVAL_EVERY` steps the loss over the whole training subset is measured
//! (under `no_grad`, so K-FAC captures nothing) and the first step at which it is at most
//! `TARGET` is reported, with the wall time.
//!
//! `cargo run -p gradus-bench --bin kfac_mnist -- [MNIST_DIR] [SAMPLES]` (default `data/mnist`,
//! 4096 samples), from the repository root.

use gradus_data::{mnist, Targets};
use gradus_nn::{layers::Activation, models::Mlp, Module};
use gradus_optim::{Adam, GradientTransformation, Kfac, Optimizer};
use gradus_tensor::{autodiff::no_grad, capture, Rng, Tensor};
use std::time::Instant;

const BATCH: usize = 256;
const TARGET: f64 = 0.25;
const EVAL_EVERY: usize = 5;
const MAX_STEPS: usize = 1000;

/// The features `[n, 784]` and labels `[n]` (as floats) of batch `indices`.
fn batch(ds: &gradus_data::Dataset, indices: &[usize]) -> (Tensor, Tensor) {
    let b = ds.batch(indices);
    let labels: Vec<f32> = match &b.y {
        Targets::Classes { labels, .. } => labels.iter().map(|&l| l as f32).collect(),
        _ => unreachable!("MNIST has class labels"),
    };
    let x = Tensor::from_vec(b.x, &[indices.len(), 784]).expect("784 pixels per image");
    (
        x,
        Tensor::from_vec(labels, &[indices.len()]).expect("one label per image"),
    )
}

/// Trains a fresh MLP (seed 0) with `opt`; the first step whose full-subset loss is at most
/// `TARGET` (if any), the final loss and the seconds taken.
fn run(
    name: &str,
    opt: impl GradientTransformation + 'static,
    ds: &gradus_data::Dataset,
) -> (Option<usize>, f64, f64) {
    let model = Mlp::new(&[784, 128, 10], Activation::ReLU, &mut Rng::seed(0));
    let params: Vec<Tensor> = model.parameters().iter().map(|p| p.tensor()).collect();
    let mut opt = Optimizer::new(opt, &params).expect("valid hyperparameters");
    let all: Vec<usize> = (0..ds.len()).collect();
    let (x_all, y_all) = batch(ds, &all);
    let full_loss =
        || no_grad(|| model.forward(&x_all)?.cross_entropy(&y_all, true)?.item()).expect("loss");
    let mut rng = Rng::seed(1);
    let mut order = rng.permutation(ds.len());
    let (mut at, start, mut reached, mut loss) = (0, Instant::now(), None, full_loss());
    for step in 1..=MAX_STEPS {
        if at + BATCH > order.len() {
            order = rng.permutation(ds.len());
            at = 0;
        }
        let (x, y) = batch(ds, &order[at..at + BATCH]);
        at += BATCH;
        opt.zero_grad();
        model
            .forward(&x)
            .and_then(|o| o.cross_entropy(&y, true))
            .and_then(|l| l.backward())
            .expect("step");
        opt.step().expect("optimizer step");
        if step % EVAL_EVERY == 0 {
            loss = full_loss();
            if loss <= TARGET {
                reached = Some(step);
                break;
            }
        }
    }
    capture::enable(false);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name:<28} steps to loss <= {TARGET}: {:>5}  final loss {loss:.4}  {secs:.1} s",
        reached.map_or("never".into(), |s| s.to_string())
    );
    (reached, loss, secs)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "data/mnist".into());
    let samples: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(4096);
    let train = mnist::load(&dir, mnist::Split::Train).unwrap_or_else(|e| {
        eprintln!("error: {dir}: {e}");
        std::process::exit(1)
    });
    let ds = train.subset(&(0..samples.min(train.len())).collect::<Vec<_>>());
    println!(
        "MNIST MLP 784-128-10, {} samples, batch {BATCH}, target training loss {TARGET}",
        ds.len()
    );
    for lr in [1e-3, 3e-3] {
        run(&format!("adam lr={lr}"), Adam::new(lr), &ds);
    }
    for lr in [0.03, 0.1] {
        let kfac = Kfac::new(lr)
            .damping(3e-2)
            .kl_clip(1e-2)
            .stat_freq(5)
            .inv_freq(20);
        run(&format!("kfac lr={lr}"), kfac, &ds);
    }
}
