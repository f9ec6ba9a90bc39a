//! Meta-trains a learned optimizer (a per-coordinate MLP on gradient features) on random
//! ill-conditioned quadratics and small MLPs on subsets of the digits data, writes its weights,
//! and compares it with Adam at the best of six learning rates on held-out tasks of the family
//! and on a task outside it (an MLP on the wine data, 4x longer than the meta-training runs).
//!
//! ```text
//! cargo run --release -p gradus-optim --example learned_optimizer [-- OUT.safetensors [META_STEPS]]
//! ```
//! Writes `examples/learned-optimizer.safetensors` at the repository root by default.

use gradus_optim::learned::tasks::{read_classification_csv, MlpClassifier, Quadratic, Task};
use gradus_optim::learned::{mean_log_loss, meta_train, run_task, MetaTrainConfig};
use gradus_optim::{Adam, GradientTransformation, LearnedOptimizer};
use gradus_tensor::{Rng, Tensor};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

const ADAM_RATES: [f64; 6] = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A task of the family: a quadratic or an MLP on 128 rows of `rows` of the digits.
fn draw(rng: &mut Rng, digits: &(Tensor, Vec<usize>), rows: &[usize]) -> Box<dyn Task> {
    if rng.uniform_f64() < 0.5 {
        let dim = 8 + rng.below(25);
        Box::new(Quadratic::sample(dim, 0.03, rng))
    } else {
        let pick: Vec<usize> = (0..128).map(|_| rows[rng.below(rows.len())]).collect();
        let hidden = [8, 16, 32][rng.below(3)];
        let seed = rng.below(1 << 30) as u64;
        Box::new(
            MlpClassifier::new(&digits.0, &digits.1, &pick, hidden, seed).expect("rows in range"),
        )
    }
}

/// Mean log loss and median final loss of `opt` over `tasks`, `steps` steps each.
fn score(tasks: &[Box<dyn Task>], opt: &dyn GradientTransformation, steps: usize) -> (f64, f64) {
    let runs: Vec<Vec<f64>> = tasks
        .iter()
        .map(|t| run_task(t.as_ref(), opt, steps).expect("run"))
        .collect();
    let mean = runs.iter().map(|r| mean_log_loss(r)).sum::<f64>() / runs.len() as f64;
    let mut last: Vec<f64> = runs.iter().map(|r| *r.last().expect("losses")).collect();
    last.sort_by(f64::total_cmp);
    (mean, last[last.len() / 2])
}

fn compare(name: &str, tasks: &[Box<dyn Task>], learned: &LearnedOptimizer, steps: usize) {
    println!("\n{name}: {} tasks, {steps} steps (mean ln(f_t/f_0) over the run, lower is better; median final loss)", tasks.len());
    let (m, f) = score(tasks, learned, steps);
    println!("  learned            mean ln ratio {m:8.3}   final {f:.3e}");
    let mut best = (f64::INFINITY, 0.0, 0.0);
    for lr in ADAM_RATES {
        let (m, f) = score(tasks, &Adam::new(lr), steps);
        println!("  adam lr={lr:<8}    mean ln ratio {m:8.3}   final {f:.3e}");
        if m < best.0 {
            best = (m, f, lr);
        }
    }
    println!(
        "  best adam: lr={} (mean ln ratio {:.3}, final {:.3e})",
        best.2, best.0, best.1
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().map_or_else(
        || repo().join("examples/learned-optimizer.safetensors"),
        PathBuf::from,
    );
    let meta_steps: usize = args.next().map_or(Ok(600), |s| s.parse())?;
    let digits = read_classification_csv(&std::fs::read_to_string(
        repo().join("data/sklearn/digits.csv"),
    )?)?;
    let wine = read_classification_csv(&std::fs::read_to_string(
        repo().join("data/sklearn/wine.csv"),
    )?)?;
    // rows 0..1400 of the digits for meta-training, the rest held out
    let (train_rows, held_rows): (Vec<usize>, Vec<usize>) =
        ((0..1400).collect(), (1400..digits.1.len()).collect());

    let config = MetaTrainConfig {
        meta_steps,
        ..MetaTrainConfig::default()
    };
    let start = Instant::now();
    let mut window = Vec::new();
    let net = meta_train(
        &mut |rng| draw(rng, &digits, &train_rows),
        &config,
        |step, loss| {
            window.push(loss);
            if step % 25 == 0 {
                let mean = window.iter().sum::<f64>() / window.len() as f64;
                println!(
                    "meta-step {step:4}: mean meta-loss of the last {} {mean:8.3} ({:.0} s)",
                    window.len(),
                    start.elapsed().as_secs_f64()
                );
                window.clear();
            }
        },
    )?;
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "meta-training: {meta_steps} meta-steps of {} unrolled steps in {seconds:.0} s",
        config.unroll
    );
    let metadata = HashMap::from([
        ("lr".to_string(), config.lr.to_string()),
        (
            "features".to_string(),
            "g, m0.5, m0.9, m0.99 over sqrt(v0.999)+1e-8 (bias-corrected)".to_string(),
        ),
        ("meta_steps".to_string(), meta_steps.to_string()),
        ("unroll".to_string(), config.unroll.to_string()),
    ]);
    net.save(&out, &metadata)?;
    println!("wrote {}", out.display());

    let learned = LearnedOptimizer::new(net, config.lr);
    let untrained = LearnedOptimizer::new(
        gradus_optim::LearnedOptimizerNet::new(config.hidden, config.seed),
        config.lr,
    );
    let mut rng = Rng::seed(1234);
    let quadratics: Vec<Box<dyn Task>> = (0..16)
        .map(|_| Box::new(Quadratic::sample(8 + rng.below(25), 0.03, &mut rng)) as Box<dyn Task>)
        .collect();
    let mlps: Vec<Box<dyn Task>> = (0..8)
        .map(|i| {
            let pick: Vec<usize> = (0..128)
                .map(|_| held_rows[rng.below(held_rows.len())])
                .collect();
            Box::new(MlpClassifier::new(&digits.0, &digits.1, &pick, 16, 900 + i).expect("rows"))
                as Box<dyn Task>
        })
        .collect();
    let all: Vec<usize> = (0..wine.1.len()).collect();
    let outside: Vec<Box<dyn Task>> = (0..4)
        .map(|i| {
            Box::new(MlpClassifier::new(&wine.0, &wine.1, &all, 64, 700 + i).expect("rows"))
                as Box<dyn Task>
        })
        .collect();
    let (u, _) = score(&quadratics, &untrained, 100);
    println!("\nuntrained network (Adam-like), held-out quadratics: mean ln ratio {u:.3}");
    compare("held-out quadratics (family)", &quadratics, &learned, 100);
    compare(
        "held-out digits MLPs (family, unseen rows)",
        &mlps,
        &learned,
        100,
    );
    compare(
        "wine MLP, 64 hidden, 400 steps (outside the family)",
        &outside,
        &learned,
        400,
    );
    Ok(())
}
