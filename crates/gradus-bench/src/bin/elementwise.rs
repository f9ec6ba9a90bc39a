//! A big elementwise op: `a * b + c` over 1e7 f32 (16 bytes per element moved), fused; next to
//! it, the same triad written by hand into a preallocated buffer (this machine's attainable
//! bandwidth, the ceiling the op is measured against).

use gradus_bench::{median_seconds, report};
use gradus_tensor::{DType, Tensor};
use rayon::prelude::*;

fn main() {
    gradus_bench::configure_allocator();
    let threads = gradus_bench::threads();
    let n = 10_000_000;
    let (a, b, c) = (
        Tensor::randn(&[n], DType::F32, 1),
        Tensor::randn(&[n], DType::F32, 2),
        Tensor::randn(&[n], DType::F32, 3),
    );
    let gbs = |s: f64| 16.0 * n as f64 / s / 1e9;
    let s = median_seconds(3, 30, || {
        std::hint::black_box(a.mul_add(&b, &c).unwrap());
    });
    report(
        "elementwise_fma_1e7",
        s,
        serde_json::json!({"gb_per_s": gbs(s), "threads": threads}),
    );

    let (av, bv, cv) = (
        a.to_vec::<f32>().unwrap(),
        b.to_vec::<f32>().unwrap(),
        c.to_vec::<f32>().unwrap(),
    );
    let mut out = vec![0f32; n];
    let s = median_seconds(3, 30, || {
        out.par_chunks_mut(1 << 16).enumerate().for_each(|(i, o)| {
            let r = i << 16..(i << 16) + o.len();
            for (o, ((x, y), z)) in o
                .iter_mut()
                .zip(av[r.clone()].iter().zip(&bv[r.clone()]).zip(&cv[r]))
            {
                *o = x * y + z;
            }
        });
        std::hint::black_box(&out);
    });
    report(
        "stream_triad_prealloc_1e7",
        s,
        serde_json::json!({"gb_per_s": gbs(s), "threads": threads}),
    );
}
