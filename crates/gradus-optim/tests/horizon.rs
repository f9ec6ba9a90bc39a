//! Every schedule past its horizon and at degenerate settings: it holds its final value (no
//! climb back, no oscillation), never gives NaN or panics, and refuses settings without a meaning
//! with an error naming the parameter.

use gradus_optim::{Anneal, OneCycle, Optimizer, Schedule, Sgd};
use gradus_tensor::Tensor;

/// One of each schedule kind, with warmup combinations as the CLI builds them.
fn every_schedule() -> Vec<(&'static str, Schedule)> {
    let mut three = OneCycle::new(0.5, 20);
    three.three_phase = true;
    three.anneal = Anneal::Linear;
    vec![
        ("constant", Schedule::Constant(0.1)),
        ("step", Schedule::step(1.0, 3, 0.5).unwrap()),
        (
            "multi_step",
            Schedule::multi_step(1.0, vec![4, 9], 0.1).unwrap(),
        ),
        ("exponential", Schedule::exponential(1.0, 0.9).unwrap()),
        (
            "inverse_time",
            Schedule::inverse_time(1.0, 0.5, 10, true).unwrap(),
        ),
        ("polynomial", Schedule::polynomial(1.0, 12, 2.0).unwrap()),
        ("cosine", Schedule::cosine(1.0, 10, 0.01).unwrap()),
        (
            "warm_restarts",
            Schedule::cosine_warm_restarts(1.0, 3, 2, 0.0).unwrap(),
        ),
        ("linear", Schedule::linear(1.0, 0.1, 1.0, 5).unwrap()),
        ("one_cycle", OneCycle::new(1.0, 10).lr_schedule().unwrap()),
        (
            "one_cycle_momentum",
            OneCycle::new(1.0, 10).momentum_schedule().unwrap(),
        ),
        ("one_cycle_three_phase", three.lr_schedule().unwrap()),
        (
            "warmup_cosine",
            Schedule::sequential(
                vec![
                    Schedule::linear(1.0, 0.1, 1.0, 5).unwrap(),
                    Schedule::cosine(1.0, 15, 0.0).unwrap(),
                ],
                vec![5],
            )
            .unwrap(),
        ),
        (
            "warmup_longer_than_run",
            Schedule::sequential(
                vec![
                    Schedule::linear(1.0, 0.02, 1.0, 50).unwrap(),
                    Schedule::cosine(1.0, 1, 0.0).unwrap(),
                ],
                vec![50],
            )
            .unwrap(),
        ),
        (
            "warmup_exponential",
            Schedule::sequential(
                vec![
                    Schedule::linear(1.0, 0.5, 1.0, 2).unwrap(),
                    Schedule::exponential(1.0, 0.5).unwrap(),
                ],
                vec![2],
            )
            .unwrap(),
        ),
    ]
}

#[test]
fn one_cycle_of_ten_steps_holds_its_final_rate_for_36_steps() {
    let oc = OneCycle::new(1.0, 10);
    let (lr, momentum) = (oc.lr_schedule().unwrap(), oc.momentum_schedule().unwrap());
    let final_rate = 1.0 / 25.0 / 1e4;
    assert_eq!(lr.horizon(), Some(9));
    for t in 9..36 {
        assert_eq!(lr.value(t), final_rate, "lr at step {t}");
        assert_eq!(momentum.value(t), 0.95, "momentum at step {t}");
    }
    // the peak is at step 2 (pct_start 0.3 of 10 steps) and nowhere after
    assert_eq!(lr.value(2), 1.0);
    let late_max = lr.sample(36)[3..].iter().cloned().fold(0.0, f64::max);
    assert!(late_max < 1.0, "climbs back to {late_max}");
}

#[test]
fn every_schedule_holds_its_value_from_its_horizon_on() {
    let mut failures = Vec::new();
    for (name, s) in every_schedule() {
        let Some(h) = s.horizon() else { continue };
        let last = s.value(h);
        for t in (h..h + 100).chain([h + 10_000, u64::MAX / 2, u64::MAX]) {
            if s.value(t) != last {
                failures.push(format!(
                    "{name}: value({t}) = {} != value({h}) = {last}",
                    s.value(t)
                ));
                break;
            }
        }
        // and the horizon is tight where the schedule moves until its end
        if h > 0 && s.value(h - 1) == last && !matches!(name, "multi_step") {
            failures.push(format!(
                "{name}: horizon {h} is not where it stops changing"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn expected_horizons() {
    let horizons: Vec<(&str, Option<u64>)> = every_schedule()
        .iter()
        .map(|(n, s)| (*n, s.horizon()))
        .collect();
    assert_eq!(
        horizons,
        vec![
            ("constant", Some(0)),
            ("step", None),
            ("multi_step", Some(9)),
            ("exponential", None),
            ("inverse_time", None),
            ("polynomial", Some(12)),
            ("cosine", Some(10)),
            ("warm_restarts", None),
            ("linear", Some(5)),
            ("one_cycle", Some(9)),
            ("one_cycle_momentum", Some(9)),
            ("one_cycle_three_phase", Some(19)),
            ("warmup_cosine", Some(20)),
            ("warmup_longer_than_run", Some(51)),
            ("warmup_exponential", None),
        ]
    );
}

#[test]
fn every_schedule_is_finite_at_every_step_and_far_beyond() {
    for (name, s) in every_schedule() {
        for t in (0..200).chain([1 << 20, 1 << 40, u64::MAX / 3, u64::MAX]) {
            let v = s.value(t);
            assert!(v.is_finite(), "{name} at {t}: {v}");
        }
    }
}

#[test]
fn degenerate_one_cycles_are_defined() {
    let with = |total: u64, pct: f64| {
        let mut oc = OneCycle::new(1.0, total);
        oc.pct_start = pct;
        oc.lr_schedule().unwrap()
    };
    let final_rate = 1.0 / 25.0 / 1e4;
    // one step: torch's phases give the final rate at step 0
    assert_eq!(
        (with(1, 0.3).value(0), with(1, 0.3).horizon()),
        (final_rate, Some(0))
    );
    // pct_start 1: rises for the whole cycle and holds the peak
    let s = with(10, 1.0);
    assert_eq!((s.value(9), s.value(50)), (1.0, 1.0));
    // pct_start 0: torch's arithmetic starts on the way down, annealing to the final rate
    let s = with(10, 0.0);
    assert!(s.value(0) < 1.0 && s.value(0) > s.value(1));
    assert_eq!(s.value(9), final_rate);
    // pct_start * total = 1: a rising phase of zero length (torch divides 0 by 0): at the peak
    let s = with(10, 0.1);
    assert_eq!(s.value(0), 1.0);
    for total in 1..6 {
        for pct in [0.0, 0.1, 0.25, 0.5, 0.75, 1.0] {
            for three_phase in [false, true] {
                let mut oc = OneCycle::new(1.0, total);
                (oc.pct_start, oc.three_phase) = (pct, three_phase);
                let (lr, m) = (oc.lr_schedule().unwrap(), oc.momentum_schedule().unwrap());
                for t in 0..3 * total {
                    assert!(
                        lr.value(t).is_finite() && m.value(t).is_finite(),
                        "{total} {pct} {t}"
                    );
                    assert_eq!(lr.value(t.max(total - 1)), lr.value(total - 1));
                }
            }
        }
    }
}

#[test]
fn short_schedules_are_defined() {
    let cos = Schedule::cosine(1.0, 1, 0.25).unwrap();
    assert_eq!(
        (cos.value(0), cos.value(1), cos.value(7)),
        (1.0, 0.25, 0.25)
    );
    let poly = Schedule::polynomial(2.0, 1, 1.0).unwrap();
    assert_eq!(
        (poly.value(0), poly.value(1), poly.value(9)),
        (2.0, 0.0, 0.0)
    );
    let lin = Schedule::linear(1.0, 0.5, 1.0, 1).unwrap();
    assert_eq!((lin.value(0), lin.value(1), lin.value(9)), (0.5, 1.0, 1.0));
    // gamma 0 drops to 0 at the first decay and stays there
    let step = Schedule::step(1.0, 4, 0.0).unwrap();
    assert_eq!(
        (step.value(3), step.value(4), step.horizon()),
        (1.0, 0.0, Some(4))
    );
    // warm restarts of period 1 and multiplier 1: every step restarts, in constant time
    let wr = Schedule::cosine_warm_restarts(1.0, 1, 1, 0.0).unwrap();
    assert_eq!(wr.value(u64::MAX), 1.0);
    // decay far past any float: 0, not NaN, and no wrap-around of the exponent
    assert_eq!(Schedule::step(1.0, 1, 0.5).unwrap().value(1 << 40), 0.0);
    assert_eq!(Schedule::exponential(0.0, 2.0).unwrap().value(1 << 40), 0.0);
}

fn message(r: gradus_optim::Result<Schedule>) -> String {
    r.expect_err("must be refused").to_string()
}

#[test]
fn settings_without_a_meaning_are_errors_naming_the_parameter() {
    let oc = |f: &dyn Fn(&mut OneCycle)| {
        let mut oc = OneCycle::new(0.1, 10);
        f(&mut oc);
        message(oc.lr_schedule())
    };
    let cases: Vec<(String, &str)> = vec![
        (
            message(Schedule::step(1.0, 0, 0.5)),
            "step: invalid step_size 0 (expected at least 1)",
        ),
        (
            message(Schedule::step(1.0, 5, -0.5)),
            "step: invalid gamma -0.5 (expected a finite value >= 0)",
        ),
        (
            message(Schedule::multi_step(1.0, vec![3], f64::NAN)),
            "multi_step: invalid gamma NaN (expected a finite value >= 0)",
        ),
        (
            message(Schedule::exponential(f64::INFINITY, 0.5)),
            "exponential: invalid base inf (expected a finite value)",
        ),
        (
            message(Schedule::inverse_time(1.0, 1.0, 0, false)),
            "inverse_time: invalid decay_steps 0 (expected at least 1)",
        ),
        (
            message(Schedule::polynomial(1.0, 0, 1.0)),
            "polynomial: invalid total_iters 0 (expected at least 1)",
        ),
        (
            message(Schedule::polynomial(1.0, 10, -1.0)),
            "polynomial: invalid power -1 (expected a finite value >= 0)",
        ),
        (
            message(Schedule::cosine(1.0, 0, 0.0)),
            "cosine: invalid t_max 0 (expected at least 1)",
        ),
        (
            message(Schedule::cosine_warm_restarts(1.0, 0, 1, 0.0)),
            "cosine_warm_restarts: invalid t_0 0 (expected at least 1)",
        ),
        (
            message(Schedule::cosine_warm_restarts(1.0, 4, 0, 0.0)),
            "cosine_warm_restarts: invalid t_mult 0 (expected at least 1)",
        ),
        (
            message(Schedule::linear(1.0, 0.1, 1.0, 0)),
            "linear: invalid total_iters 0 (expected at least 1)",
        ),
        (
            message(Schedule::linear(1.0, -0.1, 1.0, 5)),
            "linear: invalid start_factor -0.1 (expected a finite value >= 0)",
        ),
        (
            oc(&|o| o.total_steps = 0),
            "one_cycle: invalid total_steps 0 (expected at least 1)",
        ),
        (
            oc(&|o| o.pct_start = 1.5),
            "one_cycle: invalid pct_start 1.5 (expected 0 <= pct_start <= 1)",
        ),
        (
            oc(&|o| o.pct_start = f64::NAN),
            "one_cycle: invalid pct_start NaN (expected 0 <= pct_start <= 1)",
        ),
        (
            oc(&|o| o.final_div_factor = 0.0),
            "one_cycle: invalid final_div_factor 0 (expected a finite value > 0)",
        ),
        (
            message(Schedule::sequential(vec![Schedule::Constant(1.0)], vec![5])),
            "sequential: 1 schedules need 0 milestones, got 1",
        ),
        (
            message(Schedule::sequential(
                vec![
                    Schedule::Constant(1.0),
                    Schedule::Constant(0.5),
                    Schedule::Constant(0.1),
                ],
                vec![10, 5],
            )),
            "sequential: invalid milestones [10, 5] (expected non-decreasing)",
        ),
        (
            message(Schedule::sequential(
                vec![
                    Schedule::Constant(1.0),
                    Schedule::Cosine {
                        base: 1.0,
                        t_max: 0,
                        eta_min: 0.0,
                    },
                ],
                vec![5],
            )),
            "sequential schedule 1: cosine: invalid t_max 0 (expected at least 1)",
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(got, want)| got != want)
        .map(|(got, want)| format!("got `{got}`, want `{want}`"))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn an_optimizer_refuses_an_invalid_schedule_built_from_the_enum() {
    let p = Tensor::from_vec(vec![1.0f32], &[1])
        .unwrap()
        .requires_grad_(true);
    let bad = Schedule::Step {
        base: 0.1,
        step_size: 0,
        gamma: 0.5,
    };
    let err = Optimizer::new(Sgd::new(bad), std::slice::from_ref(&p))
        .err()
        .expect("refused");
    assert_eq!(
        err.to_string(),
        "step: invalid step_size 0 (expected at least 1)"
    );
    let momentum = Schedule::Cosine {
        base: 0.9,
        t_max: 0,
        eta_min: 0.8,
    };
    let err = Optimizer::new(Sgd::new(0.1).momentum_schedule(momentum), &[p])
        .err()
        .expect("refused");
    assert!(err.to_string().contains("t_max"), "{err}");
}

#[test]
fn unvalidated_settings_never_panic_or_give_nan() {
    let raw = vec![
        Schedule::Step {
            base: 1.0,
            step_size: 0,
            gamma: 0.5,
        },
        Schedule::InverseTime {
            base: 1.0,
            decay_rate: 1.0,
            decay_steps: 0,
            staircase: true,
        },
        Schedule::Polynomial {
            base: 1.0,
            end: 0.0,
            total_iters: 0,
            power: 1.0,
        },
        Schedule::Cosine {
            base: 1.0,
            t_max: 0,
            eta_min: 0.0,
        },
        Schedule::CosineWarmRestarts {
            base: 1.0,
            t_0: 0,
            t_mult: 0,
            eta_min: 0.0,
        },
        Schedule::CosineWarmRestarts {
            base: 1.0,
            t_0: 1,
            t_mult: u64::MAX,
            eta_min: 0.0,
        },
        Schedule::Linear {
            base: 1.0,
            start_factor: 0.1,
            end_factor: 1.0,
            total_iters: 0,
        },
        Schedule::OneCycle {
            total_steps: 0,
            pct_start: 0.3,
            anneal: Anneal::Cos,
            three_phase: false,
            start: 0.1,
            peak: 1.0,
            end: 0.01,
        },
        Schedule::Sequential {
            schedules: vec![
                Schedule::Constant(1.0),
                Schedule::Constant(0.5),
                Schedule::Constant(0.1),
            ],
            milestones: vec![10, 2],
        },
        Schedule::Sequential {
            schedules: vec![],
            milestones: vec![],
        },
    ];
    for s in raw {
        for t in [0, 1, 2, 5, 11, 1 << 30, u64::MAX] {
            assert!(s.value(t).is_finite(), "{s:?} at {t}");
        }
    }
}
