//! A declared state dtype (optax's `mu_dtype`): f64 moments for f32 parameters follow an f64
//! reference more closely than f32 moments do, the moments themselves are exactly the
//! reference's, and every per-element optimizer runs with a state dtype other than its
//! parameter's.

// Tensor handles are cheap reference-counted clones; `&[p.clone()]` reads better than
// `std::slice::from_ref(&p)` in tests.
#![allow(clippy::cloned_ref_to_slice_refs)]

use gradus_optim::{
    AdaBelief, Adagrad, Adam, AdamW, GradientTransformation, Lion, NAdam, Optimizer, RmsProp, Sgd,
    Yogi,
};
use gradus_tensor::{DType, Rng, Tensor};

const N: usize = 4096;
const STEPS: usize = 300;

/// A fixed sequence of f32 gradients (they do not depend on the parameters, so the three runs
/// below see the same ones).
fn gradients() -> Vec<Vec<f32>> {
    let mut rng = Rng::seed(11);
    (0..STEPS)
        .map(|_| {
            rng.normal(&[N], 0.0, 1.0, DType::F32)
                .to_vec::<f32>()
                .unwrap()
        })
        .collect()
}

/// Runs `make()` for `STEPS` steps on a parameter of `dtype` starting at 0.5, returning the final
/// parameter (in f64) and the first state buffer of the optimizer (in f64).
fn run(
    make: impl GradientTransformation + 'static,
    dtype: DType,
    grads: &[Vec<f32>],
) -> (Vec<f64>, Vec<f64>) {
    let p = Tensor::full(&[N], 0.5, dtype);
    let mut opt = Optimizer::new(make, &[p.clone()]).unwrap();
    for g in grads {
        let g = Tensor::from_vec(g.clone(), &[N])
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        opt.step_with(&[g]).unwrap();
    }
    let state = &opt.states()[0].slots[0][0];
    (p.to_vec_f64(), state.tensor().to_vec_f64())
}

fn max_err(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// The updates (optax's `update`, at a fixed parameter) of every step and the first state buffer
/// at the end, in f64.
fn updates(
    make: impl GradientTransformation,
    dtype: DType,
    grads: &[Vec<f32>],
) -> (Vec<f64>, Vec<f64>) {
    let p = Tensor::full(&[N], 0.5, dtype);
    let mut state = make.init(&[p.clone()]).unwrap();
    let mut all = Vec::new();
    for g in grads {
        let g = Tensor::from_vec(g.clone(), &[N])
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        let mut u = [g];
        make.update(&mut u, &mut state, &[p.clone()]).unwrap();
        all.extend(u[0].to_vec_f64());
    }
    (all, state.slots[0][0].tensor().to_vec_f64())
}

#[test]
fn f64_moments_for_f32_params_track_an_f64_reference_more_closely_than_f32_moments() {
    let grads = gradients();
    let adam = || Adam::new(1e-3);
    let (reference, ref_m) = updates(adam(), DType::F64, &grads);
    let (narrow, narrow_m) = updates(adam(), DType::F32, &grads);
    let (wide, wide_m) = updates(adam().state_dtype(DType::F64), DType::F32, &grads);

    // the moments only see the (exactly widened) gradients: with f64 state they are the
    // reference's to the bit, with f32 state they are not
    assert_eq!(wide_m, ref_m);
    assert_ne!(narrow_m, ref_m);
    // with f64 state every f32 update is the reference's rounded once (the closest f32 to it)
    let rounded: Vec<f64> = reference.iter().map(|&x| x as f32 as f64).collect();
    assert_eq!(wide, rounded);
    // so its error is the least an f32 update can have; f32 moments add their own
    let err = |u: &[f64]| -> f64 { u.iter().zip(&reference).map(|(a, b)| (a - b).abs()).sum() };
    let (e_wide, e_narrow) = (err(&wide), err(&narrow));
    assert!(
        e_wide < e_narrow,
        "f64 state: {e_wide:e}, f32 state: {e_narrow:e}"
    );
    assert_ne!(narrow, rounded);

    // and training the f32 parameter itself stays within rounding of the reference
    let (p_ref, _) = run(adam(), DType::F64, &grads);
    let (p_wide, _) = run(adam().state_dtype(DType::F64), DType::F32, &grads);
    assert!(max_err(&p_wide, &p_ref) < 1e-5);
}

#[test]
fn every_per_element_optimizer_runs_with_a_declared_state_dtype() {
    let grads: Vec<Vec<f32>> = gradients().into_iter().take(5).collect();
    type Make = Box<dyn Fn() -> Box<dyn GradientTransformation>>;
    let cases: Vec<(&str, Make)> = vec![
        ("adam", Box::new(|| Box::new(Adam::new(1e-2).amsgrad(true)))),
        ("adamw", Box::new(|| Box::new(AdamW::new(1e-2)))),
        ("nadam", Box::new(|| Box::new(NAdam::new(1e-2)))),
        (
            "sgd",
            Box::new(|| Box::new(Sgd::new(1e-2).momentum(0.9).nesterov(true))),
        ),
        (
            "rmsprop",
            Box::new(|| Box::new(RmsProp::new(1e-2).centered(true).momentum(0.5))),
        ),
        ("adagrad", Box::new(|| Box::new(Adagrad::new(1e-2)))),
        ("lion", Box::new(|| Box::new(Lion::new(1e-3)))),
        ("yogi", Box::new(|| Box::new(Yogi::new(1e-2)))),
        ("adabelief", Box::new(|| Box::new(AdaBelief::new(1e-2)))),
    ];
    for (name, make) in cases {
        let (reference, ref_state) = run(make(), DType::F64, &grads);
        for (param, state) in [(DType::F32, DType::F64), (DType::F64, DType::F32)] {
            let p = Tensor::full(&[N], 0.5, param);
            let mut opt = Optimizer::new(make().state_dtype(state), &[p.clone()]).unwrap();
            for g in &grads {
                let g = Tensor::from_vec(g.clone(), &[N])
                    .unwrap()
                    .to_dtype(param)
                    .unwrap();
                opt.step_with(&[g]).unwrap();
            }
            let buffer = &opt.states()[0].slots[0][0];
            assert_eq!((p.dtype(), buffer.dtype()), (param, state), "{name}");
            let err = max_err(&p.to_vec_f64(), &reference);
            assert!(err < 1e-4, "{name} {param:?}/{state:?}: {err:e}");
            let err = max_err(&buffer.tensor().to_vec_f64(), &ref_state);
            assert!(err < 1e-3, "{name} state {param:?}/{state:?}: {err:e}");
        }
    }
}

#[test]
fn serialized_state_keeps_its_declared_dtype_and_round_trips_exactly() {
    let p = Tensor::full(&[3], 0.25, DType::F32);
    let mut opt = Optimizer::new(Adam::new(1e-2).state_dtype(DType::F64), &[p.clone()]).unwrap();
    opt.step_with(&[Tensor::from_vec(vec![0.1f32, -0.2, 0.3], &[3]).unwrap()])
        .unwrap();
    let json = serde_json::to_string(&opt.state_dict()).unwrap();
    assert!(json.contains("\"dtype\":\"F64\""), "{json}");
    let back: Vec<gradus_optim::State> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, opt.state_dict());
    assert_eq!(back[0].slots[0][1].dtype(), DType::F64);
}
