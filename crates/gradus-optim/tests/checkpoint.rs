//! Optimizer state saved mid-run and restored into a fresh optimizer continues identically
//! (bit for bit), for every kind of state: moments, amsgrad maxima, scalars (NAdam), chains,
//! wrappers (Lookahead, Accumulate), f32 and f64.

// Tensor handles are cheap reference-counted clones; `&[p.clone()]` reads better than
// `std::slice::from_ref(&p)` in tests.
#![allow(clippy::cloned_ref_to_slice_refs)]

use gradus_optim::{
    Accumulate, Adam, Chain, ClipByGlobalNorm, GradientTransformation, Lbfgs, LbfgsState,
    Lookahead, NAdam, Optimizer, ParamEma, Rprop, Sgd, State,
};
use gradus_tensor::{DType, Rng, Tensor};

type Make = fn() -> Box<dyn GradientTransformation>;

fn optimizers() -> Vec<(&'static str, Make)> {
    vec![
        ("adam_amsgrad", || {
            Box::new(Adam::new(1e-2).amsgrad(true).weight_decay(0.01))
        }),
        ("nadam", || Box::new(NAdam::new(1e-2))),
        ("rprop", || Box::new(Rprop::new(1e-2))),
        ("clip_then_sgd", || {
            Box::new(
                Chain::new()
                    .then(ClipByGlobalNorm::new(0.1))
                    .then(Sgd::new(0.1).momentum(0.9)),
            )
        }),
        ("lookahead_adam", || {
            Box::new(Lookahead::new(Adam::new(1e-2), 3, 0.5))
        }),
        ("accumulate_adam", || {
            Box::new(Accumulate::new(Adam::new(1e-2), 2))
        }),
    ]
}

/// Two parameters, loss sum(w^2) + sum(sin-free quartic) -- smooth and non-trivial.
fn grads(params: &[Tensor]) -> Vec<Tensor> {
    params
        .iter()
        .map(|p| {
            p.powf(3.0)
                .unwrap()
                .add(&p.mul_scalar(0.5).unwrap())
                .unwrap()
        })
        .collect()
}

fn fresh_params(dtype: DType) -> Vec<Tensor> {
    let mut rng = Rng::seed(11);
    vec![
        rng.normal(&[3, 4], 0.0, 1.0, dtype),
        rng.normal(&[5], 0.0, 1.0, dtype),
    ]
}

fn copy(params: &[Tensor]) -> Vec<Tensor> {
    params.iter().map(|p| p.mul_scalar(1.0).unwrap()).collect()
}

#[test]
fn save_restore_continues_identically() {
    for dtype in [DType::F32, DType::F64] {
        for (name, make) in optimizers() {
            let params = fresh_params(dtype);
            let mut opt = Optimizer::new(make(), &params).unwrap();
            for _ in 0..5 {
                opt.step_with(&grads(&params)).unwrap();
            }
            let saved = serde_json::to_string(&opt.state_dict()).unwrap();
            let restored_params = copy(&params);
            for _ in 0..5 {
                opt.step_with(&grads(&params)).unwrap();
            }
            let mut fresh = Optimizer::new(make(), &restored_params).unwrap();
            let states: Vec<State> = serde_json::from_str(&saved).unwrap();
            fresh.load_state_dict(states).unwrap();
            for _ in 0..5 {
                fresh.step_with(&grads(&restored_params)).unwrap();
            }
            for (a, b) in params.iter().zip(&restored_params) {
                assert_eq!(
                    a.to_vec_f64(),
                    b.to_vec_f64(),
                    "{name} {dtype:?}: restored run diverged"
                );
            }
            assert_eq!(
                opt.state_dict(),
                fresh.state_dict(),
                "{name} {dtype:?}: states differ"
            );
        }
    }
}

#[test]
fn state_of_another_model_is_rejected() {
    let params = fresh_params(DType::F32);
    let mut opt = Optimizer::new(Adam::new(1e-3), &params).unwrap();
    let other = Adam::new(1e-3)
        .init(&[
            Tensor::zeros(&[7], DType::F32),
            Tensor::zeros(&[5], DType::F32),
        ])
        .unwrap();
    opt.load_state_dict(vec![other]).unwrap();
    let err = opt.step_with(&grads(&params)).unwrap_err();
    assert!(err.to_string().contains("state mismatch"), "{err}");
}

#[test]
fn lbfgs_and_ema_state_round_trip() {
    let x = Tensor::from_vec(vec![1.5f64, -0.5], &[2])
        .unwrap()
        .requires_grad_(true);
    let closure = |x: &Tensor| {
        let x = x.clone();
        move || {
            let l = x.powf(4.0)?.sum_all()?.add(&x.mul(&x)?.sum_all()?)?;
            l.backward()?;
            Ok(l.item()?)
        }
    };
    let mut opt = Lbfgs::new(&[x.clone()]).max_iter(2);
    opt.step(closure(&x)).unwrap();
    let saved = serde_json::to_string(opt.state()).unwrap();
    let y = Tensor::from_vec(x.to_vec::<f64>().unwrap(), &[2])
        .unwrap()
        .requires_grad_(true);
    opt.step(closure(&x)).unwrap();
    let mut other = Lbfgs::new(&[y.clone()]).max_iter(2);
    other.load_state(serde_json::from_str::<LbfgsState>(&saved).unwrap());
    other.step(closure(&y)).unwrap();
    assert_eq!(x.to_vec::<f64>().unwrap(), y.to_vec::<f64>().unwrap());

    let mut ema = ParamEma::new(&[x.clone()], 0.9).unwrap();
    ema.update(&[x.clone()]).unwrap();
    let back: ParamEma = serde_json::from_str(&serde_json::to_string(&ema).unwrap()).unwrap();
    assert_eq!(back, ema);
}
