//! Every trajectory in `tests/reference/optimizers.json` (made by torch.optim and optax in
//! float64 with `tests/reference/make_reference.py`) reproduced with gradus: the objective in
//! gradus tensors, gradients from autodiff, parameters after every step to 1e-9 relative, the loss
//! before every step and the learning rates where given. `GRADUS_REFERENCE_DIR` names another
//! folder holding an `optimizers.json` of the same format, with any number of cases.

mod common;

use gradus_optim::{
    AdaBelief, Adadelta, Adagrad, Adam, AdamW, Adamax, Chain, ClipByGlobalNorm,
    GradientTransformation, Lamb, Lars, Lion, NAdam, OneCycle, Optimizer, RAdam, RmsProp, Rprop,
    Schedule, Sgd, Yogi,
};
use gradus_tensor::Tensor;
use serde_json::Value;
use std::path::PathBuf;

fn reference_dir() -> PathBuf {
    match std::env::var_os("GRADUS_REFERENCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference")),
    }
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn matrix(v: &Value) -> (Vec<f64>, usize, usize) {
    let rows: Vec<Vec<f64>> = v.as_array().expect("rows").iter().map(f64s).collect();
    let (r, c) = (rows.len(), rows[0].len());
    (rows.concat(), r, c)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

/// The objective as a function of the flat parameter vector.
type Objective = Box<dyn Fn(&Tensor) -> gradus_tensor::Result<Tensor>>;

fn objective(spec: &Value) -> Objective {
    match spec["kind"].as_str().expect("kind") {
        "quadratic" => {
            let (a, n, _) = matrix(&spec["A"]);
            let a = Tensor::from_vec(a, &[n, n]).unwrap();
            let b = Tensor::from_vec(f64s(&spec["b"]), &[n]).unwrap();
            Box::new(move |x| common::quadratic(x, &a, &b))
        }
        "logistic" => {
            let (x, n, d) = matrix(&spec["X"]);
            let x = Tensor::from_vec(x, &[n, d]).unwrap();
            let y = Tensor::from_vec(f64s(&spec["y"]), &[n]).unwrap();
            Box::new(move |p| common::logistic(p, &x, &y))
        }
        "rosenbrock" => {
            let (a, b) = (spec["a"].as_f64().unwrap(), spec["b"].as_f64().unwrap());
            Box::new(move |x| common::rosenbrock(x, a, b))
        }
        other => panic!("unknown objective kind {other}"),
    }
}

fn num(h: &Value, key: &str, default: f64) -> f64 {
    h.get(key).and_then(Value::as_f64).unwrap_or(default)
}

fn pair(h: &Value, key: &str, default: (f64, f64)) -> (f64, f64) {
    h.get(key).map_or(default, |v| {
        let v = f64s(v);
        (v[0], v[1])
    })
}

/// torch `lr_scheduler` by name, starting from `base`.
fn torch_schedule(name: &str, h: &Value, base: f64) -> Schedule {
    let int = |k: &str| {
        h[k].as_u64()
            .unwrap_or_else(|| panic!("{name}: missing {k}"))
    };
    let schedule = match name {
        "StepLR" => Schedule::step(base, int("step_size"), num(h, "gamma", 0.1)),
        "MultiStepLR" => Schedule::multi_step(
            base,
            h["milestones"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_u64().unwrap())
                .collect(),
            num(h, "gamma", 0.1),
        ),
        "ExponentialLR" => Schedule::exponential(base, num(h, "gamma", f64::NAN)),
        "CosineAnnealingLR" => Schedule::cosine(base, int("T_max"), num(h, "eta_min", 0.0)),
        "CosineAnnealingWarmRestarts" => Schedule::cosine_warm_restarts(
            base,
            int("T_0"),
            h.get("T_mult").and_then(Value::as_u64).unwrap_or(1),
            num(h, "eta_min", 0.0),
        ),
        "PolynomialLR" => Schedule::polynomial(
            base,
            h.get("total_iters").and_then(Value::as_u64).unwrap_or(5),
            num(h, "power", 1.0),
        ),
        "LinearLR" => Schedule::linear(
            base,
            num(h, "start_factor", 1.0 / 3.0),
            num(h, "end_factor", 1.0),
            h.get("total_iters").and_then(Value::as_u64).unwrap_or(5),
        ),
        "SequentialLR" => Schedule::sequential(
            h["schedulers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| torch_schedule(s[0].as_str().unwrap(), &s[1], base))
                .collect(),
            h["milestones"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_u64().unwrap())
                .collect(),
        ),
        other => panic!("unknown schedule {other}"),
    };
    schedule.unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The gradus optimizer for one case, and its learning-rate schedule (to check `lr`).
fn build(case: &Value) -> (Box<dyn GradientTransformation>, Schedule) {
    let h = &case["hyper"];
    let name = case["optimizer"].as_str().unwrap();
    if case["source"] == "optax" {
        let lr = Schedule::Constant(num(h, "learning_rate", f64::NAN));
        let wd = num(h, "weight_decay", f64::NAN);
        let opt: Box<dyn GradientTransformation> = match name {
            "lion" => Box::new(
                Lion::new(lr.clone())
                    .b1(num(h, "b1", 0.9))
                    .b2(num(h, "b2", 0.99))
                    .weight_decay(num(h, "weight_decay", 1e-3)),
            ),
            "lamb" => Box::new(Lamb::new(lr.clone()).weight_decay(num(h, "weight_decay", 0.0))),
            "adabelief" => Box::new(AdaBelief::new(lr.clone())),
            "yogi" => Box::new(Yogi::new(lr.clone())),
            "lars" => {
                Box::new(Lars::new(lr.clone()).weight_decay(if wd.is_nan() { 0.0 } else { wd }))
            }
            other => panic!("unknown optax optimizer {other}"),
        };
        return (opt, lr);
    }
    let base = num(h, "lr", f64::NAN);
    let mut momentum_schedule = None;
    let lr = match case.get("schedule") {
        None => Schedule::Constant(base),
        Some(s) if s["name"] == "OneCycleLR" => {
            let sh = &s["hyper"];
            let oc = OneCycle::new(
                num(sh, "max_lr", f64::NAN),
                sh["total_steps"].as_u64().unwrap(),
            );
            momentum_schedule = Some(oc.momentum_schedule().unwrap());
            oc.lr_schedule().unwrap()
        }
        Some(s) => torch_schedule(s["name"].as_str().unwrap(), &s["hyper"], base),
    };
    let (l, wd) = (lr.clone(), num(h, "weight_decay", 0.0));
    let b = |k: &str| h.get(k).and_then(Value::as_bool).unwrap_or(false);
    let (b1, b2) = pair(h, "betas", (0.9, 0.999));
    let opt: Box<dyn GradientTransformation> = match name {
        "SGD" => {
            let mut sgd = Sgd::new(l)
                .momentum(num(h, "momentum", 0.0))
                .dampening(num(h, "dampening", 0.0))
                .nesterov(b("nesterov"))
                .weight_decay(wd);
            if let Some(m) = momentum_schedule {
                sgd = sgd.momentum_schedule(m);
            }
            Box::new(sgd)
        }
        "Adagrad" => Box::new(
            Adagrad::new(l)
                .lr_decay(num(h, "lr_decay", 0.0))
                .weight_decay(wd)
                .initial_accumulator_value(num(h, "initial_accumulator_value", 0.0))
                .eps(num(h, "eps", 1e-10)),
        ),
        "RMSprop" => Box::new(
            RmsProp::new(l)
                .alpha(num(h, "alpha", 0.99))
                .eps(num(h, "eps", 1e-8))
                .weight_decay(wd)
                .momentum(num(h, "momentum", 0.0))
                .centered(b("centered")),
        ),
        "Adadelta" => Box::new(
            Adadelta::new(l)
                .rho(num(h, "rho", 0.9))
                .eps(num(h, "eps", 1e-6))
                .weight_decay(wd),
        ),
        "Adam" => Box::new(
            Adam::new(l)
                .betas(b1, b2)
                .eps(num(h, "eps", 1e-8))
                .weight_decay(wd)
                .amsgrad(b("amsgrad")),
        ),
        "AdamW" => Box::new(
            AdamW::new(l)
                .betas(b1, b2)
                .eps(num(h, "eps", 1e-8))
                .weight_decay(num(h, "weight_decay", 1e-2))
                .amsgrad(b("amsgrad")),
        ),
        "Adamax" => Box::new(
            Adamax::new(l)
                .betas(b1, b2)
                .eps(num(h, "eps", 1e-8))
                .weight_decay(wd),
        ),
        "NAdam" => Box::new(
            NAdam::new(l)
                .betas(b1, b2)
                .eps(num(h, "eps", 1e-8))
                .weight_decay(wd)
                .momentum_decay(num(h, "momentum_decay", 4e-3))
                .decoupled_weight_decay(b("decoupled_weight_decay")),
        ),
        "RAdam" => Box::new(
            RAdam::new(l)
                .betas(b1, b2)
                .eps(num(h, "eps", 1e-8))
                .weight_decay(wd)
                .decoupled_weight_decay(b("decoupled_weight_decay")),
        ),
        "Rprop" => {
            let (em, ep) = pair(h, "etas", (0.5, 1.2));
            let (lo, hi) = pair(h, "step_sizes", (1e-6, 50.0));
            Box::new(Rprop::new(l).etas(em, ep).step_sizes(lo, hi))
        }
        other => panic!("unknown torch optimizer {other}"),
    };
    let opt = match case.get("clip_grad_norm").and_then(Value::as_f64) {
        Some(max_norm) => Box::new(Chain::new().then(ClipByGlobalNorm::new(max_norm)).then(opt)),
        None => opt,
    };
    (opt, lr)
}

/// Runs one case; returns the first mismatch.
fn run_case(case: &Value, objectives: &Value) -> Result<(), String> {
    let f = objective(&objectives[case["objective"].as_str().unwrap()]);
    let (transform, lr) = build(case);
    let x = Tensor::from_vec(f64s(&case["x0"]), &[f64s(&case["x0"]).len()])
        .unwrap()
        .requires_grad_(true);
    let mut opt = Optimizer::new(transform, std::slice::from_ref(&x)).map_err(|e| e.to_string())?;
    let losses = f64s(&case["loss"]);
    let lrs = case.get("lr").map(f64s);
    // torch's CosineAnnealingLR climbs back up past T_max; gradus holds eta_min from its horizon
    // on (documented on `Schedule::Cosine`), so such a case is compared up to the horizon.
    let compared = match (case.get("schedule"), lr.horizon()) {
        (Some(s), Some(h)) if s["name"] == "CosineAnnealingLR" => h as usize + 1,
        _ => usize::MAX,
    };
    for (t, expected) in case["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(f64s)
        .enumerate()
        .take(compared)
    {
        opt.zero_grad();
        let loss = f(&x).map_err(|e| e.to_string())?;
        loss.backward().map_err(|e| e.to_string())?;
        let loss = loss.item().unwrap();
        if !close(loss, losses[t]) {
            return Err(format!("step {t}: loss {loss} vs {}", losses[t]));
        }
        if let Some(lrs) = &lrs {
            if !close(lr.value(t as u64), lrs[t]) {
                return Err(format!("step {t}: lr {} vs {}", lr.value(t as u64), lrs[t]));
            }
        }
        opt.step().map_err(|e| e.to_string())?;
        let got = x.to_vec::<f64>().unwrap();
        if let Some(i) = (0..got.len()).find(|&i| !close(got[i], expected[i])) {
            return Err(format!(
                "step {t}: param {i} = {} vs {}",
                got[i], expected[i]
            ));
        }
    }
    Ok(())
}

#[test]
fn every_reference_trajectory_matches() {
    let path = reference_dir().join("optimizers.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("cannot read the reference file {} ({e}); set GRADUS_REFERENCE_DIR to the folder holding optimizers.json", path.display())
    });
    let doc: Value = serde_json::from_str(&text).expect("optimizers.json is valid JSON");
    let cases = doc["cases"].as_array().expect("cases");
    assert!(!cases.is_empty(), "no cases in {}", path.display());
    let failures: Vec<String> = cases
        .iter()
        .enumerate()
        .filter_map(|(i, case)| {
            run_case(case, &doc["objectives"]).err().map(|e| {
                format!(
                    "case {i} {} {} on {}: {e}",
                    case["source"], case["optimizer"], case["objective"]
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
