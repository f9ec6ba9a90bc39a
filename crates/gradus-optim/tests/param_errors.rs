//! Every optimizer error that points at a parameter names it the way its user knows it: by the
//! name it was given (a module path such as `fc.weight`), else by group and index in the group,
//! and by its index in the list when a transformation runs outside an optimizer. The index is
//! the parameter's in its group even when frozen parameters before it were left out of the step.

use gradus_optim::{
    Adam, Chain, ClipByGlobalNorm, GradientTransformation, OptimError, Optimizer, ParamRef, Sgd,
};
use gradus_tensor::{DType, Param, Tensor};

fn param(shape: &[usize]) -> Param {
    Param::new(Tensor::ones(shape, DType::F32))
}

fn named(pairs: &[(&str, &Param)]) -> Vec<(String, Param)> {
    pairs
        .iter()
        .map(|(n, p)| (n.to_string(), (*p).clone()))
        .collect()
}

/// d(sum p)/dp = 1 for each of `ps`.
fn backward(ps: &[&Param]) {
    for p in ps {
        p.tensor().sum_all().unwrap().backward().unwrap();
    }
}

#[test]
fn a_missing_gradient_names_the_parameter_by_its_module_path() {
    let (w, b) = (param(&[2, 2]), param(&[2]));
    let mut opt =
        Optimizer::with_named_params(Sgd::new(0.1), &named(&[("fc.weight", &w), ("fc.bias", &b)]))
            .unwrap();
    backward(&[&w]);
    let err = opt.step().unwrap_err();
    assert_eq!(
        err,
        OptimError::MissingGrad {
            param: ParamRef::in_group(0, 1, Some("fc.bias".into()))
        }
    );
    assert!(
        err.to_string()
            .starts_with("parameter `fc.bias` requires grad but has no gradient"),
        "{err}"
    );
}

#[test]
fn an_unnamed_parameter_is_named_by_group_and_index() {
    let (w, b) = (param(&[2]), param(&[2]));
    let mut opt = Optimizer::with_params(Sgd::new(0.1), std::slice::from_ref(&w)).unwrap();
    opt.add_param_group(Sgd::new(0.1), std::slice::from_ref(&b))
        .unwrap();
    backward(&[&w]);
    let err = opt.step().unwrap_err().to_string();
    assert!(
        err.starts_with("group 1, parameter 0 requires grad but has no gradient"),
        "{err}"
    );
}

#[test]
fn a_reshaped_parameter_is_named() {
    let w = param(&[2]);
    let mut opt =
        Optimizer::with_named_params(Adam::new(0.1), &named(&[("layers.0.weight", &w)])).unwrap();
    w.set(Tensor::ones(&[3], DType::F32));
    backward(&[&w]);
    assert_eq!(
        opt.step().unwrap_err().to_string(),
        "parameter `layers.0.weight` changed shape from [2] to [3] after the optimizer was \
         built: its state no longer fits; build a new optimizer for it"
    );
}

#[test]
fn a_gradient_of_another_dtype_names_the_parameter() {
    let (w, b) = (param(&[2]), param(&[3]));
    let grads = [
        Tensor::ones(&[2], DType::F32),
        Tensor::ones(&[3], DType::F64),
    ];
    let mut opt =
        Optimizer::with_named_params(Sgd::new(0.1), &named(&[("fc.weight", &w), ("fc.bias", &b)]))
            .unwrap();
    let err = opt.step_with(&grads).unwrap_err();
    assert_eq!(
        err,
        OptimError::GradMismatch {
            param: ParamRef::in_group(0, 1, Some("fc.bias".into())),
            shape: vec![3],
            dtype: DType::F32,
            grad_shape: vec![3],
            grad_dtype: DType::F64,
        }
    );
    assert_eq!(
        err.to_string(),
        "parameter `fc.bias`: its gradient is [3] F64 but the parameter is [3] F32"
    );
    let mut plain = Optimizer::with_params(Sgd::new(0.1), &[w.clone(), b.clone()]).unwrap();
    assert_eq!(
        plain.step_with(&grads).unwrap_err().to_string(),
        "group 0, parameter 1: its gradient is [3] F64 but the parameter is [3] F32"
    );
}

#[test]
fn a_frozen_parameter_before_it_does_not_shift_the_index_or_name() {
    // the transformation sees only the trainable parameters: its parameter 0 is the group's 1
    let (frozen, w) = (param(&[2]), param(&[3]));
    frozen.set_requires_grad(false);
    let opt_of = |names: bool| {
        let t = Chain::new()
            .then(ClipByGlobalNorm::new(1.0))
            .then(Adam::new(0.1));
        if names {
            Optimizer::with_named_params(t, &named(&[("embed.weight", &frozen), ("head", &w)]))
        } else {
            Optimizer::with_params(t, &[frozen.clone(), w.clone()])
        }
        .unwrap()
    };
    for (names, expected) in [
        (true, "parameter `head`: its gradient is [3] F64"),
        (false, "group 0, parameter 1: its gradient is [3] F64"),
    ] {
        let mut opt = opt_of(names);
        w.tensor().set_grad(Some(Tensor::ones(&[3], DType::F64)));
        let err = opt.step().unwrap_err();
        assert!(err.to_string().starts_with(expected), "{err}");
        assert_eq!(err.param().map(|p| p.index), Some(1));
    }
}

#[test]
fn a_state_that_does_not_fit_names_the_parameter_and_the_slot() {
    let (w, b) = (param(&[2]), param(&[3]));
    let mut opt = Optimizer::with_named_params(
        Adam::new(0.1),
        &named(&[("fc.weight", &w), ("fc.bias", &b)]),
    )
    .unwrap();
    // a state made for parameters of other shapes (another model's)
    let other = Adam::new(0.1)
        .init(&[
            Tensor::zeros(&[2], DType::F32),
            Tensor::zeros(&[4], DType::F32),
        ])
        .unwrap();
    opt.load_state_dict(vec![other]).unwrap();
    backward(&[&w, &b]);
    let err = opt.step().unwrap_err();
    assert_eq!(
        err.to_string(),
        "parameter `fc.bias`: optimizer state mismatch: its `exp_avg` buffer is [4] F32 but the \
         parameter is [3] F32"
    );
    assert_eq!(
        err.param(),
        Some(&ParamRef::in_group(0, 1, Some("fc.bias".into())))
    );
}

#[test]
fn a_backend_error_of_the_fused_update_names_the_parameter() {
    let w = param(&[2, 2]);
    let mut opt =
        Optimizer::with_named_params(Sgd::new(0.1), &named(&[("conv.weight", &w)])).unwrap();
    // a strided view of the same shape: the fused update writes parameters in place and refuses it
    let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    w.set(t.transpose(0, 1).unwrap());
    w.tensor().set_grad(Some(Tensor::ones(&[2, 2], DType::F32)));
    let err = opt.step().unwrap_err();
    assert!(matches!(err, OptimError::AtParam { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("parameter `conv.weight`: ") && text.contains("contiguous"),
        "{text}"
    );
}

#[test]
fn a_transformation_outside_an_optimizer_names_the_index_in_its_list() {
    let ps = [
        Tensor::ones(&[2], DType::F32),
        Tensor::ones(&[2], DType::F32),
    ];
    let grads = [
        Tensor::ones(&[2], DType::F32),
        Tensor::ones(&[3], DType::F32),
    ];
    let sgd = Sgd::new(0.1).momentum(0.9);
    let mut state = sgd.init(&ps).unwrap();
    let err = sgd.apply(&ps, &grads, &mut state).unwrap_err();
    assert_eq!(
        err.to_string(),
        "parameter 1: its gradient is [3] F32 but the parameter is [2] F32"
    );
    assert_eq!(err.param(), Some(&ParamRef::index(1)));
}

#[test]
fn names_given_later_reach_every_group_and_tied_weights_keep_their_first_name() {
    let (w, b) = (param(&[2]), param(&[2]));
    let mut opt = Optimizer::with_params(Sgd::new(0.1), std::slice::from_ref(&w)).unwrap();
    opt.add_param_group(Sgd::new(0.1), std::slice::from_ref(&b))
        .unwrap();
    let model = named(&[("embed.weight", &w), ("head.weight", &w), ("bias", &b)]);
    assert_eq!(opt.name_params(&model), 2);
    assert_eq!(opt.groups()[0].names()[0].as_deref(), Some("embed.weight"));
    // names given before are kept
    assert_eq!(opt.name_params(&named(&[("other", &w)])), 0);
    assert_eq!(opt.groups()[0].names()[0].as_deref(), Some("embed.weight"));
    backward(&[&w]);
    let err = opt.step().unwrap_err().to_string();
    assert!(err.starts_with("parameter `bias` requires grad"), "{err}");
    // built from named parameters, a tied weight is held once, under its first name
    let tied = Optimizer::with_named_params(Sgd::new(0.1), &model).unwrap();
    assert_eq!(tied.groups()[0].params().len(), 2);
    assert_eq!(
        tied.groups()[0].names(),
        &[Some("embed.weight".to_string()), Some("bias".to_string())]
    );
}
