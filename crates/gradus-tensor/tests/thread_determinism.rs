//! Results do not depend on the number of threads: every op and its gradients give the same bits
//! in rayon pools of 1, 2 and 5 threads (the fused LSTM/GRU split the batch into blocks whose
//! shares of `dW_hh` are summed; products and reductions split their work too).

use gradus_tensor::autodiff::grad;
use gradus_tensor::ops::conv::Conv2dOptions;
use gradus_tensor::{DType, Result, Tensor};

/// The bits of `f`'s outputs computed in a pool of `threads` threads.
fn bits_with(threads: usize, f: &(dyn Fn() -> Result<Vec<Tensor>> + Sync)) -> Vec<Vec<u64>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        f().unwrap()
            .iter()
            .map(|t| t.to_vec_f64().iter().map(|v| v.to_bits()).collect())
            .collect()
    })
}

fn assert_thread_independent(name: &str, f: &(dyn Fn() -> Result<Vec<Tensor>> + Sync)) {
    let one = bits_with(1, f);
    for threads in [2, 5] {
        let other = bits_with(threads, f);
        for (i, (a, b)) in one.iter().zip(&other).enumerate() {
            let differing = a.iter().zip(b).filter(|(x, y)| x != y).count();
            assert_eq!(
                differing,
                0,
                "{name}: output {i} differs in {differing} of {} elements with {threads} threads",
                a.len()
            );
        }
    }
}

/// The outputs of `y = f(inputs)` and the gradients of `sum(y * seed)` for every input.
fn with_grads(inputs: &[Tensor], y: Tensor) -> Result<Vec<Tensor>> {
    let seed = Tensor::randn(y.shape(), y.dtype(), 99);
    let loss = y.mul(&seed)?.sum_all()?;
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let mut out = vec![y];
    out.extend(grad(&loss, &refs, None, false)?);
    Ok(out)
}

fn leaves(shapes: &[&[usize]], dtype: DType, scale: f64) -> Vec<Tensor> {
    shapes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Tensor::randn(s, dtype, i as u64 + 1)
                .mul_scalar(scale)
                .unwrap()
                .requires_grad_(true)
        })
        .collect()
}

#[test]
fn fused_lstm_forward_and_backward_are_thread_count_independent() {
    for (dtype, batch, steps, hidden) in [
        (DType::F32, 7, 5, 16),
        (DType::F64, 13, 4, 8),
        (DType::F32, 64, 3, 40),
        (DType::F32, 3, 6, 24),
        (DType::F32, 5, 2, 128),
        (DType::F64, 9, 2, 96),
        (DType::F32, 70, 2, 20),
    ] {
        let f = move || {
            let x = leaves(
                &[
                    &[batch, steps, 4 * hidden],
                    &[4 * hidden, hidden],
                    &[batch, hidden],
                    &[batch, hidden],
                ],
                dtype,
                0.5,
            );
            let (h, c) = x[0].lstm_sequence(&x[1], &x[2], &x[3])?;
            with_grads(&x, Tensor::stack(&[&h, &c], 0)?)
        };
        assert_thread_independent(&format!("lstm {dtype:?} batch {batch}"), &f);
    }
}

#[test]
fn fused_gru_forward_and_backward_are_thread_count_independent() {
    for (dtype, batch, steps, hidden) in [
        (DType::F32, 7, 5, 16),
        (DType::F64, 13, 4, 8),
        (DType::F32, 64, 3, 40),
        (DType::F32, 3, 6, 24),
        (DType::F32, 5, 2, 128),
        (DType::F64, 9, 2, 96),
        (DType::F32, 70, 2, 20),
    ] {
        let f = move || {
            let x = leaves(
                &[
                    &[batch, steps, 3 * hidden],
                    &[3 * hidden, hidden],
                    &[3 * hidden],
                    &[batch, hidden],
                ],
                dtype,
                0.5,
            );
            let h = x[0].gru_sequence(&x[1], &x[2], &x[3])?;
            with_grads(&x, h)
        };
        assert_thread_independent(&format!("gru {dtype:?} batch {batch}"), &f);
    }
}

#[test]
fn matmul_and_its_gradients_are_thread_count_independent() {
    // a weight gradient with a long inner axis (x^T g over many rows), a square product, and a
    // batched one, each large enough to run in parallel
    for (dtype, m, k, n) in [
        (DType::F32, 20000, 48, 40),
        (DType::F64, 300, 300, 300),
        (DType::F32, 200_000, 3, 4),
    ] {
        let f = move || {
            let x = leaves(&[&[m, k], &[k, n]], dtype, 1.0);
            with_grads(&x, x[0].matmul(&x[1])?)
        };
        assert_thread_independent(&format!("matmul {dtype:?} {m}x{k}x{n}"), &f);
    }
    let f = || {
        let x = leaves(&[&[6, 70, 80], &[80, 90]], DType::F32, 1.0);
        with_grads(&x, x[0].matmul(&x[1])?)
    };
    assert_thread_independent("batched matmul", &f);
}

#[test]
fn reductions_and_convolution_gradients_are_thread_count_independent() {
    let f = || {
        let x = leaves(&[&[600, 700]], DType::F32, 1.0);
        let y = Tensor::concat(
            &[
                &x[0].sum(&[0], false)?,
                &x[0].sum(&[1], false)?,
                &x[0].t()?.sum(&[1], false)?,
                &x[0].sum_all()?.reshape(&[1])?,
            ],
            0,
        )?;
        with_grads(&x, y)
    };
    assert_thread_independent("sums", &f);
    let f = || {
        let x = leaves(&[&[16, 8, 20, 20], &[12, 8, 3, 3], &[12]], DType::F32, 1.0);
        let options = Conv2dOptions {
            padding: (1, 1),
            ..Default::default()
        };
        with_grads(&x, x[0].conv2d(&x[1], Some(&x[2]), &options)?)
    };
    assert_thread_independent("conv2d", &f);
}

/// The shapes of issue #10's report: breast cancer's 30 features as a 30-step sequence, f32,
/// hidden 40 or 128, batch 16, 31 or 32 (1, 2 and 5 threads used to give models differing by up
/// to 7e-8 after one step: `dW_hh`'s long, thin product was split by the thread count).
const LONG_SEQUENCES: [(usize, usize); 5] = [(16, 40), (32, 40), (31, 128), (16, 128), (32, 128)];

#[test]
fn fused_lstm_over_30_steps_is_thread_count_independent() {
    for (batch, hidden) in LONG_SEQUENCES {
        let f = move || {
            let x = leaves(
                &[
                    &[batch, 30, 4 * hidden],
                    &[4 * hidden, hidden],
                    &[batch, hidden],
                    &[batch, hidden],
                ],
                DType::F32,
                0.5,
            );
            let (h, c) = x[0].lstm_sequence(&x[1], &x[2], &x[3])?;
            with_grads(&x, Tensor::stack(&[&h, &c], 0)?)
        };
        assert_thread_independent(&format!("lstm 30 steps batch {batch} hidden {hidden}"), &f);
    }
}

#[test]
fn fused_gru_over_30_steps_is_thread_count_independent() {
    for (batch, hidden) in LONG_SEQUENCES {
        let f = move || {
            let x = leaves(
                &[
                    &[batch, 30, 3 * hidden],
                    &[3 * hidden, hidden],
                    &[3 * hidden],
                    &[batch, hidden],
                ],
                DType::F32,
                0.5,
            );
            let h = x[0].gru_sequence(&x[1], &x[2], &x[3])?;
            with_grads(&x, h)
        };
        assert_thread_independent(&format!("gru 30 steps batch {batch} hidden {hidden}"), &f);
    }
}

#[test]
fn thin_matmuls_with_a_long_inner_axis_are_thread_count_independent() {
    // the LSTM's input projection and its gradients at the report's shapes ([40, 960] @
    // [960, 160] is the weight gradient's shape), a thin product, and a long-k outer product
    for (m, k, n) in [
        (40, 960, 160),
        (160, 960, 40),
        (8, 50_000, 8),
        (512, 4096, 2),
    ] {
        let f = move || {
            let x = leaves(&[&[m, k], &[k, n]], DType::F32, 1.0);
            with_grads(&x, x[0].matmul(&x[1])?)
        };
        assert_thread_independent(&format!("matmul f32 {m}x{k}x{n}"), &f);
    }
}

#[test]
fn mlp_layer_products_split_in_two_are_thread_count_independent() {
    // the 784-512-256-10 MLP's second layer at batch 128 (`[128, 512] @ [512, 256]`, one panel's
    // worth of columns, so its rows are halved into two panels), its gradients (`g @ W^T` and
    // `h^T @ g`) and an odd row count
    for (m, k, n) in [(128, 512, 256), (70, 300, 200)] {
        let f = move || {
            let x = leaves(&[&[m, k], &[k, n]], DType::F32, 1.0);
            with_grads(&x, x[0].matmul(&x[1])?)
        };
        assert_thread_independent(&format!("matmul f32 {m}x{k}x{n}"), &f);
    }
}

#[test]
fn recurrent_input_projection_is_thread_count_independent() {
    // as the layer computes it, `x @ W_ih^T` with `W_ih` of shape [4 * hidden, features]: the
    // report's weight gradient (breast cancer: 1 feature, 30 steps, hidden 128, batch 32) differed
    // in the last bit of 3 or 4 of its 512 elements with 2 and 5 threads
    for (rows, features, gates) in [(960, 1, 512), (930, 1, 512), (480, 1, 160), (960, 3, 512)] {
        let f = move || {
            let x = leaves(&[&[rows, features], &[gates, features]], DType::F32, 1.0);
            with_grads(&x, x[0].matmul(&x[1].t()?)?)
        };
        assert_thread_independent(&format!("projection {rows}x{features} -> {gates}"), &f);
    }
}

#[test]
fn conv2d_weight_gradient_with_a_long_inner_axis_is_thread_count_independent() {
    // the weight gradient sums over batch x height x width = 32 * 28 * 28 = 25088 positions
    let f = || {
        let x = leaves(&[&[32, 4, 28, 28], &[8, 4, 3, 3], &[8]], DType::F32, 1.0);
        let options = Conv2dOptions {
            padding: (1, 1),
            ..Default::default()
        };
        with_grads(&x, x[0].conv2d(&x[1], Some(&x[2]), &options)?)
    };
    assert_thread_independent("conv2d 32x4x28x28", &f);
}

#[test]
fn lenet_second_convolution_is_thread_count_independent() {
    // 6 -> 16 channels, 5x5, on 14x14: the direct kernel where the CPU has AVX-512 (its weight
    // gradient sums blocks of 8 images, so 20 images make three blocks), im2col + GEMM elsewhere
    let f = || {
        let x = leaves(&[&[20, 6, 14, 14], &[16, 6, 5, 5], &[16]], DType::F32, 1.0);
        with_grads(
            &x,
            x[0].conv2d(&x[1], Some(&x[2]), &Conv2dOptions::default())?,
        )
    };
    assert_thread_independent("conv2d 20x6x14x14 by 16x6x5x5", &f);
}

#[test]
fn lenet_first_convolution_input_gradient_is_thread_count_independent() {
    // 1 -> 6 channels, 5x5, padding 2, on 28x28, the input a leaf too: the direct kernel's
    // input gradient scatters into one-channel images (`kernels::conv_input_grad`), 9 images
    let f = || {
        let x = leaves(&[&[9, 1, 28, 28], &[6, 1, 5, 5], &[6]], DType::F32, 1.0);
        let options = Conv2dOptions {
            padding: (2, 2),
            ..Default::default()
        };
        with_grads(&x, x[0].conv2d(&x[1], Some(&x[2]), &options)?)
    };
    assert_thread_independent("conv2d 9x1x28x28 by 6x1x5x5", &f);
}
