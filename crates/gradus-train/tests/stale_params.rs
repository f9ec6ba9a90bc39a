//! A model changed after its optimizer was built (frozen, unfrozen, cast or moved with
//! `Module::to`, given new values with `Param::set`) keeps training: the optimizer holds the
//! model's own `Param` handles. Each case matches an optimizer built after the change.

use gradus_nn::layers::{Activation, BatchNorm, Linear, Sequential};
use gradus_nn::loss::{mse_loss, Reduction};
use gradus_nn::Module;
use gradus_optim::{Adam, GradientTransformation, Optimizer, Sgd};
use gradus_tensor::{DType, Device, Rng, Tensor};

/// Linear, BatchNorm (buffers), Tanh, Linear; the same values for the same seed.
fn model(seed: u64) -> Sequential {
    let mut rng = Rng::seed(seed);
    Sequential::new()
        .push(Linear::new(3, 4, true, &mut rng))
        .push(BatchNorm::new_1d(4))
        .push(Activation::Tanh)
        .push(Linear::new(4, 2, true, &mut rng))
}

/// `steps` steps of MSE regression on a fixed batch, in the model's dtype.
fn train(model: &dyn Module, opt: &mut Optimizer, steps: usize) {
    let dtype = model.parameters()[0].dtype();
    let mut rng = Rng::seed(7);
    let x = rng
        .normal(&[8, 3], 0.0, 1.0, DType::F32)
        .to_dtype(dtype)
        .unwrap();
    let y = rng
        .normal(&[8, 2], 0.0, 1.0, DType::F32)
        .to_dtype(dtype)
        .unwrap();
    for _ in 0..steps {
        opt.zero_grad();
        let loss = mse_loss(&model.forward(&x).unwrap(), &y, Reduction::Mean).unwrap();
        loss.backward().unwrap();
        opt.step().unwrap();
    }
}

/// Every parameter and buffer, by name, as f64 values (exact for f32 and f64).
fn values(model: &dyn Module) -> Vec<(String, Vec<f64>)> {
    let params = model
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.tensor()));
    let buffers = model
        .named_buffers()
        .into_iter()
        .map(|(n, b)| (n, b.tensor()));
    params
        .chain(buffers)
        .map(|(n, t)| (n, t.to_vec_f64()))
        .collect()
}

/// An optimizer over the model's trainable parameters, built now (as the CLI builds it).
fn build(model: &dyn Module, transform: impl GradientTransformation + 'static) -> Optimizer {
    let trainable: Vec<_> = model
        .parameters()
        .into_iter()
        .filter(|p| p.requires_grad())
        .collect();
    Optimizer::with_params(transform, &trainable).unwrap()
}

#[test]
fn freezing_after_build_trains_as_an_optimizer_built_after_freezing() {
    let early = model(0);
    let mut early_opt = Optimizer::with_params(Adam::new(1e-2), &early.parameters()).unwrap();
    early.children()[0].1.freeze();
    train(&early, &mut early_opt, 5);

    let late = model(0);
    late.children()[0].1.freeze();
    let mut late_opt = build(&late, Adam::new(1e-2));
    train(&late, &mut late_opt, 5);

    assert_eq!(values(&early), values(&late));
    assert_ne!(values(&early), values(&model(0)), "nothing trained");
    assert_eq!(values(&early)[..2], values(&model(0))[..2], "frozen moved");
}

#[test]
fn unfreezing_after_build_resumes_training() {
    // frozen and unfrozen again before any step: the case that used to fail with "no gradient"
    let early = model(1);
    let mut early_opt = Optimizer::with_params(Adam::new(1e-2), &early.parameters()).unwrap();
    early.freeze();
    early.unfreeze();
    train(&early, &mut early_opt, 5);
    let late = model(1);
    let mut late_opt = build(&late, Adam::new(1e-2));
    train(&late, &mut late_opt, 5);
    assert_eq!(values(&early), values(&late));

    // frozen for some steps, then unfrozen: plain SGD keeps no state, so an optimizer rebuilt
    // at each change is the same run
    let early = model(2);
    let mut early_opt = Optimizer::with_params(Sgd::new(0.1), &early.parameters()).unwrap();
    let late = model(2);
    for frozen in [false, true, false] {
        for m in [&early, &late] {
            m.children()[3].1.parameters()[0].set_requires_grad(!frozen);
        }
        train(&early, &mut early_opt, 3);
        train(&late, &mut build(&late, Sgd::new(0.1)), 3);
    }
    assert_eq!(values(&early), values(&late));
}

#[test]
fn a_model_moved_to_another_dtype_after_build_trains_as_one_built_in_it() {
    let wide = model(3);
    wide.cast(DType::F64).unwrap(); // built in f64
    let mut wide_opt = Optimizer::with_params(Adam::new(1e-2), &wide.parameters()).unwrap();
    wide.to(Device::Cpu, DType::F32).unwrap();
    train(&wide, &mut wide_opt, 5);

    let narrow = model(3); // built in f32 from the same values
    let mut narrow_opt = build(&narrow, Adam::new(1e-2));
    train(&narrow, &mut narrow_opt, 5);

    assert!(wide.parameters().iter().all(|p| p.dtype() == DType::F32));
    assert!(wide
        .named_buffers()
        .iter()
        .all(|(_, b)| b.tensor().dtype() == DType::F32));
    assert_eq!(values(&wide), values(&narrow));
    assert_eq!(wide_opt.state_dict(), narrow_opt.state_dict());
}

#[test]
fn values_set_after_build_are_the_ones_trained() {
    let fresh = |m: &Sequential| {
        for p in m.parameters() {
            p.set(p.tensor().mul_scalar(0.5).unwrap());
        }
    };
    let early = model(4);
    let mut early_opt = Optimizer::with_params(Adam::new(1e-2), &early.parameters()).unwrap();
    fresh(&early);
    train(&early, &mut early_opt, 5);
    let late = model(4);
    fresh(&late);
    let mut late_opt = build(&late, Adam::new(1e-2));
    train(&late, &mut late_opt, 5);
    assert_eq!(values(&early), values(&late));
}

#[test]
fn a_parameter_left_out_of_the_loss_is_named_in_the_error() {
    let used = Linear::new(3, 2, true, &mut Rng::seed(5));
    let unused = Linear::new(3, 2, true, &mut Rng::seed(6));
    let params = [used.parameters(), unused.parameters()].concat();
    let mut opt = Optimizer::with_params(Sgd::new(0.1), &params).unwrap();
    let x = Tensor::ones(&[4, 3], DType::F32);
    used.forward(&x)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let err = opt.step().unwrap_err().to_string();
    assert!(
        err.starts_with("group 0, parameter 2 requires grad but has no gradient"),
        "{err}"
    );
}
