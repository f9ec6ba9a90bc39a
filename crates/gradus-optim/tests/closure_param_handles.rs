//! The closure-driven optimizers (L-BFGS, SAM) hold the same `Param` handles as their owner, as
//! `Optimizer` does: a parameter frozen or cast after they were built is followed, each case
//! matching an optimizer built to do the same thing by hand, and one given values of another
//! shape fails the step with the error the other optimizers give.

use gradus_optim::{Lbfgs, OptimError, ParamRef, Sam, Sgd};
use gradus_tensor::{DType, Param, Rng, Tensor};

/// A weight and a bias with distinct values.
fn params(dtype: DType) -> [Param; 2] {
    let mut rng = Rng::seed(11);
    [
        Param::new(rng.normal(&[3, 2], 0.0, 1.0, dtype)),
        Param::new(rng.normal(&[2], 0.0, 1.0, dtype)),
    ]
}

fn copies(ps: &[Param]) -> Vec<Param> {
    ps.iter()
        .map(|p| {
            let c = Param::new(p.tensor().mul_scalar(1.0).unwrap());
            c.set_requires_grad(p.requires_grad());
            c
        })
        .collect()
}

fn values(ps: &[Param]) -> Vec<Vec<f64>> {
    ps.iter().map(|p| p.tensor().to_vec_f64()).collect()
}

/// A closure computing sum over the parameters of sum(p^4 / 4 + (p - 0.3)^2) (in f64, whatever
/// the parameters' dtypes), calling backward and returning the loss.
fn closure(ps: &[Param]) -> impl FnMut() -> gradus_optim::Result<f64> + '_ {
    move || {
        let mut total = Tensor::zeros(&[], DType::F64);
        for p in ps {
            let t = p.tensor();
            let term = t
                .powf(4.0)?
                .mul_scalar(0.25)?
                .add(&t.add_scalar(-0.3)?.powf(2.0)?)?
                .sum_all()?
                .to_dtype(DType::F64)?;
            total = total.add(&term)?;
        }
        total.backward()?;
        Ok(total.item()?)
    }
}

fn lbfgs(ps: &[Param]) -> Lbfgs {
    Lbfgs::with_params(ps).max_iter(3).history_size(4)
}

#[test]
fn lbfgs_skips_a_parameter_frozen_after_build() {
    let ps = params(DType::F64);
    let mut opt = lbfgs(&ps);
    // by hand: L-BFGS over the bias alone (a frozen parameter counts as zero gradient, so the
    // flat vectors differ only by exact zeros)
    let refs = copies(&ps);
    let mut by_hand = lbfgs(&refs[1..]);
    ps[0].set_requires_grad(false);
    refs[0].set_requires_grad(false);
    let frozen = ps[0].tensor().to_vec_f64();
    for _ in 0..3 {
        opt.step(closure(&ps)).unwrap();
        by_hand.step(closure(&refs)).unwrap();
    }
    assert_eq!(
        ps[0].tensor().to_vec_f64(),
        frozen,
        "the frozen weight moved"
    );
    let (got, want) = (ps[1].tensor().to_vec_f64(), refs[1].tensor().to_vec_f64());
    assert!(
        got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-12),
        "{got:?} vs {want:?}"
    );
    assert_ne!(
        got,
        params(DType::F64)[1].tensor().to_vec_f64(),
        "the bias did not move"
    );
    assert_eq!(opt.state().n_iter, by_hand.state().n_iter);
}

#[test]
fn lbfgs_casts_its_history_with_a_parameter_cast_after_build() {
    let ps = [params(DType::F64)[1].clone()];
    let mut opt = lbfgs(&ps);
    let refs = copies(&ps);
    let mut by_hand = lbfgs(&refs);
    opt.step(closure(&ps)).unwrap();
    by_hand.step(closure(&refs)).unwrap();
    ps[0].cast(DType::F32).unwrap();
    // by hand: cast the parameter and every vector of the saved state, build anew, restore
    refs[0].cast(DType::F32).unwrap();
    let mut state = by_hand.state().clone();
    let cast = |b: &mut gradus_optim::Buffer| *b = b.to_dtype(DType::F32).unwrap();
    state.d.iter_mut().for_each(cast);
    state.prev_flat_grad.iter_mut().for_each(cast);
    state.h_diag.iter_mut().for_each(cast);
    state.old_dirs.iter_mut().for_each(cast);
    state.old_stps.iter_mut().for_each(cast);
    let mut rebuilt = lbfgs(&refs);
    rebuilt.load_state(state);
    for _ in 0..2 {
        opt.step(closure(&ps)).unwrap();
        rebuilt.step(closure(&refs)).unwrap();
    }
    assert_eq!(ps[0].dtype(), DType::F32);
    assert_eq!(values(&ps), values(&refs));
    assert_eq!(opt.state(), rebuilt.state());
    assert!(opt.state().old_dirs.iter().all(|b| b.dtype() == DType::F32));
    assert!(!opt.state().old_dirs.is_empty());
}

#[test]
fn lbfgs_mixes_f32_and_f64_parameters_in_f64_vectors() {
    let ps = params(DType::F64);
    ps[0].cast(DType::F32).unwrap();
    let mut opt = lbfgs(&ps);
    let before = closure(&ps)().unwrap();
    opt.step(closure(&ps)).unwrap();
    assert!(closure(&ps)().unwrap() < before - 0.1);
    assert_eq!((ps[0].dtype(), ps[1].dtype()), (DType::F32, DType::F64));
    assert_eq!(opt.state().d.as_ref().unwrap().dtype(), DType::F64);
}

#[test]
fn lbfgs_names_a_reshaped_parameter_and_a_state_of_another_size() {
    let ps = params(DType::F64);
    let mut opt = lbfgs(&ps);
    opt.step(closure(&ps)).unwrap();
    let saved = opt.state().clone();
    ps[1].set(Tensor::zeros(&[3], DType::F64));
    let err = opt.step(closure(&ps)).unwrap_err();
    assert!(
        matches!(
            err,
            OptimError::ParamReshaped {
                param: ParamRef {
                    group: Some(0),
                    index: 1,
                    ..
                },
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("[2] to [3]"), "{err}");

    let other = params(DType::F64);
    let mut small = lbfgs(&other[1..]);
    small.load_state(saved);
    let err = small.step(closure(&other[1..])).unwrap_err();
    assert!(matches!(err, OptimError::StateMismatch(_)), "{err}");
    assert!(err.to_string().contains("[8]"), "{err}");
}

fn sam(ps: &[Param]) -> Sam {
    Sam::with_params(Sgd::new(0.1).momentum(0.9), 0.05, ps).unwrap()
}

#[test]
fn sam_skips_a_parameter_frozen_after_build_and_keeps_its_state() {
    let ps = params(DType::F64);
    let mut opt = sam(&ps);
    let refs = copies(&ps);
    let mut both = sam(&refs);
    for _ in 0..2 {
        opt.step(closure(&ps)).unwrap();
        both.step(closure(&refs)).unwrap();
    }
    assert_eq!(values(&ps), values(&refs));
    ps[0].set_requires_grad(false);
    // by hand: SAM over the bias alone, from the bias's row of the state
    let mut state = both.state().clone();
    state.slots.remove(0);
    let mut by_hand = sam(&refs[1..]);
    by_hand.load_state(state);
    let kept = opt.state().slots[0].clone();
    let frozen = ps[0].tensor().to_vec_f64();
    for _ in 0..3 {
        opt.step(closure(&ps)).unwrap();
        by_hand.step(closure(&refs[1..])).unwrap();
    }
    assert_eq!(
        ps[0].tensor().to_vec_f64(),
        frozen,
        "the frozen weight moved"
    );
    assert_eq!(
        opt.state().slots[0],
        kept,
        "the frozen weight's state moved"
    );
    assert_eq!(values(&ps)[1], values(&refs)[1]);
    assert_eq!(opt.state().slots[1], by_hand.state().slots[0]);
}

#[test]
fn sam_casts_the_base_state_with_a_parameter_cast_after_build() {
    let ps = params(DType::F64);
    let mut opt = sam(&ps);
    let refs = copies(&ps);
    let mut by_hand = sam(&refs);
    for _ in 0..2 {
        opt.step(closure(&ps)).unwrap();
        by_hand.step(closure(&refs)).unwrap();
    }
    ps[0].cast(DType::F32).unwrap();
    refs[0].cast(DType::F32).unwrap();
    let mut state = by_hand.state().clone();
    for b in &mut state.slots[0] {
        *b = b.to_dtype(DType::F32).unwrap();
    }
    let mut rebuilt = sam(&refs);
    rebuilt.load_state(state);
    for _ in 0..3 {
        opt.step(closure(&ps)).unwrap();
        rebuilt.step(closure(&refs)).unwrap();
    }
    assert_eq!(ps[0].dtype(), DType::F32);
    assert_eq!(values(&ps), values(&refs));
    assert_eq!(opt.state(), rebuilt.state());
    assert!(opt.state().slots[0].iter().all(|b| b.dtype() == DType::F32));
}

#[test]
fn sam_names_a_reshaped_parameter_before_moving_anything_and_a_missing_gradient() {
    let ps = params(DType::F64);
    let mut opt = sam(&ps);
    ps[1].set(Tensor::zeros(&[3], DType::F64));
    let before = values(&ps);
    let mut calls = 0;
    let err = opt
        .step(|| {
            calls += 1;
            Ok(0.0)
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            OptimError::ParamReshaped {
                param: ParamRef {
                    group: Some(0),
                    index: 1,
                    ..
                },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!((calls, values(&ps)), (0, before));

    // a trainable parameter the loss does not use
    let ps = params(DType::F64);
    let mut opt = sam(&ps);
    let err = opt.step(closure(&ps[1..])).unwrap_err();
    assert!(
        matches!(
            err,
            OptimError::MissingGrad {
                param: ParamRef {
                    group: Some(0),
                    index: 0,
                    ..
                }
            }
        ),
        "{err}"
    );
}
