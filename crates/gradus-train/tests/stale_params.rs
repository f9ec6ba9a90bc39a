//! A parameter replaced after the optimizer was built (frozen, cast) leaves the optimizer holding
//! the old tensor; until modules and optimizers share one handle, `step()` says so instead of a
//! bare "no gradient".

use gradus_nn::{layers::Linear, Module};
use gradus_optim::{Optimizer, Schedule, Sgd};
use gradus_tensor::{DType, Rng, Tensor};

#[test]
fn a_parameter_replaced_after_the_optimizer_was_built_is_named_as_the_cause() {
    let layer = Linear::new(3, 2, true, &mut Rng::seed(0));
    let params: Vec<Tensor> = layer.parameters().iter().map(|p| p.tensor()).collect();
    let mut opt = Optimizer::new(Sgd::new(Schedule::Constant(0.1)), &params).unwrap();
    // freeze and unfreeze: the module's slot now holds a new tensor
    let weight = &layer.parameters()[0];
    weight.set_requires_grad(false);
    weight.set_requires_grad(true);
    let x = Tensor::ones(&[4, 3], DType::F32);
    layer
        .forward(&x)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let err = opt.step().unwrap_err().to_string();
    assert!(
        err.starts_with("parameter 0 of group 0 has no gradient")
            && err.contains("replaced after the optimizer was built"),
        "{err}"
    );
}
