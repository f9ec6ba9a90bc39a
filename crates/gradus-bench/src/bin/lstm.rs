//! `gradus_nn::layers::Recurrent::lstm(128, 256)` (batch-first) forward + backward of
//! `sum(output)`, f32, batch 64, sequence 1 (`lstm_seq1_fwd_bwd`) and 32 (`lstm_seq32_fwd_bwd`),
//! matching `bench/peers.py::torch_lstm`.
//!
//! Args: `--json` (accepted; output is always JSON lines) and `--threads N` (sets
//! `RAYON_NUM_THREADS` before the pool starts).

use gradus_bench::{median_seconds, report};
use gradus_nn::{layers::Recurrent, Module};
use gradus_tensor::{DType, Rng, Tensor};

fn main() {
    gradus_bench::configure_allocator();
    let threads = gradus_bench::threads();
    let lstm = Recurrent::lstm(128, 256, 1, &mut Rng::seed(0));
    for seq in [1, 32] {
        let x = Tensor::randn(&[64, seq, 128], DType::F32, 1);
        let reps = if seq == 1 { 50 } else { 10 };
        let s = median_seconds(3, reps, || {
            lstm.zero_grad();
            lstm.forward(&x)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
        });
        report(
            &format!("lstm_seq{seq}_fwd_bwd"),
            s,
            serde_json::json!({"ms": s * 1e3, "threads": threads, "reps": reps}),
        );
    }
}
