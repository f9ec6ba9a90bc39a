//! Two ways of computing the same step must agree (optax `alias_test` style), every optimizer's
//! fused `apply` equals its `update` + `apply_updates`, and results do not depend on the thread
//! count.

// Tensor handles are cheap reference-counted clones; `&[p.clone()]` reads better than
// `std::slice::from_ref(&p)` in tests.
#![allow(clippy::cloned_ref_to_slice_refs)]

use gradus_optim::{
    apply_updates, Accumulate, AdaBelief, Adadelta, Adagrad, Adam, AdamW, Adamax, Chain,
    DecoupledWeightDecay, GradientTransformation, L2Penalty, Lamb, Lars, Lion, NAdam, RAdam,
    RmsProp, Rprop, Sgd, Yogi,
};
use gradus_tensor::{DType, Rng, Tensor};

fn all_optimizers() -> Vec<(&'static str, Box<dyn GradientTransformation>)> {
    vec![
        (
            "sgd",
            Box::new(
                Sgd::new(0.05)
                    .momentum(0.9)
                    .nesterov(true)
                    .weight_decay(0.01),
            ),
        ),
        (
            "adagrad",
            Box::new(Adagrad::new(0.1).lr_decay(0.01).weight_decay(0.01)),
        ),
        (
            "rmsprop",
            Box::new(
                RmsProp::new(0.01)
                    .centered(true)
                    .momentum(0.5)
                    .weight_decay(0.01),
            ),
        ),
        ("adadelta", Box::new(Adadelta::new(1.0).weight_decay(0.01))),
        (
            "adam",
            Box::new(Adam::new(0.01).amsgrad(true).weight_decay(0.01)),
        ),
        ("adamw", Box::new(AdamW::new(0.01))),
        ("adamax", Box::new(Adamax::new(0.02).weight_decay(0.01))),
        (
            "nadam",
            Box::new(
                NAdam::new(0.01)
                    .decoupled_weight_decay(true)
                    .weight_decay(0.05),
            ),
        ),
        ("radam", Box::new(RAdam::new(0.01).weight_decay(0.05))),
        ("rprop", Box::new(Rprop::new(0.01))),
        ("lion", Box::new(Lion::new(0.003).weight_decay(0.01))),
        ("lamb", Box::new(Lamb::new(0.01).weight_decay(0.01))),
        ("adabelief", Box::new(AdaBelief::new(0.01))),
        ("yogi", Box::new(Yogi::new(0.02))),
        ("lars", Box::new(Lars::new(0.05).weight_decay(0.001))),
    ]
}

fn grad_of(p: &Tensor) -> Tensor {
    // gradient of sum(p^4 / 4 + p^2 / 2)
    p.powf(3.0).unwrap().add(p).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    a.to_vec_f64()
        .iter()
        .zip(b.to_vec_f64())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn fused_apply_equals_update_then_add_for_every_optimizer() {
    let mut failures = Vec::new();
    for (name, opt) in all_optimizers() {
        let p1 = Rng::seed(5).normal(&[4, 3], 0.0, 1.0, DType::F64);
        let p2 = p1.mul_scalar(1.0).unwrap();
        let (mut s1, mut s2) = (
            opt.init(&[p1.clone()]).unwrap(),
            opt.init(&[p2.clone()]).unwrap(),
        );
        for _ in 0..10 {
            opt.apply(&[p1.clone()], &[grad_of(&p1)], &mut s1).unwrap();
            let mut u = vec![grad_of(&p2)];
            opt.update(&mut u, &mut s2, &[p2.clone()]).unwrap();
            apply_updates(&[p2.clone()], &u).unwrap();
        }
        let d = max_diff(&p1, &p2);
        if d > 1e-14
            || p1.to_vec_f64()
                == Rng::seed(5)
                    .normal(&[4, 3], 0.0, 1.0, DType::F64)
                    .to_vec_f64()
        {
            failures.push(format!("{name}: max diff {d}"));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let n = 300_000; // several parallel chunks
    for (name, opt) in all_optimizers() {
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let p = Rng::seed(9).normal(&[n], 0.0, 1.0, DType::F32);
                let mut s = opt.init(&[p.clone()]).unwrap();
                for _ in 0..3 {
                    opt.apply(&[p.clone()], &[grad_of(&p)], &mut s).unwrap();
                }
                p.to_vec::<f32>().unwrap()
            })
        };
        assert_eq!(run(1), run(3), "{name}: 1 vs 3 threads");
    }
}

#[test]
fn l2_penalty_chain_equals_sgd_weight_decay() {
    let a = Sgd::new(0.1).momentum(0.9).weight_decay(0.05);
    let b = Chain::new()
        .then(L2Penalty::new(0.05))
        .then(Sgd::new(0.1).momentum(0.9));
    assert_same_trajectory(&a, &b, 1e-15);
}

#[test]
fn adam_then_decoupled_decay_equals_adamw() {
    let a = AdamW::new(0.01).weight_decay(0.1);
    let b = Chain::new()
        .then(Adam::new(0.01))
        .then(DecoupledWeightDecay::new(0.01, 0.1));
    assert_same_trajectory(&a, &b, 1e-14);
}

#[test]
fn accumulating_micro_batches_equals_one_step_on_the_mean() {
    let k = 3;
    let acc = Accumulate::new(Adam::new(0.01), k);
    let plain = Adam::new(0.01);
    let (pa, pb) = (
        Tensor::from_vec(vec![1.0f64, -2.0], &[2]).unwrap(),
        Tensor::from_vec(vec![1.0f64, -2.0], &[2]).unwrap(),
    );
    let (mut sa, mut sb) = (
        acc.init(&[pa.clone()]).unwrap(),
        plain.init(&[pb.clone()]).unwrap(),
    );
    let mut rng = Rng::seed(1);
    for _ in 0..4 {
        let micro: Vec<Tensor> = (0..k)
            .map(|_| rng.normal(&[2], 0.0, 1.0, DType::F64))
            .collect();
        for (j, g) in micro.iter().enumerate() {
            let before = pa.to_vec::<f64>().unwrap();
            acc.apply(&[pa.clone()], &[g.clone()], &mut sa).unwrap();
            if j + 1 < k as usize {
                assert_eq!(
                    pa.to_vec::<f64>().unwrap(),
                    before,
                    "params move only every k-th micro-batch"
                );
            }
        }
        let mean = micro
            .iter()
            .skip(1)
            .fold(micro[0].clone(), |s, g| s.add(g).unwrap())
            .mul_scalar(1.0 / k as f64)
            .unwrap();
        plain.apply(&[pb.clone()], &[mean], &mut sb).unwrap();
        assert!(max_diff(&pa, &pb) < 1e-15, "{:?} vs {:?}", pa, pb);
    }
}

fn assert_same_trajectory(
    a: &dyn GradientTransformation,
    b: &dyn GradientTransformation,
    tol: f64,
) {
    let pa = Rng::seed(2).normal(&[6], 0.0, 1.0, DType::F64);
    let pb = pa.mul_scalar(1.0).unwrap();
    let (mut sa, mut sb) = (
        a.init(&[pa.clone()]).unwrap(),
        b.init(&[pb.clone()]).unwrap(),
    );
    for _ in 0..20 {
        a.apply(&[pa.clone()], &[grad_of(&pa)], &mut sa).unwrap();
        b.apply(&[pb.clone()], &[grad_of(&pb)], &mut sb).unwrap();
    }
    let d = max_diff(&pa, &pb);
    assert!(d <= tol, "trajectories differ by {d}");
}
