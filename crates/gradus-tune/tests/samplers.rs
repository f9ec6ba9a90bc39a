//! Samplers on known functions: the grid covers its combinations once, random search replays by
//! seed, and TPE and GP-EI reach a lower regret than random search (median over 20 seeds) on Branin
//! and on a quadratic in log space, as Bergstra et al. (2011) and Optuna's benchmarks report.

mod common;

use common::{branin, median, minimize, study, Objective, BRANIN_MIN};
use gradus_tune::{ParamValue, TrialState};

const BRANIN: &str = "x1 = { type = \"uniform\", low = -5.0, high = 10.0 }\nx2 = { type = \"uniform\", low = 0.0, high = 15.0 }\n";
const LOG_QUADRATIC: &str = "lr = { type = \"log_uniform\", low = 1e-6, high = 1.0 }\nwd = { type = \"log_uniform\", low = 1e-6, high = 1.0 }\nbatch = { type = \"int\", low = 8, high = 256, step = 8 }\n";

/// A bowl in log space: best at lr = 3e-3, wd = 1e-4, batch = 64.
fn log_quadratic(p: &dyn Fn(&str) -> f64) -> f64 {
    (p("lr").ln() - 3e-3f64.ln()).powi(2)
        + 0.5 * (p("wd").ln() - 1e-4f64.ln()).powi(2)
        + ((p("batch") - 64.0) / 32.0).powi(2)
}

#[test]
fn grid_enumerates_every_combination_once_then_stops() {
    let mut s = study(
        "{ name = \"grid\", points = 3 }",
        0,
        "a = { type = \"uniform\", low = 0.0, high = 1.0 }\nb = { type = \"categorical\", choices = [\"x\", \"y\"] }\n",
    );
    let mut seen = Vec::new();
    while let Some(n) = s.ask().unwrap() {
        seen.push((s.value_f64(n, "a").unwrap(), s.value_f64(n, "b").unwrap()));
        s.complete(n, 0.0).unwrap();
    }
    let want: Vec<(f64, f64)> = [0.0, 0.5, 1.0]
        .iter()
        .flat_map(|a| [(*a, 0.0), (*a, 1.0)])
        .collect();
    assert_eq!(seen, want);
}

#[test]
fn grid_moves_past_a_failed_combination_and_retries_an_interrupted_one() {
    let spec = "b = { type = \"categorical\", choices = [1, 2] }\n";
    let mut s = study("\"grid\"", 0, spec);
    let first = s.ask().unwrap().unwrap();
    s.fail(first, "diverged", false).unwrap();
    let next = s.ask().unwrap().unwrap();
    assert_ne!(s.trials()[next].params, s.trials()[first].params);

    let mut s = study("\"grid\"", 0, spec);
    let first = s.ask().unwrap().unwrap();
    s.fail(first, "interrupted", true).unwrap();
    let again = s.ask().unwrap().unwrap();
    assert_eq!(s.trials()[again].params, s.trials()[first].params);
}

#[test]
fn random_search_replays_by_seed_and_stays_in_range() {
    let draws = |seed: u64| {
        let mut s = study("\"random\"", seed, LOG_QUADRATIC);
        minimize(&mut s, 30, log_quadratic);
        s.trials()
            .iter()
            .map(|t| t.params.clone())
            .collect::<Vec<_>>()
    };
    let a = draws(3);
    assert_eq!(a, draws(3));
    assert_ne!(a, draws(4));
    for p in &a {
        match (p["lr"], p["batch"]) {
            (ParamValue::Float(lr), ParamValue::Int(b)) => {
                assert!((1e-6..=1.0).contains(&lr));
                assert!((8..=256).contains(&b) && b % 8 == 0, "{b}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn tpe_replays_by_seed() {
    let run = |seed| {
        let mut s = study("\"tpe\"", seed, BRANIN);
        minimize(&mut s, 25, |p| branin(p("x1"), p("x2")))
    };
    assert_eq!(run(11), run(11));
}

/// Median regret of `sampler` over seeds 0..20 after `trials` trials.
fn median_regret(sampler: &str, params: &str, trials: usize, f: Objective, best: f64) -> f64 {
    median(
        (0..20)
            .map(|seed| minimize(&mut study(sampler, seed, params), trials, f) - best)
            .collect(),
    )
}

#[test]
fn tpe_beats_random_search_on_branin() {
    let f = |p: &dyn Fn(&str) -> f64| branin(p("x1"), p("x2"));
    let tpe = median_regret("\"tpe\"", BRANIN, 60, &f, BRANIN_MIN);
    let random = median_regret("\"random\"", BRANIN, 60, &f, BRANIN_MIN);
    eprintln!("branin, 60 trials, median regret over 20 seeds: tpe {tpe:.4}, random {random:.4}");
    assert!(tpe < 0.5 * random, "tpe {tpe} random {random}");
}

#[test]
fn tpe_beats_random_search_on_a_quadratic_in_log_space() {
    let tpe = median_regret("\"tpe\"", LOG_QUADRATIC, 60, &log_quadratic, 0.0);
    let random = median_regret("\"random\"", LOG_QUADRATIC, 60, &log_quadratic, 0.0);
    eprintln!(
        "log quadratic, 60 trials, median regret over 20 seeds: tpe {tpe:.4}, random {random:.4}"
    );
    assert!(tpe < 0.5 * random, "tpe {tpe} random {random}");
}

#[test]
fn tpe_counts_pruned_trials_as_finished() {
    // 10 pruned trials end the random start-up as completed ones would
    let mut s = study("{ name = \"tpe\", n_startup_trials = 10 }", 0, BRANIN);
    for _ in 0..10 {
        let n = s.ask().unwrap().unwrap();
        s.report(n, 1, f64::NAN).unwrap();
        assert!(matches!(s.trials()[n].state, TrialState::Pruned(1)));
    }
    let n = s.ask().unwrap().unwrap();
    assert_eq!(n, 10);
}

#[test]
fn gp_beats_random_search_on_branin() {
    let f = |p: &dyn Fn(&str) -> f64| branin(p("x1"), p("x2"));
    let gp = median_regret("\"gp\"", BRANIN, 40, &f, BRANIN_MIN);
    let random = median_regret("\"random\"", BRANIN, 40, &f, BRANIN_MIN);
    eprintln!("branin, 40 trials, median regret over 20 seeds: gp {gp:.4}, random {random:.4}");
    assert!(gp < 0.5 * random, "gp {gp} random {random}");
}

#[test]
fn gp_beats_random_search_on_a_quadratic_in_log_space() {
    let gp = median_regret("\"gp\"", LOG_QUADRATIC, 40, &log_quadratic, 0.0);
    let random = median_regret("\"random\"", LOG_QUADRATIC, 40, &log_quadratic, 0.0);
    eprintln!(
        "log quadratic, 40 trials, median regret over 20 seeds: gp {gp:.4}, random {random:.4}"
    );
    assert!(gp < 0.5 * random, "gp {gp} random {random}");
}
