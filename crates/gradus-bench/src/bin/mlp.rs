//! One training step of an MLP 784-512-256-10 (ReLU, softmax cross-entropy), batch 128, f32:
//! forward + backward (`mlp_fwd_bwd`) and forward + backward + Adam (`mlp_train_step`), the work
//! `bench/peers.py` gives PyTorch and JAX.

use gradus_bench::{median_seconds, report};
use gradus_optim::{Adam, Optimizer};
use gradus_tensor::{DType, Result, Rng, Tensor};

const BATCH: usize = 128;

/// Weights [in, out] (so `x @ w` needs no transpose) and biases, as trainable leaves.
fn init(sizes: &[usize], rng: &mut Rng) -> Vec<(Tensor, Tensor)> {
    sizes
        .windows(2)
        .map(|p| {
            let bound = 1.0 / (p[0] as f64).sqrt();
            let w = rng
                .uniform(&[p[0], p[1]], -bound, bound, DType::F32)
                .requires_grad_(true);
            let b = rng
                .uniform(&[p[1]], -bound, bound, DType::F32)
                .requires_grad_(true);
            (w, b)
        })
        .collect()
}

fn loss(layers: &[(Tensor, Tensor)], x: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let mut h = x.clone();
    for (i, (w, b)) in layers.iter().enumerate() {
        h = h.matmul(w)?.add(b)?;
        if i + 1 < layers.len() {
            h = h.relu()?;
        }
    }
    let picked = h.log_softmax(-1)?.gather(1, labels)?;
    picked.mean_all()?.neg()
}

fn main() -> Result<()> {
    gradus_bench::configure_allocator();
    let threads = gradus_bench::threads();
    let mut rng = Rng::seed(0);
    let layers = init(&[784, 512, 256, 10], &mut rng);
    let x = rng.uniform(&[BATCH, 784], 0.0, 1.0, DType::F32);
    // the labels as a [batch, 1] index tensor, made once as a data loader would
    let labels: Vec<f32> = (0..BATCH).map(|_| rng.below(10) as f32).collect();
    let labels = Tensor::from_vec(labels, &[BATCH, 1])?;
    let step = || {
        loss(&layers, &x, &labels).unwrap().backward().unwrap();
        for (w, b) in &layers {
            w.set_grad(None);
            b.set_grad(None);
        }
    };
    let s = median_seconds(5, 50, step);
    report(
        "mlp_fwd_bwd",
        s,
        serde_json::json!({"samples_per_s": BATCH as f64 / s, "threads": threads}),
    );

    let params: Vec<Tensor> = layers
        .iter()
        .flat_map(|(w, b)| [w.clone(), b.clone()])
        .collect();
    let mut adam = Optimizer::new(Adam::new(1e-3), &params).expect("valid hyperparameters");
    let train_step = || {
        loss(&layers, &x, &labels).unwrap().backward().unwrap();
        adam.step().unwrap();
        adam.zero_grad();
    };
    let s = median_seconds(5, 50, train_step);
    report(
        "mlp_train_step",
        s,
        serde_json::json!({"samples_per_s": BATCH as f64 / s, "threads": threads}),
    );
    Ok(())
}
