//! One Adam step over 10 million f32 parameters in one tensor: the fused kernel reads `p, g, m, v`
//! and writes `p, m, v` (28 bytes per parameter). Reports the median step time and the effective
//! bandwidth `28 n / seconds`. Accepts `--json` (output is always JSON lines) and `--threads N`.

use gradus_bench::{median_seconds, report};
use gradus_optim::{Adam, GradientTransformation};
use gradus_tensor::{DType, Tensor};

fn main() {
    gradus_bench::configure_allocator();
    let threads = gradus_bench::threads();
    let n = 10_000_000;
    let p = Tensor::randn(&[n], DType::F32, 1);
    let g = Tensor::randn(&[n], DType::F32, 2).mul_scalar(1e-3).unwrap();
    let adam = Adam::new(1e-3);
    let params = [p];
    let grads = [g];
    let mut state = adam.init(&params).unwrap();
    let s = median_seconds(3, 20, || adam.apply(&params, &grads, &mut state).unwrap());
    report(
        "adam_10m",
        s,
        serde_json::json!({"gb_per_s": 28.0 * n as f64 / s / 1e9, "threads": threads}),
    );
}
