//! The optimizer holds the same `Param` handles as their owner: a parameter frozen, unfrozen,
//! cast or replaced after the optimizer was built is followed, and each case matches optimizers
//! built to do the same thing by hand.

use gradus_optim::{
    Adam, Buffer, Chain, ClipByValue, GradientTransformation, OptimError, Optimizer, ParamRef, Sgd,
    State,
};
use gradus_tensor::{DType, Param, Rng, Tensor};

type Make = fn() -> Box<dyn GradientTransformation>;

/// Per-element transformations: stepping two parameters in one group equals stepping each in a
/// group of its own (no global norm), so a parameter left out can be followed alone.
fn per_element() -> Vec<(&'static str, Make)> {
    vec![
        ("sgd_momentum", || Box::new(Sgd::new(0.1).momentum(0.9))),
        ("chain_clip_sgd_momentum", || {
            Box::new(
                Chain::new()
                    .then(ClipByValue::new(0.5))
                    .then(Sgd::new(0.1).momentum(0.9)),
            )
        }),
        ("adam", || Box::new(Adam::new(1e-2).amsgrad(true))),
    ]
}

/// A weight and a bias with distinct values.
fn params(dtype: DType) -> [Param; 2] {
    let mut rng = Rng::seed(5);
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

/// The gradient of sum(p^3 / 3) for every trainable parameter: p^2, never zero for long (one
/// backward per parameter, so parameters of different dtypes may meet).
fn backward(ps: &[Param]) {
    for p in ps.iter().filter(|p| p.requires_grad()) {
        p.zero_grad();
        let loss = p.tensor().powf(3.0).unwrap().sum_all().unwrap();
        loss.mul_scalar(1.0 / 3.0).unwrap().backward().unwrap();
    }
}

fn values(ps: &[Param]) -> Vec<Vec<f64>> {
    ps.iter().map(|p| p.tensor().to_vec_f64()).collect()
}

/// The buffers of parameter `i` in `state` and its inner states, depth first.
fn rows(state: &State, i: usize) -> Vec<Buffer> {
    let mut out: Vec<Buffer> = state.slots.get(i).cloned().unwrap_or_default();
    for inner in &state.inner {
        out.extend(rows(inner, i));
    }
    out
}

#[test]
fn a_parameter_frozen_after_build_is_skipped_and_keeps_its_state() {
    for (name, make) in per_element() {
        let ps = params(DType::F64);
        let mut opt = Optimizer::with_params(make(), &ps).unwrap();
        // by hand: one optimizer per parameter, and the weight's is simply not stepped
        let refs = copies(&ps);
        let mut ref_w = Optimizer::with_params(make(), &refs[..1]).unwrap();
        let mut ref_b = Optimizer::with_params(make(), &refs[1..]).unwrap();
        for _ in 0..2 {
            backward(&ps);
            opt.step().unwrap();
            backward(&refs);
            ref_w.step().unwrap();
            ref_b.step().unwrap();
        }
        ps[0].set_requires_grad(false);
        refs[0].set_requires_grad(false);
        let kept = rows(&opt.state_dict()[0], 0);
        let frozen = ps[0].tensor().to_vec_f64();
        for _ in 0..3 {
            backward(&ps);
            opt.step().unwrap();
            backward(&refs);
            ref_b.step().unwrap();
        }
        assert_eq!(ps[0].tensor().to_vec_f64(), frozen, "{name}: frozen moved");
        assert_eq!(rows(&opt.state_dict()[0], 0), kept, "{name}: state moved");
        assert_eq!(values(&ps), values(&refs), "{name}");
        assert_eq!(
            rows(&opt.state_dict()[0], 1),
            rows(&ref_b.state_dict()[0], 0),
            "{name}"
        );
        assert_eq!(opt.state_dict()[0].count, ref_b.state_dict()[0].count);
    }
}

#[test]
fn unfreezing_resumes_from_the_kept_state() {
    // Adam's bias correction counts the group's steps (as optax counts per transformation), so
    // only count-free rules match a per-parameter optimizer paused while frozen.
    for (name, make) in &per_element()[..2] {
        let ps = params(DType::F32);
        let mut opt = Optimizer::with_params(make(), &ps).unwrap();
        let refs = copies(&ps);
        let mut ref_w = Optimizer::with_params(make(), &refs[..1]).unwrap();
        let mut ref_b = Optimizer::with_params(make(), &refs[1..]).unwrap();
        for round in 0..3 {
            let frozen = round == 1;
            ps[0].set_requires_grad(!frozen);
            refs[0].set_requires_grad(!frozen);
            for _ in 0..2 {
                backward(&ps);
                opt.step().unwrap();
                backward(&refs);
                if !frozen {
                    ref_w.step().unwrap();
                }
                ref_b.step().unwrap();
            }
        }
        assert_eq!(values(&ps), values(&refs), "{name}");
        assert_eq!(
            rows(&opt.state_dict()[0], 0),
            rows(&ref_w.state_dict()[0], 0),
            "{name}"
        );
    }
}

#[test]
fn a_parameter_cast_after_build_has_its_state_cast() {
    for (name, make) in per_element() {
        let ps = params(DType::F64);
        let mut opt = Optimizer::with_params(make(), &ps).unwrap();
        let refs = copies(&ps);
        let mut by_hand = Optimizer::with_params(make(), &refs).unwrap();
        for _ in 0..2 {
            backward(&ps);
            opt.step().unwrap();
            backward(&refs);
            by_hand.step().unwrap();
        }
        ps[0].cast(DType::F32).unwrap();
        // by hand: cast the parameter and its saved state, build a new optimizer, restore
        refs[0].cast(DType::F32).unwrap();
        let mut states = by_hand.state_dict();
        cast_rows(&mut states[0], 0, DType::F32);
        let mut rebuilt = Optimizer::with_params(make(), &refs).unwrap();
        rebuilt.load_state_dict(states).unwrap();
        for _ in 0..3 {
            backward(&ps);
            opt.step().unwrap();
            backward(&refs);
            rebuilt.step().unwrap();
        }
        assert_eq!(ps[0].dtype(), DType::F32);
        assert_eq!(values(&ps), values(&refs), "{name}");
        assert_eq!(opt.state_dict(), rebuilt.state_dict(), "{name}");
        assert!(rows(&opt.state_dict()[0], 0)
            .iter()
            .all(|b| b.dtype() == DType::F32));
    }
}

fn cast_rows(state: &mut State, i: usize, dtype: DType) {
    if let Some(row) = state.slots.get_mut(i) {
        for b in row {
            *b = Buffer::copy_of(&b.to_tensor().unwrap().to_dtype(dtype).unwrap()).unwrap();
        }
    }
    for inner in &mut state.inner {
        cast_rows(inner, i, dtype);
    }
}

#[test]
fn values_replaced_with_set_after_build_are_the_ones_updated() {
    let w = Param::new(Tensor::zeros(&[2], DType::F64));
    let mut opt = Optimizer::with_params(Sgd::new(0.5), std::slice::from_ref(&w)).unwrap();
    w.set(Tensor::from_vec(vec![3.0f64, 4.0], &[2]).unwrap());
    w.tensor().sum_all().unwrap().backward().unwrap();
    opt.step().unwrap();
    assert_eq!(w.tensor().to_vec::<f64>().unwrap(), vec![2.5, 3.5]);
}

#[test]
fn values_of_another_shape_are_named_in_the_error() {
    let w = Param::new(Tensor::zeros(&[2], DType::F32));
    let mut opt = Optimizer::with_params(Adam::new(0.1), std::slice::from_ref(&w)).unwrap();
    w.set(Tensor::zeros(&[3], DType::F32));
    w.tensor().sum_all().unwrap().backward().unwrap();
    let err = opt.step().unwrap_err();
    assert_eq!(
        err,
        OptimError::ParamReshaped {
            param: ParamRef::in_group(0, 0, None),
            from: vec![2],
            to: vec![3]
        }
    );
    assert!(err.to_string().contains("changed shape from [2] to [3]"));
}

#[test]
fn a_trainable_parameter_without_a_gradient_is_an_error() {
    let ps = params(DType::F32);
    let mut opt = Optimizer::with_params(Sgd::new(0.1), &ps).unwrap();
    ps[0].tensor().sum_all().unwrap().backward().unwrap(); // the bias takes no part
    let err = opt.step().unwrap_err();
    assert_eq!(
        err,
        OptimError::MissingGrad {
            param: ParamRef::in_group(0, 1, None)
        }
    );
    assert!(err
        .to_string()
        .starts_with("group 0, parameter 1 requires grad but has no gradient"));
}

#[test]
fn plain_tensors_are_held_as_they_are() {
    let w = Tensor::from_vec(vec![1.0f32, 2.0], &[2])
        .unwrap()
        .requires_grad_(true);
    let mut opt = Optimizer::new(Sgd::new(1.0), std::slice::from_ref(&w)).unwrap();
    assert_eq!(opt.groups()[0].params()[0].tensor().id(), w.id());
    w.sum_all().unwrap().backward().unwrap();
    opt.step().unwrap();
    assert_eq!(w.to_vec::<f32>().unwrap(), vec![0.0, 1.0]);
}
