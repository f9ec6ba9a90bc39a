//! Logistic regression by full-batch gradient descent on 200,000 x 100 f32 (the row): one
//! step is the forward `z = X w + b`, the mean binary cross-entropy on logits, the backward and a
//! plain gradient-descent update (`Sgd`, no momentum), through gradus's public API; the work
//! `bench/peers.py` gives PyTorch eager and JAX jit (`logreg_fullbatch_step`).
//!
//! Next to it, the floor: the step must read X (80 MB) and y (0.8 MB) at least once, so it can
//! not beat `bytes / bandwidth`, with the bandwidth measured here by a streaming sum over X
//! (`stream_read_80mb`, the same threads). `floor_ratio` = step time / floor.
//!
//! `logreg_fullbatch_step_composed` times the same step composed from primitive ops (`matmul`,
//! `bce_with_logits`), which reads X twice (forward `X w`, backward `X^T g`).

use gradus_bench::{median_seconds, report};
use gradus_nn::loss::{bce_with_logits, Reduction};
use gradus_optim::{Optimizer, Sgd};
use gradus_tensor::{DType, Result, Rng, Tensor};
use rayon::prelude::*;

const ROWS: usize = 200_000;
const FEATURES: usize = 100;
const LR: f64 = 0.1;

/// Sum of `v` with 16 independent accumulators (vectorizes at every SIMD level).
fn chunk_sum(v: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let mut chunks = v.chunks_exact(16);
    for c in &mut chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

fn main() -> Result<()> {
    gradus_bench::configure_allocator();
    let threads = gradus_bench::threads();
    let mut rng = Rng::seed(0);
    let x = rng.normal(&[ROWS, FEATURES], 0.0, 1.0, DType::F32);
    let w_true = rng.normal(&[FEATURES], 0.0, 1.0, DType::F32);
    // labels from a noisy linear rule: y = [X w* + noise > 0]
    let noise = rng.normal(&[ROWS], 0.0, 1.0, DType::F32);
    let y = x
        .matmul(&w_true)?
        .add(&noise)?
        .gt(&Tensor::zeros(&[1], DType::F32))?;
    let bytes = (ROWS * FEATURES + ROWS) as f64 * 4.0;

    // the floor: a streaming read of X's 80 MB
    let xv = x.to_vec::<f32>()?;
    let read = median_seconds(3, 20, || {
        let s: f32 = xv.par_chunks(1 << 16).map(chunk_sum).sum();
        std::hint::black_box(s);
    });
    let read_bw = (ROWS * FEATURES) as f64 * 4.0 / read;
    report(
        "stream_read_80mb",
        read,
        serde_json::json!({"gb_per_s": read_bw / 1e9, "threads": threads}),
    );
    let floor = bytes / read_bw;

    for (name, fused) in [
        ("logreg_fullbatch_step", true),
        ("logreg_fullbatch_step_composed", false),
    ] {
        let w = Tensor::zeros(&[FEATURES], DType::F32).requires_grad_(true);
        let b = Tensor::zeros(&[1], DType::F32).requires_grad_(true);
        let mut sgd =
            Optimizer::new(Sgd::new(LR), &[w.clone(), b.clone()]).expect("valid hyperparameters");
        let mut last = 0.0;
        let s = median_seconds(3, 20, || {
            let loss = if fused {
                x.linear_bce_with_logits(&w, &b, &y, true).unwrap()
            } else {
                let z = x.matmul(&w).unwrap().add(&b).unwrap();
                bce_with_logits(&z, &y, Reduction::Mean).unwrap()
            };
            loss.backward().unwrap();
            sgd.step().unwrap();
            sgd.zero_grad();
            last = loss.item().unwrap();
        });
        report(
            name,
            s,
            serde_json::json!({"floor_seconds": floor, "floor_ratio": s / floor,
                "gb_per_s": bytes / s / 1e9, "loss": last, "threads": threads}),
        );
    }
    Ok(())
}
