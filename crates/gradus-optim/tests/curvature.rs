//! K-FAC and the exact natural gradient against dense computations written out here in plain
//! loops (f64), independent of the optimizers' tensor code.

use gradus_nn::layers::{Activation, Linear, Sequential};
use gradus_nn::Module;
use gradus_optim::{GradientTransformation, Kfac, NaturalGradient};
use gradus_tensor::{capture, DType, Rng, Tensor};

/// Solves `m x = b` (dense, row-major `n × n`) by Gaussian elimination with partial pivoting.
fn dense_solve(mut m: Vec<f64>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| m[i * n + c].abs().total_cmp(&m[j * n + c].abs()))
            .unwrap();
        for k in 0..n {
            m.swap(c * n + k, p * n + k);
        }
        b.swap(c, p);
        for r in c + 1..n {
            let f = m[r * n + c] / m[c * n + c];
            for k in c..n {
                m[r * n + k] -= f * m[c * n + k];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| m[r * n + k] * x[k]).sum();
        x[r] = (b[r] - s) / m[r * n + r];
    }
    x
}

fn data(rows: usize, cols: usize, seed: u64) -> Vec<f64> {
    Tensor::randn(&[rows * cols], DType::F64, seed).to_vec_f64()
}

fn tensor(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

/// One Linear layer `3 → 2` with bias, MSE loss (mean over all elements) on 5 samples: K-FAC's
/// update with lr 1 and no momentum or clipping is `-(G + √λ/π I)⁻¹ ∇W (A + π√λ I)⁻¹`, which is
/// the solve of the dense Kronecker system `((A + π√λ I) ⊗ (G + √λ/π I)) vec(V) = vec(∇W)`.
#[test]
fn kfac_on_one_linear_layer_matches_the_dense_kronecker_solve() {
    let (n, din, dout, damping) = (5usize, 3usize, 2usize, 0.1f64);
    let xs = data(n, din, 1);
    let ys = data(n, dout, 2);
    let w0 = data(dout, din, 3);
    let b0 = data(1, dout, 4);
    let lin = Linear::from_tensors(tensor(&w0, &[dout, din]), Some(tensor(&b0, &[dout])));
    let params: Vec<Tensor> = lin.parameters().iter().map(|p| p.tensor()).collect();
    let kfac = Kfac::new(1.0)
        .momentum(0.0)
        .kl_clip(0.0)
        .damping(damping)
        .stat_freq(1)
        .inv_freq(1);
    let mut state = kfac.init(&params).unwrap();
    let x = tensor(&xs, &[n, din]);
    let loss = lin
        .forward(&x)
        .unwrap()
        .sub(&tensor(&ys, &[n, dout]))
        .unwrap()
        .powf(2.0)
        .unwrap()
        .mean_all()
        .unwrap();
    loss.backward().unwrap();
    let mut updates: Vec<Tensor> = params.iter().map(|p| p.grad().unwrap()).collect();
    let grads: Vec<Vec<f64>> = updates.iter().map(|g| g.to_vec_f64()).collect();
    kfac.update(&mut updates, &mut state, &params).unwrap();
    capture::enable(false);

    // by hand: ā = [x, 1], s = W x + b, per-sample output gradient g = n dL/ds = 2 (s - y) / dout
    let da = din + 1;
    let (mut a, mut g) = (vec![0.0; da * da], vec![0.0; dout * dout]);
    for i in 0..n {
        let abar: Vec<f64> = xs[i * din..(i + 1) * din]
            .iter()
            .copied()
            .chain([1.0])
            .collect();
        let gi: Vec<f64> = (0..dout)
            .map(|o| {
                let s: f64 = (0..din)
                    .map(|k| w0[o * din + k] * xs[i * din + k])
                    .sum::<f64>()
                    + b0[o];
                2.0 * (s - ys[i * dout + o]) / dout as f64
            })
            .collect();
        for r in 0..da {
            for c in 0..da {
                a[r * da + c] += abar[r] * abar[c] / n as f64;
            }
        }
        for r in 0..dout {
            for c in 0..dout {
                g[r * dout + c] += gi[r] * gi[c] / n as f64;
            }
        }
    }
    let want = dense_kfac(a, g, damping, &grads[0], &grads[1]);
    let got: Vec<f64> = updates.iter().flat_map(|u| u.to_vec_f64()).collect();
    assert_close(&got, &want);
}

fn assert_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-10 * (1.0 + w.abs()),
            "[{k}]: {g} vs {w}"
        );
    }
}

/// K-FAC's update `-V` (weight row-major `[out, din]`, then bias) for factors `a` (`da × da`,
/// the bias last) and `g` (`out × out`) and the gradients, by the dense Kronecker solve
/// `((A + π√λ I) ⊗ (G + √λ/π I)) vec(V) = vec([∇W ∇b])`.
fn dense_kfac(mut a: Vec<f64>, mut g: Vec<f64>, damping: f64, gw: &[f64], gb: &[f64]) -> Vec<f64> {
    let dout = gb.len();
    let da = (a.len() as f64).sqrt() as usize;
    let din = da - 1;
    let ta = (0..da).map(|i| a[i * da + i]).sum::<f64>() / da as f64;
    let tg = (0..dout).map(|i| g[i * dout + i]).sum::<f64>() / dout as f64;
    let pi = (ta / tg).sqrt();
    for i in 0..da {
        a[i * da + i] += pi * damping.sqrt();
    }
    for i in 0..dout {
        g[i * dout + i] += damping.sqrt() / pi;
    }
    // column-major vec: X[o][j] at j * dout + o; (A ⊗ G)[(j,o),(l,k)] = A[j][l] G[o][k]
    let dim = da * dout;
    let mut kron = vec![0.0; dim * dim];
    let mut rhs = vec![0.0; dim];
    for j in 0..da {
        for o in 0..dout {
            rhs[j * dout + o] = if j < din { gw[o * din + j] } else { gb[o] };
            for l in 0..da {
                for k in 0..dout {
                    kron[(j * dout + o) * dim + l * dout + k] = a[j * da + l] * g[o * dout + k];
                }
            }
        }
    }
    let v = dense_solve(kron, rhs);
    let weight = (0..dout).flat_map(|o| (0..din).map(move |j| (o, j)));
    weight
        .map(|(o, j)| -v[j * dout + o])
        .chain((0..dout).map(|o| -v[din * dout + o]))
        .collect()
}

/// One Conv2d layer (1 → 2 channels, 2×2 kernel, no padding) on 3 images 3×3, MSE loss: KFC's
/// factors `A = (1/n) Σ_{i,t} ā āᵀ` over the patches and `G = (1/(n L)) Σ_{i,t} g gᵀ` over the
/// positions, then the same dense Kronecker solve.
#[test]
fn kfac_on_one_conv2d_layer_matches_the_dense_kronecker_solve() {
    use gradus_nn::layers::Conv2d;
    use gradus_tensor::ops::conv::Conv2dOptions;
    let (n, hw, k, dout, damping) = (3usize, 3usize, 2usize, 2usize, 0.05f64);
    let (oh, din) = (hw - k + 1, k * k);
    let xs = data(n, hw * hw, 11);
    let w0 = data(dout, din, 12);
    let b0 = data(1, dout, 13);
    let ys = data(n, dout * oh * oh, 14);
    let mut conv = Conv2d::new(
        1,
        dout,
        (k, k),
        Conv2dOptions::default(),
        true,
        &mut Rng::seed(0),
    );
    conv.weight = gradus_nn::Param::new(tensor(&w0, &[dout, 1, k, k]));
    conv.bias = Some(gradus_nn::Param::new(tensor(&b0, &[dout])));
    let params: Vec<Tensor> = conv.parameters().iter().map(|p| p.tensor()).collect();
    let kfac = Kfac::new(1.0)
        .momentum(0.0)
        .kl_clip(0.0)
        .damping(damping)
        .stat_freq(1)
        .inv_freq(1);
    let mut state = kfac.init(&params).unwrap();
    let out = conv.forward(&tensor(&xs, &[n, 1, hw, hw])).unwrap();
    let y = tensor(&ys, &[n, dout, oh, oh]);
    out.sub(&y)
        .unwrap()
        .powf(2.0)
        .unwrap()
        .mean_all()
        .unwrap()
        .backward()
        .unwrap();
    let mut updates: Vec<Tensor> = params.iter().map(|p| p.grad().unwrap()).collect();
    let grads: Vec<Vec<f64>> = updates.iter().map(|g| g.to_vec_f64()).collect();
    kfac.update(&mut updates, &mut state, &params).unwrap();
    capture::enable(false);

    let (da, l, numel) = (din + 1, oh * oh, (n * dout * oh * oh) as f64);
    let (mut a, mut g) = (vec![0.0; da * da], vec![0.0; dout * dout]);
    for i in 0..n {
        for (r, c) in (0..oh).flat_map(|r| (0..oh).map(move |c| (r, c))) {
            let abar: Vec<f64> = (0..k)
                .flat_map(|ki| (0..k).map(move |kj| (ki, kj)))
                .map(|(ki, kj)| xs[i * hw * hw + (r + ki) * hw + c + kj])
                .chain([1.0])
                .collect();
            let gi: Vec<f64> = (0..dout)
                .map(|o| {
                    let s: f64 = (0..din).map(|q| w0[o * din + q] * abar[q]).sum::<f64>() + b0[o];
                    let target = ys[((i * dout + o) * oh + r) * oh + c];
                    n as f64 * 2.0 * (s - target) / numel
                })
                .collect();
            for p in 0..da {
                for q in 0..da {
                    a[p * da + q] += abar[p] * abar[q] / n as f64;
                }
            }
            for p in 0..dout {
                for q in 0..dout {
                    g[p * dout + q] += gi[p] * gi[q] / (n * l) as f64;
                }
            }
        }
    }
    let want = dense_kfac(a, g, damping, &grads[0], &grads[1]);
    let got: Vec<f64> = updates.iter().flat_map(|u| u.to_vec_f64()).collect();
    assert_close(&got, &want);
}

fn mlp(seed: u64) -> Sequential {
    let mut rng = Rng::seed(seed);
    let l1 = Linear::new(4, 8, true, &mut rng);
    let l2 = Linear::new(8, 1, true, &mut rng);
    let cast = |l: Linear| {
        Linear::from_tensors(
            l.weight.tensor().to_dtype(DType::F64).unwrap(),
            l.bias.map(|b| b.tensor().to_dtype(DType::F64).unwrap()),
        )
    };
    Sequential::new()
        .push(cast(l1))
        .push(Activation::Tanh)
        .push(cast(l2))
}

fn mse(model: &dyn Module, x: &Tensor, y: &Tensor) -> Tensor {
    model
        .forward(x)
        .unwrap()
        .sub(y)
        .unwrap()
        .powf(2.0)
        .unwrap()
        .mean_all()
        .unwrap()
}

/// Trains `model` on a fixed regression batch with `opt` for `steps`; the losses seen.
fn train(model: &dyn Module, opt: &dyn GradientTransformation, steps: usize) -> Vec<f64> {
    let x = tensor(&data(32, 4, 7), &[32, 4]);
    let y = x
        .narrow(1, 0, 1)
        .unwrap()
        .mul(&x.narrow(1, 1, 1).unwrap())
        .unwrap()
        .tanh()
        .unwrap();
    let params: Vec<Tensor> = model.parameters().iter().map(|p| p.tensor()).collect();
    let mut state = opt.init(&params).unwrap();
    let mut losses = Vec::new();
    for _ in 0..steps {
        model.parameters().iter().for_each(|p| p.zero_grad());
        let loss = mse(model, &x, &y);
        losses.push(loss.item().unwrap());
        loss.backward().unwrap();
        let grads: Vec<Tensor> = params.iter().map(|p| p.grad().unwrap()).collect();
        opt.apply(&params, &grads, &mut state).unwrap();
        assert!(params
            .iter()
            .all(|p| p.to_vec_f64().iter().all(|v| v.is_finite())));
    }
    capture::enable(false);
    losses
}

#[test]
fn kfac_on_a_two_layer_mlp_takes_finite_steps_that_decrease_the_loss() {
    let kfac = Kfac::new(0.05)
        .damping(1e-2)
        .kl_clip(1e-2)
        .stat_freq(1)
        .inv_freq(5);
    let losses = train(&mlp(0), &kfac, 30);
    assert!(losses[29] < 0.5 * losses[0], "{losses:?}");
}

#[test]
fn natural_gradient_on_a_two_layer_mlp_decreases_the_loss() {
    let losses = train(&mlp(0), &NaturalGradient::new(0.5).damping(1e-2), 20);
    assert!(losses[19] < 0.5 * losses[0], "{losses:?}");
}

/// The exact natural gradient on a two-layer MLP equals the dense damped solve
/// `(F + λI)⁻¹ ∇L`, with `F` built from per-sample gradients taken by separate backward passes.
#[test]
fn natural_gradient_matches_the_dense_damped_fisher_solve() {
    let (n, damping) = (6usize, 1e-2);
    let model = mlp(3);
    let x = tensor(&data(n, 4, 8), &[n, 4]);
    let y = tensor(&data(n, 1, 9), &[n, 1]);
    let params: Vec<Tensor> = model.parameters().iter().map(|p| p.tensor()).collect();
    let flat = |ts: &[Tensor]| -> Vec<f64> { ts.iter().flat_map(|t| t.to_vec_f64()).collect() };
    // per-sample gradients of ℓᵢ = (f(xᵢ) - yᵢ)², so that L = (1/n) Σ ℓᵢ
    let mut per_sample = Vec::new();
    for i in 0..n {
        model.parameters().iter().for_each(|p| p.zero_grad());
        mse(
            &model,
            &x.narrow(0, i, 1).unwrap(),
            &y.narrow(0, i, 1).unwrap(),
        )
        .backward()
        .unwrap();
        per_sample.push(flat(
            &params.iter().map(|p| p.grad().unwrap()).collect::<Vec<_>>(),
        ));
    }
    let p = per_sample[0].len();
    let mut f = vec![0.0; p * p];
    for gi in &per_sample {
        for r in 0..p {
            for c in 0..p {
                f[r * p + c] += gi[r] * gi[c] / n as f64;
            }
        }
    }
    (0..p).for_each(|i| f[i * p + i] += damping);
    let ng = NaturalGradient::new(1.0).damping(damping);
    let mut state = ng.init(&params).unwrap();
    capture::take();
    model.parameters().iter().for_each(|p| p.zero_grad());
    mse(&model, &x, &y).backward().unwrap();
    let mut updates: Vec<Tensor> = params.iter().map(|p| p.grad().unwrap()).collect();
    let want = dense_solve(f, flat(&updates));
    ng.update(&mut updates, &mut state, &params).unwrap();
    capture::enable(false);
    let got = flat(&updates);
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (g + w).abs() <= 1e-8 * (1.0 + w.abs()),
            "[{k}]: {g} vs {}",
            -w
        );
    }
}

#[test]
fn hyperparameters_are_checked() {
    let p = [Tensor::zeros(&[2], DType::F64)];
    for (opt, what) in [
        (
            Box::new(Kfac::new(0.1).damping(0.0)) as Box<dyn GradientTransformation>,
            "damping",
        ),
        (Box::new(Kfac::new(0.1).stat_decay(1.0)), "stat_decay"),
        (Box::new(Kfac::new(0.1).inv_freq(0)), "inv_freq"),
        (Box::new(NaturalGradient::new(0.1).damping(-1.0)), "damping"),
    ] {
        let err = opt.init(&p).unwrap_err().to_string();
        assert!(err.contains(what), "{err}");
    }
    capture::enable(false);
}
