//! `gradus_nn::layers::Conv2d` forward + backward of `sum(conv(x))`, f32, batch 128, matching
//! `bench/peers.py::torch_conv`: 1->6 channels 5x5 padding 2 on 28x28 (`conv2d_1to6_fwd_bwd`) and
//! 6->16 channels 5x5 on 14x14 (`conv2d_6to16_fwd_bwd`); the input requires grad too.
//!
//! Args: `--json` (accepted; output is always JSON lines) and `--threads N` (sets
//! `RAYON_NUM_THREADS` before the pool starts).

use gradus_bench::{median_seconds, report};
use gradus_nn::{layers::Conv2d, Module};
use gradus_tensor::ops::conv::Conv2dOptions;
use gradus_tensor::{DType, Rng, Tensor};

fn main() {
    gradus_bench::configure_allocator();
    let threads = gradus_bench::threads();
    for (cin, cout, hw, pad) in [(1, 6, 28, 2), (6, 16, 14, 0)] {
        let mut rng = Rng::seed(0);
        let opts = Conv2dOptions {
            padding: (pad, pad),
            ..Default::default()
        };
        let conv = Conv2d::new(cin, cout, (5, 5), opts, true, &mut rng);
        let x = Tensor::randn(&[128, cin, hw, hw], DType::F32, 1).requires_grad_(true);
        let s = median_seconds(3, 20, || {
            conv.zero_grad();
            x.set_grad(None);
            conv.forward(&x)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
        });
        report(
            &format!("conv2d_{cin}to{cout}_fwd_bwd"),
            s,
            serde_json::json!({"ms": s * 1e3, "threads": threads, "reps": 20}),
        );
    }
}
