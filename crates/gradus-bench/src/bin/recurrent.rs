//! Recurrent layers, 128 → 256, batch-first, forward + backward of `sum(output)`, f32, batch 64:
//! `Recurrent::lstm` over 1 step (`lstm_seq1_fwd_bwd`) and 32 steps (`lstm_seq32_fwd_bwd`), and
//! `Recurrent::gru` over 32 steps (`gru_seq32_fwd_bwd`), matching
//! `bench/peers.py::torch_recurrent`.
//!
//! Args: `--json` (accepted; output is always JSON lines) and `--threads N` (sets
//! `RAYON_NUM_THREADS` before the pool starts).

use gradus_bench::{median_seconds, report};
use gradus_nn::{layers::Recurrent, Module};
use gradus_tensor::{DType, Rng, Tensor};

fn time_layer(name: &str, layer: &Recurrent, seq: usize, threads: usize) {
    let x = Tensor::randn(&[64, seq, 128], DType::F32, 1);
    let reps = if seq == 1 { 50 } else { 10 };
    let s = median_seconds(3, reps, || {
        layer.zero_grad();
        layer
            .forward(&x)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
    });
    report(
        &format!("{name}_seq{seq}_fwd_bwd"),
        s,
        serde_json::json!({"ms": s * 1e3, "threads": threads, "reps": reps}),
    );
}

fn main() {
    gradus_bench::configure_allocator();
    let threads = gradus_bench::threads();
    let lstm = Recurrent::lstm(128, 256, 1, &mut Rng::seed(0));
    time_layer("lstm", &lstm, 1, threads);
    time_layer("lstm", &lstm, 32, threads);
    time_layer(
        "gru",
        &Recurrent::gru(128, 256, 1, &mut Rng::seed(0)),
        32,
        threads,
    );
}
