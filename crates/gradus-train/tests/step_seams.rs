//! The seams of a training step: the gradient hook sees and changes every step's gradients, and
//! its error stops the run; host reads at an interval (`sync_every`) record what a read every step
//! records, and still catch a divergence.

use gradus_data::{BatchMode, Dataset, Targets};
use gradus_nn::layers::{Activation, Linear, Sequential};
use gradus_nn::{Module, Param};
use gradus_optim::{Adam, Optimizer, Schedule, Sgd};
use gradus_tensor::{DType, Rng, Tensor};
use gradus_train::batch::to_device;
use gradus_train::diagnostics::layer_of;
use gradus_train::task::Task;
use gradus_train::{Summary, TrainError, TrainOptions, Trainer};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// 3 classes from 6 standard normal features.
fn classes(n: usize, seed: u64) -> Dataset {
    let mut rng = Rng::seed(seed);
    let x = rng
        .normal(&[n, 6], 0.0, 1.0, DType::F32)
        .to_vec::<f32>()
        .unwrap();
    let labels = (0..n)
        .map(|i| (x[i * 6] + x[i * 6 + 1] > 0.0) as u32 + (x[i * 6 + 2] > 0.5) as u32)
        .collect();
    let targets = Targets::Classes {
        labels,
        num_classes: 3,
    };
    Dataset::new(x, vec![6], targets).unwrap()
}

/// `y = 2 x0 - x3 + 0.5` on 6 standard normal features.
fn line(n: usize) -> Dataset {
    let x = Rng::seed(9)
        .normal(&[n, 6], 0.0, 1.0, DType::F32)
        .to_vec::<f32>()
        .unwrap();
    let y = (0..n)
        .map(|i| x[i * 6] * 2.0 - x[i * 6 + 3] + 0.5)
        .collect();
    Dataset::new(x, vec![6], Targets::Values { values: y, dim: 1 }).unwrap()
}

fn mlp() -> Box<dyn Module> {
    let mut r = Rng::seed(3);
    Box::new(
        Sequential::new()
            .push(Linear::new(6, 16, true, &mut r))
            .push(Activation::ReLU)
            .push(Linear::new(16, 3, true, &mut r)),
    )
}

fn linear(dtype: DType) -> Box<dyn Module> {
    let m = Linear::new(6, 1, true, &mut Rng::seed(4));
    m.cast(dtype).unwrap();
    Box::new(m)
}

fn tensors(m: &dyn Module) -> Vec<Tensor> {
    m.parameters().iter().map(|p| p.tensor()).collect()
}

fn trainer(model: Box<dyn Module>, adam: bool, lr: f64, task: Task, o: TrainOptions) -> Trainer {
    let params = tensors(model.as_ref());
    let optimizer = if adam {
        Optimizer::new(Adam::new(lr), &params).unwrap()
    } else {
        Optimizer::new(Sgd::new(lr), &params).unwrap()
    };
    Trainer {
        model,
        optimizer,
        schedule: Schedule::Constant(lr),
        plateau: None,
        task,
        options: TrainOptions { quiet: true, ..o },
        model_metadata: BTreeMap::new(),
    }
}

fn bits(t: &Trainer) -> Vec<Vec<u64>> {
    tensors(t.model.as_ref())
        .iter()
        .map(|p| p.to_vec_f64().iter().map(|v| v.to_bits()).collect())
        .collect()
}

/// A run's files without the wall-clock column, and its summary.
fn fit(t: &mut Trainer, data: &Dataset, val: Option<&Dataset>, dir: &Path) -> Summary {
    t.fit(data, val, dir, false).unwrap()
}

fn metrics_without_seconds(dir: &Path) -> String {
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    csv.lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n")
        .collect()
}

fn mlp_options(sync_every: u64) -> TrainOptions {
    TrainOptions {
        epochs: 3,
        batch: BatchMode::MiniBatch {
            size: 7,
            drop_last: false,
        },
        diagnostics_every: 3,
        checkpoint_every_steps: 5,
        // thresholds that warn on this run: the warnings must come out the same too
        watch: gradus_train::diagnostics::GradientWatch::new(1e-1, 3, 0.5),
        sync_every,
        ..TrainOptions::default()
    }
}

/// Scales every gradient by `c`.
fn scale_gradients(params: &[(String, Param)], c: f64) -> gradus_train::Result<()> {
    for (_, p) in params {
        let t = p.tensor();
        if let Some(g) = t.grad() {
            t.set_grad(Some(g.mul_scalar(c)?));
        }
    }
    Ok(())
}

/// A step the hook saw and the parameter names it got.
type StepSeen = (u64, Vec<String>);

#[test]
fn a_gradient_hook_sees_every_step_and_halving_the_gradients_halves_the_sgd_step() {
    let data = line(40);
    let options = || TrainOptions {
        epochs: 2,
        dtype: DType::F64,
        batch: BatchMode::MiniBatch {
            size: 6,
            drop_last: false,
        },
        checkpoint_every: 0,
        ..TrainOptions::default()
    };
    let task = Task::Regression { outputs: 1 };
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut halved_lr = trainer(linear(DType::F64), false, 0.05, task, options());
    fit(&mut halved_lr, &data, None, d1.path());

    let seen: Arc<Mutex<Vec<StepSeen>>> = Arc::default();
    let log = seen.clone();
    let mut hooked = trainer(linear(DType::F64), false, 0.1, task, options());
    hooked.set_gradient_hook(move |params: &[(String, Param)], step: u64| {
        assert!(params.iter().all(|(_, p)| p.tensor().grad().is_some()));
        let names = params.iter().map(|(n, _)| n.clone()).collect();
        log.lock().unwrap().push((step, names));
        scale_gradients(params, 0.5)
    });
    let summary = fit(&mut hooked, &data, None, d2.path());

    assert_eq!(summary.steps, 14, "7 batches of 40 samples, 2 epochs");
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.iter().map(|s| s.0).collect::<Vec<_>>(),
        (1..=14).collect::<Vec<u64>>(),
        "every step, in order"
    );
    assert!(seen.iter().all(|s| s.1 == ["weight", "bias"]));
    assert_eq!(
        bits(&hooked),
        bits(&halved_lr),
        "0.5 g at lr 0.1 = g at lr 0.05"
    );
    // the norms in metrics.csv are measured after the hook: half the unhooked run's
    let norm = |d: &Path| -> f64 {
        let csv = std::fs::read_to_string(d.join("metrics.csv")).unwrap();
        csv.lines()
            .nth(1)
            .unwrap()
            .split(',')
            .nth(4)
            .unwrap()
            .parse()
            .unwrap()
    };
    let (hooked_norm, plain_norm) = (norm(d2.path()), norm(d1.path()));
    assert!(
        (hooked_norm - 0.5 * plain_norm).abs() <= 1e-12 * plain_norm,
        "{hooked_norm} vs half of {plain_norm}"
    );
}

#[test]
fn an_erroring_hook_stops_the_run_with_its_error() {
    let calls = Arc::new(Mutex::new(0u64));
    let count = calls.clone();
    let dir = tempfile::tempdir().unwrap();
    let mut t = trainer(
        mlp(),
        true,
        0.01,
        Task::Classification { classes: 3 },
        mlp_options(1),
    );
    t.set_gradient_hook(move |_: &[(String, Param)], step: u64| {
        *count.lock().unwrap() += 1;
        if step == 3 {
            return Err(TrainError::Setup("all-reduce lost rank 2".into()));
        }
        Ok(())
    });
    let start = bits(&t);
    let e = t.fit(&classes(50, 1), None, dir.path(), false).unwrap_err();
    assert!(
        matches!(&e, TrainError::Setup(m) if m == "all-reduce lost rank 2"),
        "{e}"
    );
    assert_eq!(*calls.lock().unwrap(), 3, "no step after the error");
    assert_ne!(bits(&t), start, "steps 1 and 2 were taken");
    assert!(!dir.path().join("model.safetensors").exists());
}

/// The terms added as `Tensor::sum_squares` documents it: term `i` into partial sum `i mod 16`,
/// then the partials pairwise (`p[j] + p[j + 8]`, `+ 4`, `+ 2`, `+ 1`).
fn in_lanes(terms: impl Iterator<Item = f64>) -> f64 {
    let mut p = [0.0f64; 16];
    for (i, t) in terms.enumerate() {
        p[i % 16] += t;
    }
    for half in [8, 4, 2, 1] {
        for j in 0..half {
            p[j] += p[j + half];
        }
    }
    p[0]
}

/// The old step, written out with host reads: the epoch means of the loss and the gradient norms
/// and the update ratios as the trainer recorded them before the step had stages.
fn host_reference(data: &Dataset, options: &TrainOptions) -> Vec<[f64; 3]> {
    let model = mlp();
    let params = tensors(model.as_ref());
    let mut opt = Optimizer::new(Adam::new(0.01), &params).unwrap();
    let task = Task::Classification { classes: 3 };
    let batcher =
        gradus_train::plan::epoch_batcher(data.len(), options.batch, options.seed, false).unwrap();
    let named = model.named_parameters();
    let mut step = 0u64;
    let mut epochs = Vec::new();
    for epoch in 1..=options.epochs {
        let (mut loss_sum, mut samples, mut norm_sum, mut ratio_sum) = (0.0, 0usize, 0.0, 0.0);
        let batches = batcher.epoch(epoch as u64);
        let mut ratios = 0;
        for (i, idx) in batches.iter().enumerate() {
            step += 1;
            let b = to_device(data, idx, &task, options.dtype).unwrap();
            let loss = task.loss(&model.forward(&b.x).unwrap(), &b.y).unwrap();
            let value = loss.item().unwrap();
            loss.backward().unwrap();
            let mut layers: Vec<(String, f64)> = Vec::new();
            for (name, p) in &named {
                let g = p.tensor().grad().unwrap().to_vec::<f32>().unwrap();
                let sq = in_lanes(g.iter().map(|&x| (x as f64) * (x as f64)));
                match layers.last_mut() {
                    Some((l, acc)) if l == layer_of(name) => *acc += sq,
                    _ => layers.push((layer_of(name).to_string(), sq)),
                }
            }
            let norm = layers.iter().map(|(_, s)| s).sum::<f64>().sqrt();
            let measure = i == 0 || step.is_multiple_of(options.diagnostics_every);
            let before: Vec<Vec<f64>> = params.iter().map(|p| p.to_vec_f64()).collect();
            opt.step().unwrap();
            opt.zero_grad();
            if measure {
                let (mut delta, mut base) = (0.0, 0.0);
                for (b, a) in before.iter().zip(&params) {
                    let a = a.to_vec_f64();
                    delta += in_lanes(b.iter().zip(&a).map(|(x, y)| (y - x) * (y - x)));
                    base += in_lanes(b.iter().map(|x| x * x));
                }
                ratio_sum += (delta / base).sqrt();
                ratios += 1;
            }
            loss_sum += value * idx.len() as f64;
            samples += idx.len();
            norm_sum += norm;
        }
        epochs.push([
            loss_sum / samples as f64,
            norm_sum / batches.len() as f64,
            ratio_sum / ratios as f64,
        ]);
    }
    epochs
}

#[test]
fn reading_every_step_records_what_the_host_loop_recorded_bit_for_bit() {
    let data = classes(50, 1);
    let options = mlp_options(1);
    let dir = tempfile::tempdir().unwrap();
    let mut t = trainer(
        mlp(),
        true,
        0.01,
        Task::Classification { classes: 3 },
        options.clone(),
    );
    fit(&mut t, &data, None, dir.path());
    let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    let reference = host_reference(&data, &options);
    for (row, expected) in csv.lines().skip(1).zip(&reference) {
        let cols: Vec<&str> = row.split(',').collect();
        // train_loss, grad_norm and update_ratio, as the file prints them (shortest round trip)
        let got = [cols[2], cols[4], cols[6]].map(|c| c.parse::<f64>().unwrap());
        assert_eq!(got.map(f64::to_bits), expected.map(f64::to_bits), "{row}");
    }
    assert_eq!(csv.lines().count(), 1 + reference.len());
}

#[test]
fn reading_every_8_steps_records_the_same_run() {
    let (train, val) = (classes(50, 1), classes(20, 2));
    let task = Task::Classification { classes: 3 };
    let run = |sync_every| {
        let dir = tempfile::tempdir().unwrap();
        let mut t = trainer(mlp(), true, 0.01, task, mlp_options(sync_every));
        let summary = fit(&mut t, &train, Some(&val), dir.path());
        (bits(&t), metrics_without_seconds(dir.path()), summary)
    };
    let (every_step, metrics, summary) = run(1);
    assert!(!summary.warnings.is_empty(), "the watch warns on this run");
    for sync_every in [8, 3, 1000] {
        let (params, m, s) = run(sync_every);
        assert_eq!(params, every_step, "sync_every {sync_every}: parameters");
        // the step values are read in step order and summed on the host as before, so the epoch
        // means are not only within 1e-6 but equal
        assert_eq!(m, metrics, "sync_every {sync_every}: metrics.csv");
        assert_eq!(s.warnings, summary.warnings, "sync_every {sync_every}");
        assert_eq!((s.steps, s.stopped), (summary.steps, summary.stopped));
    }
}

/// The divergence error of a run of SGD at a learning rate far too high, and the steps whose
/// gradients the run computed (so how far it got before it noticed).
fn diverging_run(sync_every: u64, poison_step: Option<u64>) -> (TrainError, Vec<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let options = TrainOptions {
        epochs: 50,
        dtype: DType::F64,
        batch: BatchMode::MiniBatch {
            size: 5,
            drop_last: false,
        },
        divergence_window: 10,
        sync_every,
        ..TrainOptions::default()
    };
    let lr = if poison_step.is_some() { 0.01 } else { 3.0 };
    let mut t = trainer(
        linear(DType::F64),
        false,
        lr,
        Task::Regression { outputs: 1 },
        options,
    );
    let steps: Arc<Mutex<Vec<u64>>> = Arc::default();
    let log = steps.clone();
    t.set_gradient_hook(move |params: &[(String, Param)], step: u64| {
        log.lock().unwrap().push(step);
        match poison_step {
            Some(s) if s == step => scale_gradients(params, f64::NAN),
            _ => Ok(()),
        }
    });
    let e = t.fit(&line(40), None, dir.path(), false).unwrap_err();
    let steps = steps.lock().unwrap().clone();
    (e, steps)
}

#[test]
fn a_divergence_is_caught_at_the_next_read_with_the_step_it_began_at() {
    // the loss runs away: caught at step 4 when read every step, at step 8 when read every 8
    let (e1, steps1) = diverging_run(1, None);
    let (e8, steps8) = diverging_run(8, None);
    assert!(matches!(e1, TrainError::Diverged { step: 4, .. }), "{e1}");
    assert!(matches!(e8, TrainError::Diverged { step: 4, .. }), "{e8}");
    assert_eq!(
        e1.to_string(),
        e8.to_string(),
        "the same step, norms and learning rate"
    );
    assert_eq!(steps1, (1..=4).collect::<Vec<_>>());
    assert_eq!(
        steps8,
        (1..=8).collect::<Vec<_>>(),
        "steps 4 to 7 ran unguarded"
    );

    // a gradient made NaN by the hook at step 2: the guard sees the hooked gradients
    let (e, steps) = diverging_run(8, Some(2));
    assert!(
        matches!(&e, TrainError::Diverged { step: 2, what, .. } if what == "the gradient is not finite"),
        "{e}"
    );
    assert_eq!(steps, (1..=8).collect::<Vec<_>>());
}

#[test]
fn reading_never_is_a_setup_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = trainer(
        linear(DType::F32),
        false,
        0.1,
        Task::Regression { outputs: 1 },
        TrainOptions {
            sync_every: 0,
            ..TrainOptions::default()
        },
    );
    let e = t.fit(&line(10), None, dir.path(), false).unwrap_err();
    assert!(
        matches!(&e, TrainError::Setup(m) if m.contains("sync_every = 0")),
        "{e}"
    );
}

#[test]
fn an_optimizer_error_names_the_parameter_by_its_module_path() {
    // the optimizer is built from plain tensors; the trainer names them after the model's
    // parameters when the run starts
    let data = classes(21, 1);
    let mut t = trainer(
        mlp(),
        false,
        0.1,
        Task::Classification { classes: 3 },
        mlp_options(1),
    );
    t.set_gradient_hook(|params: &[(String, Param)], _step: u64| {
        let (name, bias) = &params[3];
        assert_eq!(name, "2.bias");
        bias.tensor().set_grad(None);
        Ok(())
    });
    let dir = tempfile::tempdir().unwrap();
    let err = t
        .fit(&data, None, dir.path(), false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("parameter `2.bias` requires grad but has no gradient"),
        "{err}"
    );
}
