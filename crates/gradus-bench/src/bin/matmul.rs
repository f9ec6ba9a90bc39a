//! f32 matrix multiply at the shapes of the issue: (128x784)@(784x512), 512^3, 1024^3.

use gradus_bench::{median_seconds, report};
use gradus_tensor::{DType, Tensor};

fn main() {
    gradus_bench::configure_allocator();
    let threads = gradus_bench::threads();
    for (m, k, n) in [(128, 784, 512), (512, 512, 512), (1024, 1024, 1024)] {
        let a = Tensor::randn(&[m, k], DType::F32, 1);
        let b = Tensor::randn(&[k, n], DType::F32, 2);
        let reps = if m * n * k > 1 << 28 { 20 } else { 100 };
        let s = median_seconds(5, reps, || {
            std::hint::black_box(a.matmul(&b).unwrap());
        });
        let gflops = 2.0 * (m * n * k) as f64 / s / 1e9;
        report(
            &format!("matmul_{m}x{k}x{n}"),
            s,
            serde_json::json!({"gflops": gflops, "threads": threads, "reps": reps}),
        );
    }
}
