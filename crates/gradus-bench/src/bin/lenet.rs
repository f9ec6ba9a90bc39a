//! One training step of the LeNet CNN of `examples/mnist-cnn.toml` (`gradus_nn::models::LeNet`:
//! conv 1->6 5x5 pad 2, ReLU, max-pool 2, conv 6->16 5x5, ReLU, max-pool 2, 400-120-84-10 with
//! ReLU), softmax cross-entropy, Adam (lr 2e-3), batch 128 of `[1, 28, 28]` f32 images:
//! forward + backward + step (`lenet_train_step`), the work `bench/peers.py` gives PyTorch eager
//! and JAX jit + optax.
//!
//! Args: `--json` (accepted; output is always JSON lines) and `--threads N`.

use gradus_bench::{median_seconds, report};
use gradus_nn::{loss, models::LeNet, Module};
use gradus_optim::{Adam, Optimizer};
use gradus_tensor::{DType, Result, Rng, Tensor};

const BATCH: usize = 128;

fn main() -> Result<()> {
    gradus_bench::configure_allocator();
    let threads = gradus_bench::threads();
    let mut rng = Rng::seed(0);
    let model = LeNet::new(10, &mut rng);
    let params: Vec<Tensor> = model.parameters().iter().map(|p| p.tensor()).collect();
    let mut adam = Optimizer::new(Adam::new(2e-3), &params).expect("valid hyperparameters");
    let x = rng.uniform(&[BATCH, 1, 28, 28], 0.0, 1.0, DType::F32);
    // class indices as a [batch] float tensor, made once as a data loader would
    let labels: Vec<f32> = (0..BATCH).map(|_| rng.below(10) as f32).collect();
    let labels = Tensor::from_vec(labels, &[BATCH])?;
    let options = loss::CrossEntropyOptions::default();
    let step = || {
        let logits = model.forward(&x).unwrap();
        loss::cross_entropy(&logits, &labels, &options)
            .unwrap()
            .backward()
            .unwrap();
        adam.step().unwrap();
        adam.zero_grad();
    };
    let s = median_seconds(5, 30, step);
    report(
        "lenet_train_step",
        s,
        serde_json::json!({"samples_per_s": BATCH as f64 / s, "threads": threads, "reps": 30}),
    );
    Ok(())
}
