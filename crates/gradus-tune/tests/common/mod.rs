//! Known test functions and a loop that minimizes them with a study.

#![allow(dead_code)]

use gradus_tune::{split_config, Study};

/// Branin on `[-5, 10] x [0, 15]`; minimum 0.397887 (at three points).
pub fn branin(x1: f64, x2: f64) -> f64 {
    use std::f64::consts::PI;
    let (a, b, c) = (1.0, 5.1 / (4.0 * PI * PI), 5.0 / PI);
    let (r, s, t) = (6.0, 10.0, 1.0 / (8.0 * PI));
    a * (x2 - b * x1 * x1 + c * x1 - r).powi(2) + s * (1.0 - t) * x1.cos() + s
}

/// A function of a trial's parameter values, given as a lookup by name.
pub type Objective<'a> = &'a dyn Fn(&dyn Fn(&str) -> f64) -> f64;

/// The minimum of [`branin`].
pub const BRANIN_MIN: f64 = 0.397_887_357_729_738;

/// A study of `sampler` (a `[search]` sampler value) over `params`, with `seed`.
pub fn study(sampler: &str, seed: u64, params: &str) -> Study {
    let text = format!("[search]\nmetric = \"loss\"\nsampler = {sampler}\nseed = {seed}\n[search.params]\n{params}");
    Study::new(split_config(&text, "test").unwrap().spec)
}

/// Runs `trials` trials of `f` (a function of the study's parameter values, by name); returns
/// the best value found.
pub fn minimize(study: &mut Study, trials: usize, f: impl Fn(&dyn Fn(&str) -> f64) -> f64) -> f64 {
    for _ in 0..trials {
        let n = study.ask().unwrap().unwrap();
        let v = {
            let s = &*study;
            f(&|name: &str| s.value_f64(n, name).unwrap())
        };
        study.complete(n, v).unwrap();
    }
    study.best().unwrap().value().unwrap()
}

/// The median of `v`.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}
