//! Criterion bench of the fused optimizer step: Adam (28 bytes/param), AdamW and SGD with
//! momentum over f32 buffers of several sizes. Threads: RAYON_NUM_THREADS (rayon's global pool).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gradus_optim::{Adam, AdamW, GradientTransformation, Sgd};
use gradus_tensor::{DType, Tensor};

/// (name, bytes moved per parameter, optimizer)
fn optimizers() -> Vec<(&'static str, u64, Box<dyn GradientTransformation>)> {
    vec![
        ("adam", 28, Box::new(Adam::new(1e-3))),
        ("adamw", 28, Box::new(AdamW::new(1e-3))),
        ("sgd_momentum", 20, Box::new(Sgd::new(1e-2).momentum(0.9))),
    ]
}

fn bench_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("optimizer_step");
    group.sample_size(20);
    for n in [100_000usize, 1_000_000, 10_000_000] {
        for (name, bytes, opt) in optimizers() {
            let params = [Tensor::randn(&[n], DType::F32, 1)];
            let grads = [Tensor::randn(&[n], DType::F32, 2).mul_scalar(1e-3).unwrap()];
            let mut state = opt.init(&params).unwrap();
            group.throughput(Throughput::Bytes(bytes * n as u64));
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| opt.apply(&params, &grads, &mut state).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_step);
criterion_main!(benches);
