//! Criterion benchmarks of the core kernels, one group per op family, with shapes and FLOP or
//! byte counts: `cargo bench -p gradus-tensor`. Side-by-side comparisons with PyTorch and numpy are
//! in `bench/compare.py`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gradus_tensor::ops::conv::Conv2dOptions;
use gradus_tensor::{DType, Tensor};

fn matmul(c: &mut Criterion) {
    let mut g = c.benchmark_group("matmul_f32");
    for (m, k, n) in [
        (128, 784, 512),
        (784, 128, 512),
        (512, 512, 512),
        (1024, 1024, 1024),
    ] {
        let a = Tensor::randn(&[m, k], DType::F32, 1);
        let b = Tensor::randn(&[k, n], DType::F32, 2);
        g.throughput(Throughput::Elements((2 * m * n * k) as u64)); // FLOPs
        g.bench_with_input(
            BenchmarkId::from_parameter(format!("{m}x{k}x{n}")),
            &(a, b),
            |bench, (a, b)| bench.iter(|| a.matmul(b).unwrap()),
        );
    }
    // the weight gradient of an MLP layer: a transposed (strided) operand, no copy
    let x = Tensor::randn(&[128, 784], DType::F32, 3);
    let gy = Tensor::randn(&[128, 512], DType::F32, 4);
    g.bench_function("xT@g_784x128x512", |bench| {
        bench.iter(|| x.t().unwrap().matmul(&gy).unwrap())
    });
    g.finish();
}

fn elementwise(c: &mut Criterion) {
    let mut g = c.benchmark_group("elementwise_f32");
    for n in [1 << 12, 1 << 16, 10_000_000] {
        let (a, b, d) = (
            Tensor::randn(&[n], DType::F32, 1),
            Tensor::randn(&[n], DType::F32, 2),
            Tensor::randn(&[n], DType::F32, 3),
        );
        g.throughput(Throughput::Bytes(16 * n as u64));
        g.bench_with_input(BenchmarkId::new("mul_add", n), &n, |bench, _| {
            bench.iter(|| a.mul_add(&b, &d).unwrap())
        });
        g.throughput(Throughput::Bytes(8 * n as u64));
        g.bench_with_input(BenchmarkId::new("relu", n), &n, |bench, _| {
            bench.iter(|| a.relu().unwrap())
        });
    }
    let x = Tensor::randn(&[128, 512], DType::F32, 5);
    let bias = Tensor::randn(&[512], DType::F32, 6);
    g.bench_function("bias_add_128x512", |bench| {
        bench.iter(|| x.add(&bias).unwrap())
    });
    g.finish();
}

fn reductions(c: &mut Criterion) {
    let mut g = c.benchmark_group("reduce_f32");
    let x = Tensor::randn(&[1000, 1000], DType::F32, 1);
    g.throughput(Throughput::Bytes(4_000_000));
    g.bench_function("sum_rows_1000x1000", |bench| {
        bench.iter(|| x.sum(&[1], false).unwrap())
    });
    g.bench_function("sum_cols_1000x1000", |bench| {
        bench.iter(|| x.sum(&[0], false).unwrap())
    });
    g.bench_function("softmax_rows_1000x1000", |bench| {
        bench.iter(|| x.softmax(-1).unwrap())
    });
    g.finish();
}

fn convolution(c: &mut Criterion) {
    let mut g = c.benchmark_group("conv2d_f32");
    let x = Tensor::randn(&[128, 1, 28, 28], DType::F32, 1);
    let w = Tensor::randn(&[6, 1, 5, 5], DType::F32, 2).requires_grad_(true);
    let opts = Conv2dOptions {
        padding: (2, 2),
        ..Default::default()
    };
    g.bench_function("lenet_conv1_fwd_bwd", |bench| {
        bench.iter(|| {
            x.conv2d(&w, None, &opts)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            w.set_grad(None);
        })
    });
    g.finish();
}

criterion_group!(benches, matmul, elementwise, reductions, convolution);
criterion_main!(benches);
