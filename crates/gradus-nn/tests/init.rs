//! Initializers: PyTorch's per-layer defaults (bounds and moments) and the classic schemes.

use gradus_nn::init::{self, FanMode, Nonlinearity};
use gradus_nn::layers::{BatchNorm, Conv2d, Embedding, LayerNorm, Linear, Recurrent};
use gradus_nn::Module;
use gradus_tensor::{ops::conv::Conv2dOptions, DType, Rng, Tensor};

fn max_abs(t: &Tensor) -> f64 {
    t.to_vec_f64().iter().fold(0.0, |m, v| m.max(v.abs()))
}

fn mean_std(t: &Tensor) -> (f64, f64) {
    let v = t.to_vec_f64();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (
        mean,
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt(),
    )
}

/// Uniform samples in `(-b, b)` have max close to `b` and std close to `b / sqrt(3)`.
fn assert_uniform(t: &Tensor, bound: f64, what: &str) {
    let (m, s) = (max_abs(t), mean_std(t).1);
    assert!(
        m <= bound && m > 0.9 * bound,
        "{what}: max |w| {m} for bound {bound}"
    );
    assert!(
        (s - bound / 3f64.sqrt()).abs() < 0.1 * bound,
        "{what}: std {s} for bound {bound}"
    );
}

#[test]
fn layer_defaults_match_pytorch() {
    let mut rng = Rng::seed(0);
    let lin = Linear::new(64, 200, true, &mut rng);
    assert_uniform(&lin.weight.tensor(), 1.0 / 8.0, "linear weight");
    assert_uniform(
        &lin.bias.as_ref().unwrap().tensor(),
        1.0 / 8.0,
        "linear bias",
    );
    let conv = Conv2d::new(
        8,
        32,
        (3, 3),
        Conv2dOptions {
            groups: 2,
            ..Default::default()
        },
        true,
        &mut rng,
    );
    assert_uniform(&conv.weight.tensor(), 1.0 / 6.0, "conv weight"); // fan_in = 4 * 9
    assert_uniform(
        &conv.bias.as_ref().unwrap().tensor(),
        1.0 / 6.0,
        "conv bias",
    );
    for (name, p) in Recurrent::lstm(10, 25, 2, &mut rng).named_parameters() {
        assert_uniform(&p.tensor(), 0.2, &name);
    }
    let (m, s) = mean_std(&Embedding::new(100, 50, &mut rng).weight.tensor());
    assert!(
        m.abs() < 0.05 && (s - 1.0).abs() < 0.05,
        "embedding N(0, 1): mean {m}, std {s}"
    );
    for (name, p) in BatchNorm::new_2d(4)
        .named_parameters()
        .into_iter()
        .chain(LayerNorm::new(&[4]).named_parameters())
    {
        let want = if name == "weight" { 1.0 } else { 0.0 };
        assert_eq!(p.tensor().to_vec_f64(), vec![want; 4], "{name}");
    }
}

#[test]
fn xavier_and_kaiming_scales() {
    let mut rng = Rng::seed(1);
    let shape = [300, 200];
    assert_uniform(
        &init::xavier_uniform(&shape, 2.0, DType::F64, &mut rng),
        2.0 * (6.0f64 / 500.0).sqrt(),
        "xavier uniform",
    );
    let s = mean_std(&init::xavier_normal(&shape, 1.0, DType::F64, &mut rng)).1;
    assert!(
        (s - (2.0f64 / 500.0).sqrt()).abs() < 0.02 * s,
        "xavier normal std {s}"
    );
    let relu = Nonlinearity::ReLU;
    assert_uniform(
        &init::kaiming_uniform(&shape, FanMode::FanOut, relu, DType::F64, &mut rng),
        (6.0f64 / 300.0).sqrt(),
        "kaiming uniform",
    );
    let s = mean_std(&init::kaiming_normal(
        &shape,
        FanMode::FanIn,
        relu,
        DType::F64,
        &mut rng,
    ))
    .1;
    assert!(
        (s - (2.0f64 / 200.0).sqrt()).abs() < 0.02 * s,
        "kaiming normal std {s}"
    );
    assert!((init::gain(Nonlinearity::LeakyReLU(0.2)) - (2.0f64 / 1.04).sqrt()).abs() < 1e-12);
    assert_eq!(
        init::constant(&[3], 0.25, DType::F64).to_vec_f64(),
        vec![0.25; 3]
    );
}

#[test]
fn orthogonal_rows_or_columns_are_orthonormal() {
    for shape in [[4usize, 7], [7, 4], [5, 5]] {
        let q = init::orthogonal(&shape, 1.5, DType::F64, &mut Rng::seed(2)).unwrap();
        // the smaller Gram matrix is 1.5^2 I
        let gram = if shape[0] <= shape[1] {
            q.matmul(&q.t().unwrap())
        } else {
            q.t().unwrap().matmul(&q)
        }
        .unwrap();
        let k = shape[0].min(shape[1]);
        let g = gram.to_vec_f64();
        for i in 0..k {
            for j in 0..k {
                let want = if i == j { 2.25 } else { 0.0 };
                assert!(
                    (g[i * k + j] - want).abs() < 1e-10,
                    "{shape:?}: gram[{i}][{j}] = {}",
                    g[i * k + j]
                );
            }
        }
    }
    assert!(init::orthogonal(&[3], 1.0, DType::F64, &mut Rng::seed(0)).is_err());
}

#[test]
fn seeds_reproduce_initialization() {
    let a = Linear::new(5, 5, true, &mut Rng::seed(7));
    let b = Linear::new(5, 5, true, &mut Rng::seed(7));
    assert_eq!(
        a.weight.tensor().to_vec_f64(),
        b.weight.tensor().to_vec_f64()
    );
    assert_ne!(
        a.weight.tensor().to_vec_f64(),
        Linear::new(5, 5, true, &mut Rng::seed(8))
            .weight
            .tensor()
            .to_vec_f64()
    );
}

#[test]
fn orthogonal_is_the_qr_factor_of_its_gaussian_draw_with_a_positive_r_diagonal() {
    // torch.nn.init.orthogonal_: A ~ N(0, 1) [rows, cols], Q R = A (tall orientation) with the
    // signs fixed so that diag(R) > 0; then R = Q^T A is upper triangular with a positive diagonal
    for (shape, flat) in [
        (vec![6usize, 3], [6usize, 3]),
        (vec![2, 3, 2], [2, 6]),
        (vec![4, 4], [4, 4]),
    ] {
        let q = init::orthogonal(&shape, 1.0, DType::F64, &mut Rng::seed(9)).unwrap();
        let a = Rng::seed(9).normal(&flat, 0.0, 1.0, DType::F64);
        let q = q.reshape(&flat).unwrap();
        let (q, a) = if flat[0] < flat[1] {
            (q.t().unwrap(), a.t().unwrap())
        } else {
            (q, a)
        };
        let k = flat[0].min(flat[1]);
        let r = q.t().unwrap().matmul(&a).unwrap().to_vec_f64();
        for i in 0..k {
            assert!(
                r[i * k + i] > 0.0,
                "{shape:?}: R[{i}][{i}] = {}",
                r[i * k + i]
            );
            for j in 0..i {
                assert!(
                    r[i * k + j].abs() < 1e-12,
                    "{shape:?}: R[{i}][{j}] = {}",
                    r[i * k + j]
                );
            }
        }
    }
}
