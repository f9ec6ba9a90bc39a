//! 16-bit tensors (`DType::BF16`, `DType::F16`): every backend op gives, bit for bit, the f32 op
//! on the same (widened) values rounded once to the 16-bit type; ops composed of several (mean,
//! var, silu, conv2d with a bias, ...) round after each, so they are within a few of the format's
//! epsilons; and gradients are 16-bit tensors within the format's precision of the f32 ones.

use gradus_tensor::autodiff::grad;
use gradus_tensor::ops::conv::Conv2dOptions;
use gradus_tensor::ops::pool::Pool2d;
use gradus_tensor::precision::bf16;
use gradus_tensor::{DType, Result, Rng, Tensor};

const HALVES: [DType; 2] = [DType::BF16, DType::F16];

/// The format's epsilon (`torch.finfo(dtype).eps`).
fn eps(dtype: DType) -> f64 {
    dtype.half().expect("a 16-bit dtype").epsilon()
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

/// How many times an op rounds to 16 bits.
#[derive(Clone, Copy, PartialEq)]
enum Rounds {
    /// One backend call: the f32 result rounded once, bit for bit.
    Once,
    /// Composed of several calls: within 4 epsilons of the output's largest magnitude.
    Several,
}
use Rounds::{Once, Several};

/// Runs `op` on `data` converted to each 16-bit dtype (and on `index`, left f32) and checks:
/// - the outputs are 16-bit and equal the f32 op on the widened values, rounded once (within a
///   few roundings for `Several`);
/// - the gradients of `sum(output * w)` for a fixed random `w` are 16-bit and within a few of
///   the format's epsilons of the f32 gradients (each backward op rounds once).
fn check(
    name: &str,
    rounds: Rounds,
    data: &[&Tensor],
    index: &[Tensor],
    op: impl Fn(&[Tensor]) -> Result<Tensor>,
) {
    for dtype in HALVES {
        let low: Vec<Tensor> = data
            .iter()
            .map(|t| t.to_dtype(dtype).unwrap().requires_grad_(true))
            .collect();
        let wide: Vec<Tensor> = low
            .iter()
            .map(|t| {
                t.to_dtype(DType::F32)
                    .unwrap()
                    .detach()
                    .requires_grad_(true)
            })
            .collect();
        let args = |ts: &[Tensor]| ts.iter().chain(index).cloned().collect::<Vec<_>>();
        let got = op(&args(&low)).unwrap_or_else(|e| panic!("{name} {dtype:?}: {e}"));
        let want = op(&args(&wide)).unwrap();
        assert_eq!(got.dtype(), dtype, "{name}");
        assert_eq!(got.shape(), want.shape(), "{name}");
        let (got_v, want_v) = (got.to_vec_f64(), want.to_vec_f64());
        if rounds == Once {
            let rounded = want.to_dtype(dtype).unwrap().to_vec_f64();
            assert!(
                same_bits(&got_v, &rounded),
                "{name} {dtype:?}: {got_v:?} against {rounded:?}"
            );
        } else {
            let scale = want_v.iter().fold(0f64, |m, v| m.max(v.abs()));
            for (a, b) in got_v.iter().zip(&want_v) {
                assert!(
                    (a - b).abs() <= 4.0 * eps(dtype) * scale,
                    "{name} {dtype:?}: {a} against {b} (scale {scale})"
                );
            }
        }

        // gradients: only for outputs that are differentiable in the data
        if !got.requires_grad() {
            continue;
        }
        let mut rng = Rng::seed(7);
        let w = rng.uniform(got.shape(), 0.5, 1.5, DType::F32);
        let loss_low = got
            .mul(&w.to_dtype(dtype).unwrap())
            .unwrap()
            .sum_all()
            .unwrap();
        let loss_wide = want
            .mul(&w.to_dtype(dtype).unwrap().to_dtype(DType::F32).unwrap())
            .unwrap()
            .sum_all()
            .unwrap();
        let low_refs: Vec<&Tensor> = low.iter().collect();
        let wide_refs: Vec<&Tensor> = wide.iter().collect();
        let g_low = grad(&loss_low, &low_refs, None, false).unwrap();
        let g_wide = grad(&loss_wide, &wide_refs, None, false).unwrap();
        for (i, (gl, gw)) in g_low.iter().zip(&g_wide).enumerate() {
            assert_eq!(gl.dtype(), dtype, "{name}: gradient {i}");
            let (gl, gw) = (gl.to_vec_f64(), gw.to_vec_f64());
            let scale = gw.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-3);
            for (a, b) in gl.iter().zip(&gw) {
                assert!(
                    (a - b).abs() <= 16.0 * eps(dtype) * scale,
                    "{name} {dtype:?}: gradient {i}: {a} against {b} (scale {scale})"
                );
            }
        }
    }
}

fn randn(rng: &mut Rng, shape: &[usize]) -> Tensor {
    rng.normal(shape, 0.0, 1.0, DType::F32)
}

#[test]
fn elementwise_ops_round_the_f32_result_once() {
    let mut rng = Rng::seed(1);
    let x = randn(&mut rng, &[3, 17]);
    let y = randn(&mut rng, &[17]);
    let pos = rng.uniform(&[3, 17], 0.1, 4.0, DType::F32);
    type Unary = fn(&Tensor) -> Result<Tensor>;
    let unary: [(&str, Unary); 11] = [
        ("exp", |t| t.exp()),
        ("tanh", |t| t.tanh()),
        ("sigmoid", |t| t.sigmoid()),
        ("relu", |t| t.relu()),
        ("gelu", |t| t.gelu()),
        ("silu", |t| t.silu()),
        ("neg", |t| t.neg()),
        ("softplus", |t| t.softplus(1.0, 20.0)),
        ("erf", |t| t.erf()),
        ("abs", |t| t.abs()),
        ("affine", |t| t.mul_scalar(3.0)?.add_scalar(0.1)),
    ];
    for (name, f) in unary {
        // silu is x·sigmoid(x) and the affine map two scalar ops
        let rounds = if name == "silu" || name == "affine" {
            Several
        } else {
            Once
        };
        check(name, rounds, &[&x], &[], |t| f(&t[0]));
    }
    check("log", Once, &[&pos], &[], |t| t[0].log());
    check("sqrt", Once, &[&pos], &[], |t| t[0].sqrt());
    check("add (broadcast)", Once, &[&x, &y], &[], |t| t[0].add(&t[1]));
    check("sub", Once, &[&x, &pos], &[], |t| t[0].sub(&t[1]));
    check("mul", Once, &[&x, &pos], &[], |t| t[0].mul(&t[1]));
    check("div", Once, &[&x, &pos], &[], |t| t[0].div(&t[1]));
    check("maximum", Once, &[&x, &y], &[], |t| t[0].maximum(&t[1]));
    check("mul_add", Once, &[&x, &pos, &x], &[], |t| {
        t[0].mul_add(&t[1], &t[2])
    });
    check("where", Once, &[&x, &pos], &[], |t| {
        t[0].gt(&t[1])?.where_cond(&t[0], &t[1])
    });
    check("transpose", Once, &[&x], &[], |t| t[0].t()?.contiguous());
}

#[test]
fn reductions_run_in_f32_and_round_once() {
    let mut rng = Rng::seed(2);
    // a long row: summed in 16 bits, 1 + 1 + ... would stop growing at 256 in bf16
    let ones = Tensor::ones(&[2, 1000], DType::F32);
    check("sum of ones", Once, &[&ones], &[], |t| {
        t[0].sum(&[1], false)
    });
    let x = randn(&mut rng, &[4, 33]);
    check("sum", Once, &[&x], &[], |t| t[0].sum(&[0], true));
    check("sum_all", Once, &[&x], &[], |t| t[0].sum_all());
    check("mean", Several, &[&x], &[], |t| t[0].mean(&[1], false));
    check("var", Several, &[&x], &[], |t| t[0].var(&[1], 1, false));
    check("max", Once, &[&x], &[], |t| t[0].max(1, false));
    check("softmax", Once, &[&x], &[], |t| t[0].softmax(-1));
    check("log_softmax", Once, &[&x], &[], |t| t[0].log_softmax(-1));
}

#[test]
fn shape_and_index_ops_move_16_bit_values() {
    let mut rng = Rng::seed(3);
    let x = randn(&mut rng, &[4, 6]);
    let z = randn(&mut rng, &[2, 6]);
    let rows = Tensor::from_vec(vec![3.0f32, 0.0, 3.0], &[3]).unwrap();
    let cols = Tensor::from_vec(vec![5.0f32, 0.0, 1.0, 1.0, 2.0, 4.0, 0.0, 3.0], &[4, 2]).unwrap();
    check("narrow", Once, &[&x], &[], |t| t[0].narrow(1, 2, 3));
    check("concat", Once, &[&x, &z], &[], |t| {
        Tensor::concat(&[&t[0], &t[1]], 0)
    });
    check("pad_axis", Once, &[&x], &[], |t| t[0].pad_axis(1, 2, 1));
    check(
        "index_select",
        Once,
        &[&x],
        std::slice::from_ref(&rows),
        |t| t[0].index_select(0, &t[1]),
    );
    check("index_add", Once, &[&x, &z], &[], |t| {
        let at = Tensor::from_vec(vec![1.0f32, 1.0], &[2])?;
        t[0].index_add(0, &at, &t[1])
    });
    check("gather", Once, &[&x], std::slice::from_ref(&cols), |t| {
        t[0].gather(1, &t[1])
    });
    check(
        "scatter_add",
        Once,
        &[&x, &x.narrow(1, 0, 2).unwrap()],
        &[cols],
        |t| t[0].scatter_add(1, &t[2], &t[1].contiguous()?),
    );
}

#[test]
fn matrix_products_accumulate_in_f32() {
    let mut rng = Rng::seed(4);
    let a = randn(&mut rng, &[2, 5, 70]);
    let b = randn(&mut rng, &[70, 3]);
    check("matmul", Once, &[&a, &b], &[], |t| t[0].matmul(&t[1]));
    let x = randn(&mut rng, &[9, 70]);
    let w = randn(&mut rng, &[4, 70]);
    let bias = randn(&mut rng, &[4]);
    check("linear", Once, &[&x, &w, &bias], &[], |t| {
        t[0].linear(&t[1], Some(&t[2]))
    });
    let diagonal: Vec<f32> = (0..25)
        .map(|i| if i % 6 == 0 { 6.0 } else { 0.0 })
        .collect();
    let m = randn(&mut rng, &[5, 5]).add(&Tensor::from_vec(diagonal, &[5, 5]).unwrap());
    let rhs = randn(&mut rng, &[5, 2]);
    check("linalg_solve", Once, &[&m.unwrap(), &rhs], &[], |t| {
        t[0].linalg_solve(&t[1])
    });
}

#[test]
fn network_layers_keep_their_statistics_in_f32() {
    let mut rng = Rng::seed(5);
    let img = randn(&mut rng, &[2, 3, 9, 8]);
    let k = randn(&mut rng, &[4, 3, 3, 3]);
    let kb = randn(&mut rng, &[4]);
    let pad = Conv2dOptions {
        padding: (1, 1),
        ..Default::default()
    };
    check("conv2d", Several, &[&img, &k, &kb], &[], |t| {
        t[0].conv2d(&t[1], Some(&t[2]), &pad)
    });
    check("max_pool2d", Once, &[&img], &[], |t| {
        t[0].max_pool2d(&Pool2d::new((2, 2)))
    });
    check("avg_pool2d", Several, &[&img], &[], |t| {
        t[0].avg_pool2d(&Pool2d::new((3, 2)))
    });

    let x = randn(&mut rng, &[6, 24]);
    let gamma = rng.uniform(&[24], 0.5, 1.5, DType::F32);
    let beta = randn(&mut rng, &[24]);
    check("layer_norm", Once, &[&x, &gamma, &beta], &[], |t| {
        t[0].layer_norm(&t[1], &t[2], 1e-5)
    });
    let targets = Tensor::from_vec(vec![0.0f32, 23.0, 5.0, 5.0, 11.0, 1.0], &[6]).unwrap();
    check("cross_entropy", Once, &[&x], &[targets], |t| {
        t[0].cross_entropy(&t[1], true)
    });
    let qkv = randn(&mut rng, &[2, 7, 3 * 8]);
    check("attention", Once, &[&qkv], &[], |t| {
        t[0].scaled_dot_product_attention_qkv(2, true)
    });

    let xw = randn(&mut rng, &[2, 5, 4 * 3]).mul_scalar(0.5).unwrap();
    let w_hh = randn(&mut rng, &[4 * 3, 3]).mul_scalar(0.5).unwrap();
    let h0 = randn(&mut rng, &[2, 3]);
    let c0 = randn(&mut rng, &[2, 3]);
    check("lstm", Several, &[&xw, &w_hh, &h0, &c0], &[], |t| {
        let (h, c) = t[0].lstm_sequence(&t[1], &t[2], &t[3])?;
        Tensor::concat(&[&h, &c], 1)
    });
    let xg = randn(&mut rng, &[2, 5, 3 * 3]);
    let g_hh = randn(&mut rng, &[3 * 3, 3]).mul_scalar(0.5).unwrap();
    let b_hh = randn(&mut rng, &[3 * 3]);
    check("gru", Several, &[&xg, &g_hh, &b_hh, &h0], &[], |t| {
        t[0].gru_sequence(&t[1], &t[2], &t[3])
    });
}

#[test]
fn casts_round_once_and_keep_what_the_format_cannot_hold() {
    // f64 -> bf16 rounds once: 1 + 2^-8 + 2^-30 is above the tie, so it rounds up (through f32
    // it would be the tie 1 + 2^-8, rounded down to 1)
    let x = Tensor::from_vec(vec![1.0f64 + 2f64.powi(-8) + 2f64.powi(-30)], &[1]).unwrap();
    let b = x.to_dtype(DType::BF16).unwrap();
    assert_eq!(b.to_vec_f64(), vec![1.0 + 2f64.powi(-7)]);
    // overflow, subnormals and NaN
    let v = Tensor::from_vec(vec![70_000.0f32, 1e-6, f32::NAN, -0.0], &[4]).unwrap();
    let h = v.to_dtype(DType::F16).unwrap().to_vec_f64();
    assert_eq!(h[0], f64::INFINITY);
    assert_eq!(h[1], (1e-6f64 / 2f64.powi(-24)).round() * 2f64.powi(-24));
    assert!(h[2].is_nan());
    assert!(h[3] == 0.0 && h[3].is_sign_negative());
    // host transfers in the 16-bit type itself
    let t = Tensor::from_vec(vec![bf16::from_f32(1.5); 3], &[3]).unwrap();
    assert_eq!(t.dtype(), DType::BF16);
    assert_eq!(t.to_vec::<bf16>().unwrap()[2].to_f32(), 1.5);
    assert!(
        t.to_vec::<f32>().is_err(),
        "a dtype mismatch, not a silent conversion"
    );
    assert_eq!(DType::BF16.size_in_bytes(), 2);
}

#[test]
fn mixing_a_16_bit_tensor_with_an_f32_one_is_an_error_naming_both() {
    let a = Tensor::ones(&[2], DType::BF16);
    let b = Tensor::ones(&[2], DType::F32);
    let e = a.add(&b).unwrap_err().to_string();
    assert!(e.contains("BF16") && e.contains("F32"), "{e}");
    assert!(a.matmul(&b.reshape(&[2, 1]).unwrap()).is_err());
}
