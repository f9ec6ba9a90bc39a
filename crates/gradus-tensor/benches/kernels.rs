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

/// The int8 GEMM of quantized inference on every path this CPU has, at the MNIST MLP's layer
/// shapes (batch 1 and 256): `c [m, n] = a [m, k] (u8) · b [n, k]ᵀ (i8)`.
fn gemm_u8i8(c: &mut Criterion) {
    use gradus_tensor::gemm_i8::{gemm_u8i8_with, Int8Path};
    let mut g = c.benchmark_group("gemm_u8i8");
    for (m, n, k) in [(1, 512, 784), (256, 512, 784), (256, 256, 512)] {
        let a: Vec<u8> = (0..m * k).map(|i| (i * 7 % 128) as u8).collect();
        let b: Vec<i8> = (0..n * k)
            .map(|i| ((i * 13 % 255) as i32 - 127) as i8)
            .collect();
        let mut out = vec![0i32; m * n];
        g.throughput(Throughput::Elements((2 * m * n * k) as u64)); // integer ops
        for path in Int8Path::all_available() {
            let id = BenchmarkId::new(format!("{path:?}"), format!("{m}x{n}x{k}"));
            g.bench_function(id, |bench| {
                bench.iter(|| gemm_u8i8_with(path, m, n, k, &a, &b, &mut out))
            });
        }
    }
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

criterion_group!(
    benches,
    matmul,
    gemm_u8i8,
    elementwise,
    reductions,
    convolution
);
criterion_main!(benches);
