//! Schedules against values written out by hand from torch's definitions, and the plateau rule.

// Tensor handles are cheap reference-counted clones; `&[p.clone()]` reads better than
// `std::slice::from_ref(&p)` in tests.
#![allow(clippy::cloned_ref_to_slice_refs)]

use gradus_optim::{Anneal, OneCycle, PlateauMode, ReduceOnPlateau, Schedule, ThresholdMode};

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
            Schedule::step(1.0, 3, 0.5).unwrap(),
            vec![(0, 1.0), (2, 1.0), (3, 0.5), (7, 0.25)],
        ),
        (
            "multi_step",
            Schedule::multi_step(1.0, vec![4, 2], 0.1).unwrap(),
            vec![(1, 1.0), (2, 0.1), (4, 0.01), (9, 0.01)],
        ),
        (
            "exponential",
            Schedule::exponential(2.0, 0.5).unwrap(),
            vec![(0, 2.0), (3, 0.25)],
        ),
        (
            "inverse_time",
            Schedule::inverse_time(1.0, 0.5, 10, false).unwrap(),
            vec![(0, 1.0), (10, 1.0 / 1.5), (5, 1.0 / 1.25)],
        ),
        (
            "inverse_time_staircase",
            Schedule::inverse_time(1.0, 0.5, 10, true).unwrap(),
            vec![(9, 1.0), (10, 1.0 / 1.5)],
        ),
        (
            "polynomial",
            Schedule::polynomial(1.0, 4, 2.0).unwrap(),
            vec![(0, 1.0), (2, 0.25), (4, 0.0), (6, 0.0)],
        ),
        (
            "cosine",
            Schedule::cosine(1.0, 10, 0.1).unwrap(),
            // holds eta_min past t_max (torch's curve would climb back to 0.55 at 15)
            vec![(0, 1.0), (5, 0.55), (10, 0.1), (15, 0.1)],
        ),
        (
            "warm_restarts",
            Schedule::cosine_warm_restarts(1.0, 2, 2, 0.0).unwrap(),
            // periods [0,2), [2,6), [6,14): restarts at 2 and 6
            vec![(0, 1.0), (1, 0.5), (2, 1.0), (4, 0.5), (6, 1.0), (10, 0.5)],
        ),
        (
            "linear_warmup",
            Schedule::linear(1.0, 0.25, 1.0, 3).unwrap(),
            vec![(0, 0.25), (1, 0.5), (3, 1.0), (8, 1.0)],
        ),
        (
            "sequential",
            Schedule::sequential(
                vec![
                    Schedule::Constant(0.1),
                    Schedule::exponential(1.0, 0.5).unwrap(),
                ],
                vec![3],
            )
            .unwrap(),
            vec![(2, 0.1), (3, 1.0), (5, 0.25)],
        ),
        (
            "cosine_quarter",
            Schedule::cosine(1.0, 4, 0.0).unwrap(),
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
    let (lr, m) = (oc.lr_schedule().unwrap(), oc.momentum_schedule().unwrap());
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

fn rates(mut p: ReduceOnPlateau, metrics: &[f64]) -> Vec<f64> {
    metrics.iter().map(|&m| p.step(m)).collect()
}

#[test]
fn plateau_reduces_on_a_constant_negative_metric_as_on_a_positive_one() {
    let plateau = || ReduceOnPlateau::new(1.0).factor(0.5).patience(2);
    let want = vec![1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25];
    assert_eq!(rates(plateau(), &[-1.0; 8]), want);
    assert_eq!(rates(plateau(), &[1.0; 8]), want);
    let max = || plateau().mode(PlateauMode::Max);
    assert_eq!(rates(max(), &[-1.0; 8]), want);
    assert_eq!(rates(max(), &[1.0; 8]), want);
}

#[test]
fn plateau_threshold_is_symmetric_in_both_modes_and_threshold_modes() {
    // patience 0, factor 0.5: the second metric is within the threshold (a plateau), the third
    // beats it. torch's `best * (1 - threshold)` would count every negative case's second metric
    // as an improvement.
    let want = vec![1.0, 0.5, 0.5];
    let cases: Vec<(PlateauMode, ThresholdMode, [f64; 3])> = vec![
        (PlateauMode::Min, ThresholdMode::Rel, [1.0, 0.95, 0.8]),
        (PlateauMode::Min, ThresholdMode::Rel, [-1.0, -1.05, -1.2]),
        (PlateauMode::Max, ThresholdMode::Rel, [1.0, 1.05, 1.2]),
        (PlateauMode::Max, ThresholdMode::Rel, [-1.0, -0.95, -0.8]),
        (PlateauMode::Min, ThresholdMode::Abs, [10.0, 9.95, 9.8]),
        (PlateauMode::Min, ThresholdMode::Abs, [-1.0, -1.05, -1.2]),
        (PlateauMode::Max, ThresholdMode::Abs, [10.0, 10.05, 10.2]),
        (PlateauMode::Max, ThresholdMode::Abs, [-10.0, -9.95, -9.8]),
    ];
    for (mode, tm, metrics) in cases {
        let p = ReduceOnPlateau::new(1.0)
            .mode(mode)
            .threshold_mode(tm)
            .threshold(0.1)
            .patience(0)
            .factor(0.5);
        assert_eq!(rates(p, &metrics), want, "{mode:?} {tm:?} {metrics:?}");
    }
}

#[test]
fn plateau_never_takes_nan_as_an_improvement() {
    let p = ReduceOnPlateau::new(1.0).patience(0).factor(0.5);
    // NaN first: no best yet, a bad call; 1.0 then sets the best; NaN is bad again
    assert_eq!(rates(p, &[f64::NAN, 1.0, f64::NAN]), vec![0.5, 0.5, 0.25]);
}

#[test]
fn plateau_state_saved_before_threshold_mode_existed_still_loads() {
    let p = ReduceOnPlateau::new(0.1);
    let mut json: serde_json::Value = serde_json::to_value(&p).unwrap();
    assert_eq!(json["threshold_mode"], "Rel");
    json.as_object_mut().unwrap().remove("threshold_mode");
    let old: ReduceOnPlateau = serde_json::from_value(json).unwrap();
    assert_eq!(old, p);
}
