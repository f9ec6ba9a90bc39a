//! Every differentiable op against central finite differences in float64, including broadcast
//! and non-contiguous inputs; second derivatives for the elementwise ops, matmul, softmax and
//! linalg_solve.

use gradus_tensor::ops::conv::Conv2dOptions;
use gradus_tensor::ops::pool::Pool2d;
use gradus_tensor::{gradcheck, gradgradcheck, DType, GradcheckOptions, Result, Rng, Tensor};

type Case = (
    &'static str,
    Box<dyn Fn(&[Tensor]) -> Result<Tensor>>,
    Vec<Vec<usize>>,
);

fn inputs(shapes: &[Vec<usize>], seed: u64) -> Vec<Tensor> {
    let mut rng = Rng::seed(seed);
    shapes
        .iter()
        .map(|s| rng.uniform(s, -1.5, 1.5, DType::F64))
        .collect()
}

/// Inputs bounded away from zero (for log, sqrt, div, pow bases).
fn positive(shapes: &[Vec<usize>], seed: u64) -> Vec<Tensor> {
    let mut rng = Rng::seed(seed);
    shapes
        .iter()
        .map(|s| rng.uniform(s, 0.5, 2.0, DType::F64))
        .collect()
}

/// Inputs away from the kinks of relu/abs/clamp/max so finite differences are meaningful.
fn away_from_kinks(shapes: &[Vec<usize>], seed: u64) -> Vec<Tensor> {
    let mut rng = Rng::seed(seed);
    shapes
        .iter()
        .map(|s| {
            let v: Vec<f64> = rng
                .uniform(s, 0.2, 1.5, DType::F64)
                .to_vec::<f64>()
                .unwrap();
            let signs = rng
                .bernoulli(s, 0.5, DType::F64)
                .unwrap()
                .to_vec::<f64>()
                .unwrap();
            let v = v
                .iter()
                .zip(&signs)
                .map(|(x, s)| if *s > 0.5 { *x } else { -*x })
                .collect();
            Tensor::from_vec(v, s).unwrap()
        })
        .collect()
}

fn run(cases: Vec<Case>, make: fn(&[Vec<usize>], u64) -> Vec<Tensor>, second_order: bool) {
    let mut failures = Vec::new();
    for (i, (name, f, shapes)) in cases.iter().enumerate() {
        let xs = make(shapes, i as u64 + 1);
        if let Err(e) = gradcheck(f, &xs, GradcheckOptions::default()) {
            failures.push(format!("{name}: {e}"));
        }
        if second_order {
            if let Err(e) = gradgradcheck(f, &xs, GradcheckOptions::default()) {
                failures.push(format!("{name} (second order): {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "gradcheck failures:\n{}",
        failures.join("\n")
    );
}

fn v(dims: &[usize]) -> Vec<usize> {
    dims.to_vec()
}

/// An index tensor: whole numbers in f32 (the data are f64: index and data dtypes are
/// independent).
fn idx(values: &[usize], shape: &[usize]) -> Tensor {
    let values: Vec<f32> = values.iter().map(|&i| i as f32).collect();
    Tensor::from_vec(values, shape).unwrap()
}

macro_rules! case {
    ($name:expr, |$x:ident| $body:expr, [$($shape:expr),*]) => {
        ($name, Box::new(move |$x: &[Tensor]| $body) as Box<dyn Fn(&[Tensor]) -> Result<Tensor>>, vec![$(v(&$shape)),*])
    };
}

#[test]
fn smooth_elementwise_ops_first_and_second_order() {
    run(
        vec![
            case!("neg", |x| x[0].neg(), [[3, 4]]),
            case!("exp", |x| x[0].exp(), [[3, 4]]),
            case!("tanh", |x| x[0].tanh(), [[3, 4]]),
            case!("sigmoid", |x| x[0].sigmoid(), [[3, 4]]),
            case!("erf", |x| x[0].erf(), [[5]]),
            case!("gelu", |x| x[0].gelu(), [[2, 5]]),
            case!("gelu_tanh", |x| x[0].gelu_tanh(), [[2, 5]]),
            case!("silu", |x| x[0].silu(), [[2, 5]]),
            case!("softplus", |x| x[0].softplus(1.0, 20.0), [[2, 5]]),
            case!("softplus_beta2", |x| x[0].softplus(2.0, 1.0), [[2, 5]]),
            case!("affine", |x| x[0].affine(-2.0, 0.5), [[4]]),
            case!("add_broadcast", |x| x[0].add(&x[1]), [[2, 3, 4], [3, 1]]),
            case!("sub_broadcast", |x| x[0].sub(&x[1]), [[4], [2, 3, 4]]),
            case!("mul_broadcast", |x| x[0].mul(&x[1]), [[2, 1, 4], [3, 1]]),
            case!("mul_same", |x| x[0].mul(&x[0]), [[3, 3]]),
            case!("mul_add", |x| x[0].mul_add(&x[1], &x[2]), [[6], [6], [6]]),
            case!(
                "mul_add_broadcast",
                |x| x[0].mul_add(&x[1], &x[2]),
                [[2, 3], [3], [2, 1]]
            ),
            case!(
                "sum_keepdim",
                |x| x[0].sum(&[0, 2], true)?.mul(&x[1]),
                [[2, 3, 4], [1, 3, 1]]
            ),
            case!("mean", |x| x[0].mean(&[-1], false)?.exp(), [[3, 4]]),
            case!("var_unbiased", |x| x[0].var(&[1], 1, false), [[3, 5]]),
            case!(
                "var_biased_keepdim",
                |x| x[0].var(&[0, 1], 0, true),
                [[3, 4]]
            ),
            case!("matmul_2d", |x| x[0].matmul(&x[1]), [[3, 4], [4, 2]]),
            case!(
                "matmul_batch_broadcast",
                |x| x[0].matmul(&x[1]),
                [[2, 1, 3, 4], [3, 4, 2]]
            ),
            case!("matmul_vec_mat", |x| x[0].matmul(&x[1]), [[4], [4, 3]]),
            case!("matmul_mat_vec", |x| x[0].matmul(&x[1]), [[2, 4], [4]]),
            case!(
                "matmul_transposed_operands",
                |x| x[0].t()?.matmul(&x[1].t()?),
                [[4, 3], [2, 4]]
            ),
            case!("softmax", |x| x[0].softmax(-1), [[3, 5]]),
            case!("softmax_axis0", |x| x[0].softmax(0), [[3, 5]]),
            case!("log_softmax", |x| x[0].log_softmax(1), [[2, 4]]),
            case!(
                "powf",
                |x| x[0].mul(&x[0])?.add_scalar(1.0)?.powf(1.5),
                [[5]]
            ),
        ],
        inputs,
        true,
    );
}

#[test]
fn ops_on_positive_domains_first_and_second_order() {
    run(
        vec![
            case!("log", |x| x[0].log(), [[3, 4]]),
            case!("sqrt", |x| x[0].sqrt(), [[3, 4]]),
            case!("div_broadcast", |x| x[0].div(&x[1]), [[2, 3], [3]]),
            case!("pow_tensor", |x| x[0].pow(&x[1]), [[2, 3], [2, 3]]),
            case!("pow_broadcast_exponent", |x| x[0].pow(&x[1]), [[2, 3], [1]]),
        ],
        positive,
        true,
    );
}

#[test]
fn piecewise_ops_away_from_kinks() {
    run(
        vec![
            case!("abs", |x| x[0].abs(), [[3, 4]]),
            case!("relu", |x| x[0].relu(), [[3, 4]]),
            case!("leaky_relu", |x| x[0].leaky_relu(0.1), [[3, 4]]),
            case!("elu", |x| x[0].elu(1.3), [[3, 4]]),
            case!("clamp", |x| x[0].clamp(-0.5, 0.7), [[3, 4]]),
            case!("maximum", |x| x[0].maximum(&x[1]), [[3, 4], [4]]),
            case!("minimum", |x| x[0].minimum(&x[1]), [[3, 4], [3, 1]]),
            case!("max_axis", |x| x[0].max(1, false), [[3, 5]]),
            case!("max_keepdim_axis0", |x| x[0].max(0, true), [[3, 5]]),
            case!("max_all", |x| x[0].max_all(), [[2, 3]]),
            case!(
                "where",
                |x| x[0].gt(&Tensor::scalar(0.0f64))?.where_cond(&x[1], &x[2]),
                [[3, 4], [3, 4], [4]]
            ),
        ],
        away_from_kinks,
        false,
    );
    // second derivatives of the piecewise-smooth elementwise ops (zero or smooth on each piece)
    run(
        vec![
            case!("elu", |x| x[0].elu(1.3), [[3, 4]]),
            case!("leaky_relu", |x| x[0].leaky_relu(0.1)?.mul(&x[0]), [[3, 4]]),
            case!("maximum", |x| x[0].maximum(&x[1])?.exp(), [[3, 4], [4]]),
        ],
        away_from_kinks,
        true,
    );
}

#[test]
fn shape_and_index_ops() {
    run(
        vec![
            case!(
                "reshape",
                |x| x[0].reshape(&[4, 3])?.mul(&x[1]),
                [[2, 6], [3]]
            ),
            case!(
                "permute_noncontiguous",
                |x| x[0].permute(&[2, 0, 1])?.exp(),
                [[2, 3, 4]]
            ),
            case!(
                "transpose_then_reshape",
                |x| x[0].t()?.reshape(&[6]),
                [[2, 3]]
            ),
            case!("flatten", |x| x[0].flatten(1, -1), [[2, 3, 2]]),
            case!(
                "squeeze_unsqueeze",
                |x| x[0].unsqueeze(1)?.squeeze(1),
                [[3]]
            ),
            case!(
                "expand",
                |x| x[0].expand(&[2, 3, 4])?.mul(&x[1]),
                [[3, 1], [2, 3, 4]]
            ),
            case!("narrow", |x| x[0].narrow(1, 1, 2)?.tanh(), [[3, 4]]),
            case!(
                "narrow_of_transpose",
                |x| x[0].t()?.narrow(0, 1, 2),
                [[3, 4]]
            ),
            case!("pad_axis", |x| x[0].pad_axis(0, 2, 1), [[2, 3]]),
            case!(
                "concat",
                |x| Tensor::concat(&[&x[0], &x[1]], 1),
                [[2, 3], [2, 2]]
            ),
            case!("stack", |x| Tensor::stack(&[&x[0], &x[1]], 0), [[3], [3]]),
            case!("contiguous", |x| x[0].t()?.contiguous(), [[3, 2]]),
            case!(
                "index_select",
                |x| x[0].index_select(0, &idx(&[2, 0, 2], &[3])),
                [[3, 4]]
            ),
            case!(
                "index_select_axis1",
                |x| x[0].index_select(1, &idx(&[1, 1, 0], &[3])),
                [[2, 3]]
            ),
            case!(
                "index_add",
                |x| x[0].index_add(0, &idx(&[1, 1], &[2]), &x[1]),
                [[3, 2], [2, 2]]
            ),
            case!(
                "gather",
                |x| x[0].gather(1, &idx(&[2, 0, 1], &[3, 1])),
                [[3, 3]]
            ),
            case!(
                "scatter_add",
                |x| x[0].scatter_add(1, &idx(&[2, 0], &[2, 1]), &x[1]),
                [[2, 3], [2, 1]]
            ),
            case!("sum_to", |x| x[0].sum_to(&[3, 1]), [[2, 3, 4]]),
            case!("sum_all", |x| x[0].sum_all(), [[2, 3]]),
            case!("sum_squares", |x| x[0].sum_squares(), [[2, 3]]),
            case!(
                "sum_squares (strided)",
                |x| x[0].t()?.sum_squares(),
                [[2, 3]]
            ),
            case!(
                "squared_distance",
                |x| x[0].squared_distance(&x[1]),
                [[2, 3], [2, 3]]
            ),
            case!(
                "squared_distance (strided)",
                |x| x[0].t()?.squared_distance(&x[1]),
                [[2, 3], [3, 2]]
            ),
            case!("mean_all", |x| x[0].mean_all(), [[2, 3]]),
            case!(
                "index_select (strided f64 index)",
                |x| {
                    let every_other =
                        Tensor::from_vec(vec![2.0f64, 9.0, 0.0, 9.0, 2.0, 9.0], &[3, 2])?
                            .narrow(1, 0, 1)?
                            .squeeze(1)?;
                    x[0].t()?.index_select(0, &every_other)
                },
                [[4, 3]]
            ),
            case!(
                "gather_axis0 (repeated rows)",
                |x| x[0].gather(0, &idx(&[1, 0, 1, 0, 0, 1, 1, 1, 0], &[3, 3])),
                [[2, 3]]
            ),
            case!(
                "gather (transposed index)",
                |x| x[0].gather(1, &idx(&[3, 0, 1, 1, 2, 3], &[2, 3]).t()?),
                [[3, 4]]
            ),
            case!(
                "scatter_add_axis0 (duplicates)",
                |x| x[0].scatter_add(0, &idx(&[2, 0, 2, 2, 1, 1, 0, 2], &[4, 2]), &x[1]),
                [[3, 2], [4, 2]]
            ),
            case!(
                "index_add_axis1 of a transposed input",
                |x| x[0].t()?.index_add(1, &idx(&[0, 2, 0], &[3]), &x[1]),
                [[3, 2], [2, 3]]
            ),
        ],
        inputs,
        false,
    );
}

#[test]
fn index_ops_second_order() {
    run(
        vec![
            case!(
                "index_select",
                |x| x[0].index_select(0, &idx(&[2, 0, 2], &[3]))?.tanh(),
                [[3, 4]]
            ),
            case!(
                "gather",
                |x| x[0].gather(1, &idx(&[2, 0, 1], &[3, 1]))?.exp(),
                [[3, 3]]
            ),
            case!(
                "scatter_add",
                |x| x[0].scatter_add(1, &idx(&[2, 0], &[2, 1]), &x[1].tanh()?),
                [[2, 3], [2, 1]]
            ),
            case!(
                "index_add",
                |x| x[0].index_add(0, &idx(&[1, 1], &[2]), &x[1].tanh()?),
                [[3, 2], [2, 2]]
            ),
        ],
        inputs,
        true,
    );
}

#[test]
fn convolution_pooling_and_dropout() {
    let strided = Conv2dOptions {
        stride: (2, 1),
        padding: (1, 2),
        dilation: (1, 1),
        groups: 1,
    };
    let grouped = Conv2dOptions {
        stride: (1, 1),
        padding: (2, 2),
        dilation: (2, 2),
        groups: 2,
    };
    let pool = Pool2d {
        kernel: (3, 3),
        stride: (2, 2),
        padding: (1, 1),
    };
    run(
        vec![
            case!("unfold", |x| x[0].unfold((2, 3), &strided), [[2, 2, 5, 4]]),
            case!(
                "fold",
                |x| x[0].fold((5, 4), (2, 2), &Conv2dOptions::default()),
                [[1, 8, 12]]
            ),
            case!(
                "conv2d",
                |x| x[0].conv2d(&x[1], Some(&x[2]), &Conv2dOptions::default()),
                [[2, 2, 5, 5], [3, 2, 3, 3], [3]]
            ),
            case!(
                "conv2d_strided_padded",
                |x| x[0].conv2d(&x[1], None, &strided),
                [[1, 2, 5, 4], [2, 2, 3, 2]]
            ),
            case!(
                "conv2d_grouped_dilated",
                |x| x[0].conv2d(&x[1], Some(&x[2]), &grouped),
                [[1, 4, 5, 5], [4, 2, 3, 3], [4]]
            ),
            case!("avg_pool2d", |x| x[0].avg_pool2d(&pool), [[1, 2, 5, 5]]),
            case!(
                "dropout",
                |x| x[0].dropout(0.3, &mut Rng::seed(5)),
                [[4, 5]]
            ),
        ],
        inputs,
        false,
    );
    // max pooling away from ties
    run(
        vec![case!(
            "max_pool2d",
            |x| x[0].max_pool2d(&Pool2d::new((2, 2))),
            [[1, 2, 4, 6]]
        )],
        away_from_kinks,
        false,
    );
}

#[test]
fn direct_convolution_first_and_second_order() {
    // stride-1, one-group convolutions of few channels run the direct kernel (`ops/conv_direct`):
    // its input gradient and its weight gradient are ops of their own, so second derivatives go
    // through both
    let padded = Conv2dOptions {
        padding: (2, 1),
        ..Default::default()
    };
    let dilated = Conv2dOptions {
        padding: (1, 2),
        dilation: (2, 2),
        ..Default::default()
    };
    run(
        vec![
            case!(
                "conv2d_direct_padded",
                |x| x[0].conv2d(&x[1], Some(&x[2]), &padded)?.tanh(),
                [[2, 2, 5, 4], [3, 2, 3, 3], [3]]
            ),
            case!(
                "conv2d_direct_dilated",
                |x| x[0].conv2d(&x[1], None, &dilated)?.tanh(),
                [[1, 2, 6, 7], [2, 2, 2, 3]]
            ),
            // one input channel, odd sizes, padding k - 1 on both axes (a 3x2 kernel): the
            // input gradient's scatter reaches every border
            case!(
                "conv2d_direct_one_channel",
                |x| x[0].conv2d(&x[1], Some(&x[2]), &padded)?.tanh(),
                [[2, 1, 5, 7], [3, 1, 3, 2], [3]]
            ),
            // patch 5 * 4 * 4 = 80: direct where the CPU has AVX-512, and 9 output channels
            // (blocks of 4 and 5, its input gradient 5 channels from 9)
            case!(
                "conv2d_direct_long_patch",
                |x| x[0]
                    .conv2d(&x[1], Some(&x[2]), &Conv2dOptions::default())?
                    .tanh(),
                [[1, 5, 5, 5], [9, 5, 4, 4], [9]]
            ),
        ],
        inputs,
        true,
    );
}

#[test]
fn fused_lstm_sequence_first_and_second_order() {
    // both outputs (hidden and cell states of every step) feed the checked function; the second
    // order goes through the op's create_graph path (a recomputation from primitive ops)
    let lstm = |x: &[Tensor]| -> Result<Tensor> {
        let (h, c) = x[0].lstm_sequence(&x[1], &x[2], &x[3])?;
        h.add(&c.mul_scalar(0.5)?)
    };
    run(
        vec![
            case!(
                "lstm_sequence",
                |x| lstm(x),
                [[2, 3, 12], [12, 3], [2, 3], [2, 3]]
            ),
            case!(
                "lstm_sequence_one_step",
                |x| lstm(x),
                [[1, 1, 8], [8, 2], [1, 2], [1, 2]]
            ),
        ],
        inputs,
        true,
    );
}

#[test]
fn fused_gru_sequence_first_and_second_order() {
    // every input, b_hh included, is checked; the second order goes through the op's
    // create_graph path (a recomputation from primitive ops)
    let gru = |x: &[Tensor]| x[0].gru_sequence(&x[1], &x[2], &x[3]);
    run(
        vec![
            case!("gru_sequence", |x| gru(x), [[2, 3, 9], [9, 3], [9], [2, 3]]),
            case!(
                "gru_sequence_one_step",
                |x| gru(x),
                [[1, 1, 6], [6, 2], [6], [1, 2]]
            ),
        ],
        inputs,
        true,
    );
}

#[test]
fn linalg_solve_first_and_second_order() {
    // A = x0 + 4 I is well conditioned for entries in [-1.5, 1.5]; B a vector or a matrix, A
    // also as a transposed (strided) view
    let shifted = |a: &Tensor| -> Result<Tensor> {
        let n = a.shape()[0];
        let eye: Vec<f64> = (0..n * n)
            .map(|i| if i % (n + 1) == 0 { 4.0 } else { 0.0 })
            .collect();
        a.add(&Tensor::from_vec(eye, &[n, n])?)
    };
    run(
        vec![
            case!(
                "solve_vector",
                |x| shifted(&x[0])?.linalg_solve(&x[1]),
                [[3, 3], [3]]
            ),
            case!(
                "solve_matrix",
                |x| shifted(&x[0])?.linalg_solve(&x[1]),
                [[3, 3], [3, 2]]
            ),
            case!(
                "solve_transposed",
                |x| shifted(&x[0].t()?)?.linalg_solve(&x[1].t()?),
                [[4, 4], [2, 4]]
            ),
        ],
        inputs,
        true,
    );
}

#[test]
fn gradcheck_reports_a_wrong_gradient() {
    // detach hides a dependence from autodiff: the analytic gradient is wrong and must be caught
    let x = Tensor::from_vec(vec![0.5f64, 1.5], &[2]).unwrap();
    let err = gradcheck(
        |xs| xs[0].mul(&xs[0].detach()),
        &[x],
        GradcheckOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("gradcheck failed for input 0"),
        "{err}"
    );
}
