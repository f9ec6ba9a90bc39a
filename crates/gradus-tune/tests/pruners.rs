//! Pruners on synthetic learning curves: which trials stop, and at which epoch.

mod common;

use gradus_tune::{Study, TrialState};

const X: &str = "x = { type = \"uniform\", low = 0.0, high = 1.0 }\n";

/// Runs trial after trial through `curves` (each a list of per-epoch losses) one at a time, as
/// a search with one trial at a time would; returns each trial's state.
fn run_sequentially(s: &mut Study, curves: &[Vec<f64>]) -> Vec<TrialState> {
    for c in curves {
        let n = s.ask().unwrap().unwrap();
        let mut pruned = false;
        for (i, v) in c.iter().enumerate() {
            if s.report(n, i + 1, *v).unwrap() {
                pruned = true;
                break;
            }
        }
        if !pruned {
            s.complete(n, *c.last().unwrap()).unwrap();
        }
    }
    s.trials().iter().map(|t| t.state.clone()).collect()
}

/// `level + 1 / epoch` for 16 epochs: curves that keep their order.
fn curve(level: f64) -> Vec<f64> {
    (1..=16).map(|e| level + 1.0 / e as f64).collect()
}

#[test]
fn median_rule_stops_trials_worse_than_the_median_after_the_startup_trials() {
    // median pruner with 2 startup trials and a one-epoch warm-up
    let text = "[search]\nmetric = \"loss\"\nsampler = \"random\"\npruner = { name = \"median\", n_startup_trials = 2, n_warmup_steps = 1 }\n[search.params]\nx = { type = \"uniform\", low = 0.0, high = 1.0 }\n";
    let mut s = Study::new(gradus_tune::split_config(text, "t").unwrap().spec);
    let curves = [curve(1.0), curve(3.0), curve(5.0), curve(0.5), curve(2.5)];
    let states = run_sequentially(&mut s, &curves);
    // 1 and 3 complete (startup); 5 is worse than median(1, 3) = 2 at epoch 2 (after warm-up);
    // 0.5 is better; 2.5 is worse than median(1, 3, 0.5) = 1 at epoch 2
    assert_eq!(
        states,
        [
            TrialState::Completed(1.0 + 1.0 / 16.0),
            TrialState::Completed(3.0 + 1.0 / 16.0),
            TrialState::Pruned(2),
            TrialState::Completed(0.5 + 1.0 / 16.0),
            TrialState::Pruned(2),
        ]
    );
}

#[test]
fn median_rule_maximizes_too() {
    let text = "[search]\nmetric = \"accuracy\"\nsampler = \"random\"\npruner = { name = \"median\", n_startup_trials = 1 }\n[search.params]\nx = { type = \"uniform\", low = 0.0, high = 1.0 }\n";
    let mut s = Study::new(gradus_tune::split_config(text, "t").unwrap().spec);
    let up = |level: f64| (1..=4).map(|e| level - 1.0 / e as f64).collect::<Vec<_>>();
    let states = run_sequentially(&mut s, &[up(0.9), up(0.5), up(0.95)]);
    assert!(matches!(states[1], TrialState::Pruned(1)), "{states:?}");
    assert!(matches!(states[2], TrialState::Completed(_)), "{states:?}");
}

#[test]
fn asha_keeps_the_best_1_over_eta_at_each_rung() {
    let text = "[search]\nmetric = \"loss\"\nsampler = \"random\"\npruner = { name = \"asha\", min_resource = 1, reduction_factor = 2 }\n[search.params]\nx = { type = \"uniform\", low = 0.0, high = 1.0 }\n";
    let mut s = Study::new(gradus_tune::split_config(text, "t").unwrap().spec);
    // rungs at epochs 1, 2, 4, 8, 16; eta = 2 keeps the best half (at least one) at each
    let levels = [3.0, 2.0, 4.0, 1.0, 5.0, 0.5];
    let curves: Vec<Vec<f64>> = levels.iter().map(|l| curve(*l)).collect();
    let states = run_sequentially(&mut s, &curves);
    // trial 0: alone at every rung -> completes. trial 1 (2.0): better than 3.0 at every rung ->
    // completes. trial 2 (4.0): rung 1 holds [3, 2, 4] + 1: keeps the best 1 of 3 -> pruned at 1.
    // trial 3 (1.0): best at every rung -> completes. trial 4 (5.0): pruned at epoch 1.
    // trial 5 (0.5): best -> completes.
    let kinds: Vec<&str> = states
        .iter()
        .map(|s| match s {
            TrialState::Completed(_) => "completed",
            TrialState::Pruned(1) => "pruned@1",
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "completed",
            "completed",
            "pruned@1",
            "completed",
            "pruned@1",
            "completed"
        ]
    );
    // only rungs decide: the epochs reported by a pruned trial end at a rung
    for t in s.trials() {
        if let TrialState::Pruned(e) = t.state {
            assert!([1, 2, 4, 8, 16].contains(&e));
        }
    }
}

#[test]
fn asha_prunes_between_rungs_never_and_judges_each_rung_once() {
    let text = "[search]\nmetric = \"loss\"\nsampler = \"random\"\npruner = { name = \"asha\", min_resource = 2, reduction_factor = 3 }\n[search.params]\nx = { type = \"uniform\", low = 0.0, high = 1.0 }\n";
    let mut s = Study::new(gradus_tune::split_config(text, "t").unwrap().spec);
    // rungs at 2, 6, 18. Three good trials first, then a bad one at rung 2 but not at epoch 1.
    let states = run_sequentially(
        &mut s,
        &[curve(1.0), curve(1.1), curve(1.2), vec![0.0, 9.0, 9.0]],
    );
    assert_eq!(states[3], TrialState::Pruned(2));
    // an early trial promoted at rung 2 while alone is not judged there again
    let a = s.ask().unwrap().unwrap();
    assert!(!s.report(a, 1, 0.1).unwrap());
}

#[test]
fn a_trial_reporting_nan_is_pruned_by_every_pruner() {
    for pruner in ["none", "median", "asha"] {
        let text =
            format!("[search]\nmetric = \"loss\"\npruner = \"{pruner}\"\n[search.params]\n{X}");
        let mut s = Study::new(gradus_tune::split_config(&text, "t").unwrap().spec);
        let n = s.ask().unwrap().unwrap();
        assert!(s.report(n, 1, f64::NAN).unwrap(), "{pruner}");
    }
}
