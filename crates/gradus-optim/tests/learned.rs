//! The learned optimizer: its step against a hand computation, its weights file, meta-training
//! against the untrained network, and the shipped weights on held-out tasks.

use gradus_optim::learned::tasks::{read_classification_csv, MlpClassifier, Quadratic, Task};
use gradus_optim::learned::{mean_log_loss, meta_train, run_task, MetaTrainConfig};
use gradus_optim::{GradientTransformation, LearnedOptimizer, LearnedOptimizerNet, OptimError};
use gradus_tensor::{Rng, Tensor};
use std::collections::HashMap;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gradus-learned-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A network of 2 hidden units with hand-picked weights.
fn tiny_net() -> LearnedOptimizerNet {
    let t = |v: Vec<f64>, s: &[usize]| Tensor::from_vec(v, s).unwrap();
    LearnedOptimizerNet {
        weights: [
            t(vec![1.0, -1.0, 0.5, 0.0, 0.0, 2.0, -0.5, 1.0], &[4, 2]),
            t(vec![0.1, -0.2], &[2]),
            t(vec![1.0, 0.5, -1.0, 2.0], &[2, 2]),
            t(vec![0.0, 0.3], &[2]),
            t(vec![0.2, -0.1, 0.4, 0.3], &[2, 2]),
            t(vec![0.05, -0.2], &[2]),
        ],
    }
}

/// The update of two steps equals the MLP computed by hand from the features.
#[test]
fn the_update_equals_a_hand_computation_of_the_mlp() {
    let opt = LearnedOptimizer::new(tiny_net(), 0.1);
    let p = Tensor::from_vec(vec![0.0f64], &[1]).unwrap();
    let mut state = opt.init(std::slice::from_ref(&p)).unwrap();
    let (g1, g2) = (0.4f64, -0.2f64);
    let mut u = vec![Tensor::from_vec(vec![g1], &[1]).unwrap()];
    opt.update(&mut u, &mut state, std::slice::from_ref(&p))
        .unwrap();
    let mut u = vec![Tensor::from_vec(vec![g2], &[1]).unwrap()];
    opt.update(&mut u, &mut state, std::slice::from_ref(&p))
        .unwrap();
    let got = u[0].item().unwrap();

    // by hand, step t = 2
    let ema = |b: f64| (b * (1.0 - b) * g1 + (1.0 - b) * g2) / (1.0 - b * b);
    let v = (0.999 * 0.001 * g1 * g1 + 0.001 * g2 * g2) / (1.0 - 0.999f64.powi(2));
    let r = v.sqrt() + 1e-8;
    let x = [g2 / r, ema(0.5) / r, ema(0.9) / r, ema(0.99) / r];
    let w1 = [[1.0, -1.0], [0.5, 0.0], [0.0, 2.0], [-0.5, 1.0]];
    let relu = |z: f64| z.max(0.0);
    let h1: Vec<f64> = (0..2)
        .map(|j| relu((0..4).map(|i| x[i] * w1[i][j]).sum::<f64>() + [0.1, -0.2][j]))
        .collect();
    let w2 = [[1.0, 0.5], [-1.0, 2.0]];
    let h2: Vec<f64> = (0..2)
        .map(|j| relu(h1[0] * w2[0][j] + h1[1] * w2[1][j] + [0.0, 0.3][j]))
        .collect();
    let w3 = [[0.2, -0.1], [0.4, 0.3]];
    let o: Vec<f64> = (0..2)
        .map(|j| h2[0] * w3[0][j] + h2[1] * w3[1][j] + [0.05, -0.2][j])
        .collect();
    let expected = -0.1 * (x[2] + o[0].tanh()) * (3.0 * (o[1] / 3.0).tanh()).exp();
    assert!(
        (got - expected).abs() < 1e-6 * expected.abs().max(1.0),
        "{got} vs {expected}"
    );
    assert_eq!(state.count, 2);
    assert_eq!(
        state.slot_names,
        ["exp_avg_0.5", "exp_avg_0.9", "exp_avg_0.99", "exp_avg_sq"]
    );
}

#[test]
fn weights_round_trip_through_a_safetensors_file() {
    let net = LearnedOptimizerNet::new(12, 7);
    let path = scratch("roundtrip").join("w.safetensors");
    net.save(
        &path,
        &HashMap::from([("lr".to_string(), "0.01".to_string())]),
    )
    .unwrap();
    let (back, meta) = LearnedOptimizerNet::load(&path).unwrap();
    assert_eq!(meta["lr"], "0.01");
    assert_eq!(back.hidden(), 12);
    for (a, b) in net.weights.iter().zip(&back.weights) {
        assert_eq!(a.shape(), b.shape());
        assert_eq!(a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
    }
}

#[test]
fn a_bad_weights_file_is_an_error_naming_the_file_and_the_tensor() {
    let dir = scratch("bad");
    let missing = dir.join("absent.safetensors");
    let err = LearnedOptimizer::from_file(&missing, 0.01).unwrap_err();
    assert!(matches!(err, OptimError::Weights { .. }));
    assert!(err.to_string().contains("absent.safetensors"), "{err}");

    let garbage = dir.join("garbage.safetensors");
    std::fs::write(&garbage, b"not a safetensors file").unwrap();
    let err = LearnedOptimizer::from_file(&garbage, 0.01)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("garbage.safetensors") && err.contains("not a safetensors file"),
        "{err}"
    );

    // w2 of the wrong shape: (8, 8) where b1 says 4 hidden units
    let mut net = LearnedOptimizerNet::new(4, 0);
    net.weights[2] = Tensor::zeros(&[8, 8], gradus_tensor::DType::F32);
    let shaped = dir.join("shaped.safetensors");
    net.save(&shaped, &HashMap::new()).unwrap();
    let err = LearnedOptimizer::from_file(&shaped, 0.01)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("shaped.safetensors")
            && err.contains("`w2` has shape [8, 8], expected [4, 4]"),
        "{err}"
    );
}

fn held_out_quadratics() -> Vec<Box<dyn Task>> {
    let mut rng = Rng::seed(99);
    (0..4)
        .map(|_| Box::new(Quadratic::sample(10, 0.1, &mut rng)) as Box<dyn Task>)
        .collect()
}

fn mean_score(tasks: &[Box<dyn Task>], opt: &dyn GradientTransformation, steps: usize) -> f64 {
    tasks
        .iter()
        .map(|t| mean_log_loss(&run_task(t.as_ref(), opt, steps).unwrap()))
        .sum::<f64>()
        / tasks.len() as f64
}

/// A small meta-training run lowers the meta-loss on held-out quadratics below the untrained
/// network's (the same network before meta-training, which steps like Adam at rate `lr`).
#[test]
fn meta_training_beats_the_untrained_network_on_held_out_quadratics() {
    let config = MetaTrainConfig {
        hidden: 8,
        unroll: 10,
        truncations: 2,
        meta_steps: 30,
        meta_lr: 1e-2,
        ..MetaTrainConfig::default()
    };
    let mut losses = Vec::new();
    let trained = meta_train(
        &mut |rng| Box::new(Quadratic::sample(10, 0.1, rng)),
        &config,
        |_, l| losses.push(l),
    )
    .unwrap();
    assert_eq!(losses.len(), 30);
    let tasks = held_out_quadratics();
    let before = mean_score(
        &tasks,
        &LearnedOptimizer::new(LearnedOptimizerNet::new(8, 0), config.lr),
        20,
    );
    let after = mean_score(&tasks, &LearnedOptimizer::new(trained, config.lr), 20);
    assert!(
        after < before - 0.1,
        "meta-loss after {after} not below before {before}"
    );
}

/// The shipped weights train a held-out quadratic and a small MLP on held-out digits rows.
#[test]
fn the_shipped_weights_train_held_out_tasks() {
    let (net, meta) =
        LearnedOptimizerNet::load(&repo().join("examples/learned-optimizer.safetensors")).unwrap();
    let lr: f64 = meta["lr"].parse().unwrap();
    let opt = LearnedOptimizer::new(net, lr);
    let mut rng = Rng::seed(4321);
    let quadratic = Quadratic::sample(20, 0.03, &mut rng);
    let losses = run_task(&quadratic, &opt, 100).unwrap();
    assert!(
        losses[100] < 0.05 * losses[0],
        "quadratic: {} -> {}",
        losses[0],
        losses[100]
    );

    let digits = read_classification_csv(
        &std::fs::read_to_string(repo().join("data/sklearn/digits.csv")).unwrap(),
    )
    .unwrap();
    let rows: Vec<usize> = (1500..1628).collect();
    let mlp = MlpClassifier::new(&digits.0, &digits.1, &rows, 16, 3).unwrap();
    let losses = run_task(&mlp, &opt, 100).unwrap();
    assert!(
        losses[100] < 0.3,
        "digits MLP: {} -> {}",
        losses[0],
        losses[100]
    );
}
