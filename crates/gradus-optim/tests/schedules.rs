//! Schedules against values written out by hand from torch's definitions, and the plateau rule.

// Tensor handles are cheap reference-counted clones; `&[p.clone()]` reads better than
// `std::slice::from_ref(&p)` in tests.
#![allow(clippy::cloned_ref_to_slice_refs)]

use gradus_optim::{Anneal, OneCycle, PlateauMode, ReduceOnPlateau, Schedule};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

#[test]
fn closed_forms() {
    let pi = std::f64::consts::PI;
    type Case = (&'static str, Schedule, Vec<(u64, f64)>);
    let cases: Vec<Case> = vec![
        (
            "step",
            Schedule::step(1.0, 3, 0.5),
            vec![(0, 1.0), (2, 1.0), (3, 0.5), (7, 0.25)],
        ),
        (
            "multi_step",
            Schedule::multi_step(1.0, vec![4, 2], 0.1),
            vec![(1, 1.0), (2, 0.1), (4, 0.01), (9, 0.01)],
        ),
        (
            "exponential",
            Schedule::exponential(2.0, 0.5),
            vec![(0, 2.0), (3, 0.25)],
        ),
        (
            "inverse_time",
            Schedule::inverse_time(1.0, 0.5, 10, false),
            vec![(0, 1.0), (10, 1.0 / 1.5), (5, 1.0 / 1.25)],
        ),
        (
            "inverse_time_staircase",
            Schedule::inverse_time(1.0, 0.5, 10, true),
            vec![(9, 1.0), (10, 1.0 / 1.5)],
        ),
        (
            "polynomial",
            Schedule::polynomial(1.0, 4, 2.0),
            vec![(0, 1.0), (2, 0.25), (4, 0.0), (6, 0.0)],
        ),
        (
            "cosine",
            Schedule::cosine(1.0, 10, 0.1),
            vec![(0, 1.0), (5, 0.55), (10, 0.1), (15, 0.55)],
        ),
        (
            "warm_restarts",
            Schedule::cosine_warm_restarts(1.0, 2, 2, 0.0),
            // periods [0,2), [2,6), [6,14): restarts at 2 and 6
            vec![(0, 1.0), (1, 0.5), (2, 1.0), (4, 0.5), (6, 1.0), (10, 0.5)],
        ),
        (
            "linear_warmup",
            Schedule::linear(1.0, 0.25, 1.0, 3),
            vec![(0, 0.25), (1, 0.5), (3, 1.0), (8, 1.0)],
        ),
        (
            "sequential",
            Schedule::sequential(
                vec![Schedule::Constant(0.1), Schedule::exponential(1.0, 0.5)],
                vec![3],
            ),
            vec![(2, 0.1), (3, 1.0), (5, 0.25)],
        ),
        (
            "cosine_quarter",
            Schedule::cosine(1.0, 4, 0.0),
            vec![(1, (1.0 + (pi / 4.0).cos()) / 2.0)],
        ),
    ];
    let mut failures = Vec::new();
    for (name, s, points) in cases {
        for (t, want) in points {
            if !close(s.value(t), want) {
                failures.push(format!("{name} at {t}: {} vs {want}", s.value(t)));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn one_cycle_three_phase_and_linear() {
    let mut oc = OneCycle::new(1.0, 100);
    oc.three_phase = true;
    oc.anneal = Anneal::Linear;
    let (lr, m) = (oc.lr_schedule(), oc.momentum_schedule());
    // phases end at 29 (peak), 58 (back to initial), 99 (initial / 1e4)
    assert!(close(lr.value(0), 0.04) && close(lr.value(29), 1.0) && close(lr.value(58), 0.04));
    assert!(close(lr.value(99), 0.04 / 1e4));
    assert!(close(lr.value(14), 0.04 + (1.0 - 0.04) * 14.0 / 29.0));
    assert!(
        close(m.value(0), 0.95)
            && close(m.value(29), 0.85)
            && close(m.value(58), 0.95)
            && close(m.value(99), 0.95)
    );
    assert_eq!(lr.sample(100).len(), 100);
}

#[test]
fn plateau_reduces_after_patience_and_respects_cooldown_and_min_lr() {
    let mut p = ReduceOnPlateau::new(1.0)
        .patience(2)
        .cooldown(1)
        .factor(0.5)
        .min_lr(0.2);
    let lrs: Vec<f64> = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
        .iter()
        .map(|&m| p.step(m))
        .collect();
    // bad epochs: 1, 2, 3 -> reduce at the 4th call; cooldown 1; then 3 more bad epochs
    assert_eq!(
        lrs,
        vec![1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]
    );
    let lrs: Vec<f64> = (0..4).map(|_| p.step(1.0)).collect();
    assert!(lrs.iter().all(|&l| l >= 0.2), "never below min_lr: {lrs:?}");

    let mut q = ReduceOnPlateau::new(1.0).mode(PlateauMode::Max).patience(0);
    assert_eq!(q.step(0.5), 1.0);
    assert_eq!(q.step(0.6), 1.0); // improved
    assert!(close(q.step(0.6), 0.1)); // no improvement, patience 0
}
