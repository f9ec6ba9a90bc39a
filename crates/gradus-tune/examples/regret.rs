//! The gradus side of `bench/tune_vs_optuna.py`: minimizes a known function with a sampler over
//! seeds and prints, per seed, the best value found after each trial as one JSON line.
//!
//! ```sh
//! cargo run --release -p gradus-tune --example regret -- branin tpe 100 20
//! ```
//! Functions: `branin` (2-D), `hartmann6` (6-D on the unit cube), `log_quadratic` (a bowl in log
//! space over a learning rate, a weight decay and an int batch size). Samplers: `tpe`, `gp`,
//! `random`.

use gradus_tune::{split_config, Study};

/// A test function of the parameter values, looked up by name.
type Function = fn(&dyn Fn(&str) -> f64) -> f64;

fn branin(p: &dyn Fn(&str) -> f64) -> f64 {
    use std::f64::consts::PI;
    let (x1, x2) = (p("x1"), p("x2"));
    let b = 5.1 / (4.0 * PI * PI);
    (x2 - b * x1 * x1 + 5.0 / PI * x1 - 6.0).powi(2)
        + 10.0 * (1.0 - 1.0 / (8.0 * PI)) * x1.cos()
        + 10.0
}

/// Hartmann-6 (Dixon and Szegö 1978); minimum -3.32237 at (0.20169, 0.150011, 0.476874,
/// 0.275332, 0.311652, 0.6573).
fn hartmann6(p: &dyn Fn(&str) -> f64) -> f64 {
    const ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
    const A: [[f64; 6]; 4] = [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ];
    const P: [[f64; 6]; 4] = [
        [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
        [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
        [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
        [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
    ];
    let x: Vec<f64> = (0..6).map(|i| p(&format!("x{i}"))).collect();
    -(0..4)
        .map(|i| {
            let s: f64 = (0..6).map(|j| A[i][j] * (x[j] - P[i][j]).powi(2)).sum();
            ALPHA[i] * (-s).exp()
        })
        .sum::<f64>()
}

fn log_quadratic(p: &dyn Fn(&str) -> f64) -> f64 {
    (p("lr").ln() - 3e-3f64.ln()).powi(2)
        + 0.5 * (p("wd").ln() - 1e-4f64.ln()).powi(2)
        + ((p("batch") - 64.0) / 32.0).powi(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [function, sampler, trials, seeds] = &args[..] else {
        eprintln!("usage: regret FUNCTION SAMPLER TRIALS SEEDS");
        std::process::exit(2);
    };
    let (params, f): (String, Function) = match function.as_str() {
        "branin" => (
            "x1 = { type = \"uniform\", low = -5.0, high = 10.0 }\nx2 = { type = \"uniform\", low = 0.0, high = 15.0 }\n".into(),
            branin,
        ),
        "hartmann6" => (
            (0..6).map(|i| format!("x{i} = {{ type = \"uniform\", low = 0.0, high = 1.0 }}\n")).collect(),
            hartmann6,
        ),
        "log_quadratic" => (
            "lr = { type = \"log_uniform\", low = 1e-6, high = 1.0 }\nwd = { type = \"log_uniform\", low = 1e-6, high = 1.0 }\nbatch = { type = \"int\", low = 8, high = 256, step = 8 }\n".into(),
            log_quadratic,
        ),
        other => panic!("unknown function {other}"),
    };
    let trials: usize = trials.parse().expect("TRIALS is a number");
    for seed in 0..seeds.parse::<u64>().expect("SEEDS is a number") {
        let text = format!("[search]\nmetric = \"loss\"\nsampler = \"{sampler}\"\nseed = {seed}\n[search.params]\n{params}");
        let mut study = Study::new(split_config(&text, "regret").unwrap().spec);
        let mut best = f64::INFINITY;
        let mut curve = Vec::with_capacity(trials);
        for _ in 0..trials {
            let n = study.ask().unwrap().unwrap();
            let v = {
                let s = &study;
                f(&|name: &str| s.value_f64(n, name).unwrap())
            };
            study.complete(n, v).unwrap();
            best = best.min(v);
            curve.push(best);
        }
        println!("{}", serde_json::to_string(&curve).unwrap());
    }
}
