//! f32 GEMM throughput at the products of the training benchmarks (MLP, GPT, LSTM), each with
//! the operand layouts its forward and backward passes use: `nn` (`x @ w`), `tn` (`xᵀ @ g`,
//! weight gradients) and `nt` (`g @ wᵀ`, input gradients). Prints GFLOP/s per product.

use gradus_bench::{median_seconds, report};
use gradus_tensor::gemm_f32;

fn main() {
    gradus_bench::configure_allocator();
    let threads = gradus_bench::threads();
    let shapes: &[(&str, usize, usize, usize)] = &[
        ("mlp_fc1", 128, 512, 784),
        ("mlp_fc2", 128, 256, 512),
        ("mlp_dw1", 784, 512, 128),
        ("mlp_dw2", 512, 256, 128),
        ("gpt_qkv", 2048, 384, 128),
        ("gpt_fc", 2048, 512, 128),
        ("gpt_proj", 2048, 128, 512),
        ("gpt_dw", 128, 512, 2048),
        ("lstm_gates", 64, 1024, 256),
        ("sq512", 512, 512, 512),
        ("lstm_dwhh", 1024, 256, 1024),
        ("lstm_dwih", 1024, 128, 2048),
        ("sk_fc1", 200, 100, 784),
        ("sk_dw1", 100, 784, 200),
    ];
    for &(name, m, n, k) in shapes {
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7) % 13) as f32 * 0.1 - 0.6)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 5) % 11) as f32 * 0.1 - 0.5)
            .collect();
        let mut out = vec![0.0f32; m * n];
        let reps = (2e9 / (2.0 * (m * n * k) as f64)).clamp(5.0, 2000.0) as usize;
        for (layout, sa, sb) in [
            ("nn", (k, 1), (n, 1)),
            ("tn", (1, m), (n, 1)),
            ("nt", (k, 1), (1, k)),
        ] {
            let s = median_seconds(3, reps, || {
                gemm_f32((m, n, k), &a, sa, &b, sb, &mut out);
                std::hint::black_box(&out);
            });
            let gflops = 2.0 * (m * n * k) as f64 / s / 1e9;
            report(
                &format!("{name}_{layout}_{m}x{n}x{k}"),
                s,
                serde_json::json!({"gflops": gflops, "threads": threads}),
            );
        }
    }
}
