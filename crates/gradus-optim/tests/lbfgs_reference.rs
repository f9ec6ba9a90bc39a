//! Every trajectory in `tests/reference/lbfgs.json` (made by `torch.optim.LBFGS` in float64 with
//! `tests/reference/make_lbfgs_reference.py`) replayed with gradus's [`Lbfgs`]: the same objective
//! in gradus tensors (gradients from autodiff), the same hyperparameters, and after every `step`
//! the parameters, the loss it returned and the stored step length `t` to 1e-9 relative, and the
//! running totals of function evaluations and iterations exactly. The cases cover the
//! strong-Wolfe search and the fixed step, torch's defaults and other `lr` / `max_iter` /
//! `max_eval` / `history_size` / tolerances, Rosenbrock in 2-D and 10-D, and least squares and
//! logistic regression over two parameter tensors of different shapes (a matrix then a vector:
//! the flattening order). A case stops where torch's own trajectory, started one ulp away, moves
//! by more than 1e-11 (the generator's rule): past there rounding order alone could break 1e-9.

mod common;

use gradus_optim::{Lbfgs, LineSearchFn};
use gradus_tensor::Tensor;
use serde_json::Value;

const REL: f64 = 1e-9;

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("integer") as usize)
        .collect()
}

fn matrix(v: &Value) -> Tensor {
    let rows: Vec<Vec<f64>> = v.as_array().expect("rows").iter().map(f64s).collect();
    let (r, c) = (rows.len(), rows[0].len());
    Tensor::from_vec(rows.concat(), &[r, c]).unwrap()
}

/// `|a - b|` relative to `max(|b|, 1)`.
fn rel_err(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1.0)
}

/// The objective of the parameter tensors.
type Objective = Box<dyn Fn(&[Tensor]) -> gradus_tensor::Result<Tensor>>;

fn objective(spec: &Value) -> Objective {
    match spec["kind"].as_str().expect("kind") {
        "rosenbrock" => {
            let (a, b) = (spec["a"].as_f64().unwrap(), spec["b"].as_f64().unwrap());
            Box::new(move |ps| common::rosenbrock(&ps[0], a, b))
        }
        kind @ ("least_squares" | "logistic") => {
            let (x, y) = (matrix(&spec["X"]), matrix(&spec["Y"]));
            let logistic = kind == "logistic";
            Box::new(move |ps| {
                let z = x.matmul(&ps[0])?.add(&ps[1])?;
                if logistic {
                    // softplus(z) - y z = BCE-with-logits(z, y)
                    z.softplus(1.0, 20.0)?.sub(&y.mul(&z)?)?.mean_all()
                } else {
                    z.sub(&y)?.powf(2.0)?.mean_all()
                }
            })
        }
        other => panic!("unknown objective kind {other}"),
    }
}

fn build(h: &Value, params: &[Tensor]) -> Lbfgs {
    let mut opt = Lbfgs::new(params).line_search_fn(match h.get("line_search_fn") {
        None => None,
        Some(v) if v == "strong_wolfe" => Some(LineSearchFn::StrongWolfe),
        Some(other) => panic!("unknown line_search_fn {other}"),
    });
    let num = |k: &str| h.get(k).and_then(Value::as_f64);
    let int = |k: &str| h.get(k).and_then(Value::as_u64).map(|v| v as usize);
    if let Some(v) = num("lr") {
        opt = opt.lr(v);
    }
    if let Some(v) = int("max_iter") {
        opt = opt.max_iter(v);
    }
    if let Some(v) = int("max_eval") {
        opt = opt.max_eval(v);
    }
    if let Some(v) = int("history_size") {
        opt = opt.history_size(v);
    }
    if let Some(v) = num("tolerance_grad") {
        opt = opt.tolerance_grad(v);
    }
    if let Some(v) = num("tolerance_change") {
        opt = opt.tolerance_change(v);
    }
    opt
}

/// Replays one case; returns the largest relative error on parameters and losses, or the first
/// mismatch.
fn run_case(case: &Value, objectives: &Value) -> Result<f64, String> {
    let spec = &objectives[case["objective"].as_str().unwrap()];
    let f = objective(spec);
    let params: Vec<Tensor> = spec["x0"]
        .as_array()
        .unwrap()
        .iter()
        .zip(spec["shapes"].as_array().unwrap())
        .map(|(v, s)| {
            Tensor::from_vec(f64s(v), &usizes(s))
                .unwrap()
                .requires_grad_(true)
        })
        .collect();
    let mut opt = build(&case["hyper"], &params);
    let (losses, evals, iters) = (
        f64s(&case["loss"]),
        usizes(&case["func_evals"]),
        usizes(&case["n_iter"]),
    );
    let mut worst = 0.0f64;
    for (t, expected) in case["params"].as_array().unwrap().iter().enumerate() {
        let loss = opt
            .step(|| {
                let l = f(&params)?;
                l.backward()?;
                Ok(l.item()?)
            })
            .map_err(|e| format!("step {t}: {e}"))?;
        let state = opt.state();
        let counts = (state.func_evals as usize, state.n_iter as usize);
        if counts != (evals[t], iters[t]) {
            return Err(format!(
                "step {t}: (func_evals, n_iter) {counts:?} vs {:?}",
                (evals[t], iters[t])
            ));
        }
        let err = rel_err(loss, losses[t]);
        if err > REL {
            return Err(format!("step {t}: loss {loss} vs {}", losses[t]));
        }
        worst = worst.max(err);
        if let Some(want) = case["t"][t].as_f64() {
            let err = rel_err(state.t, want);
            if err > REL {
                return Err(format!("step {t}: step length t {} vs {want}", state.t));
            }
            worst = worst.max(err);
        }
        for (k, (p, want)) in params.iter().zip(expected.as_array().unwrap()).enumerate() {
            let (got, want) = (p.to_vec::<f64>().unwrap(), f64s(want));
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                let err = rel_err(*g, *w);
                if err > REL {
                    return Err(format!("step {t}: param {k} element {i} = {g} vs {w}"));
                }
                worst = worst.max(err);
            }
        }
    }
    Ok(worst)
}

#[test]
fn every_torch_lbfgs_trajectory_matches() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/lbfgs.json");
    let text = std::fs::read_to_string(path).expect("tests/reference/lbfgs.json is readable");
    let doc: Value = serde_json::from_str(&text).expect("lbfgs.json is valid JSON");
    let cases = doc["cases"].as_array().expect("cases");
    assert!(cases.len() >= 24, "{} cases in lbfgs.json", cases.len());
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let name = format!("case {i} {} {}", case["objective"], case["hyper"]);
        match run_case(case, &doc["objectives"]) {
            Ok(worst) => println!("{name}: largest relative error {worst:.1e}"),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
