//! `summary.json`'s `time`: the phases of a run are all counted, never overlap, and a phase the
//! run does not have (validation without a validation set) stays at zero.

use gradus_data::{BatchMode, Dataset, Targets};
use gradus_nn::layers::Linear;
use gradus_nn::Module;
use gradus_optim::{Optimizer, Schedule, Sgd};
use gradus_tensor::{DType, Rng, Tensor};
use gradus_train::task::Task;
use gradus_train::timing::PhaseTimes;
use gradus_train::{TrainOptions, Trainer};
use std::collections::BTreeMap;

fn line(n: usize, seed: u64) -> Dataset {
    let mut rng = Rng::seed(seed);
    let x: Vec<f32> = (0..n)
        .map(|_| (rng.uniform_f64() * 2.0 - 1.0) as f32)
        .collect();
    let y: Vec<f32> = x.iter().map(|v| 2.0 * v + 0.5).collect();
    Dataset::new(x, vec![1], Targets::Values { values: y, dim: 1 }).unwrap()
}

fn trainer() -> Trainer {
    let model: Box<dyn Module> = Box::new(Linear::new(1, 1, true, &mut Rng::seed(0)));
    let params: Vec<Tensor> = model.parameters().iter().map(|p| p.tensor()).collect();
    Trainer {
        model,
        optimizer: Optimizer::new(Sgd::new(0.1), &params).unwrap(),
        schedule: Schedule::Constant(0.1),
        plateau: None,
        task: Task::Regression { outputs: 1 },
        options: TrainOptions {
            epochs: 3,
            batch: BatchMode::MiniBatch {
                size: 8,
                drop_last: false,
            },
            dtype: DType::F32,
            quiet: true,
            ..TrainOptions::default()
        },
        model_metadata: BTreeMap::new(),
    }
}

fn phases(t: &PhaseTimes) -> [f64; 5] {
    [t.data, t.step, t.diagnostics, t.validation, t.writing]
}

#[test]
fn every_phase_of_a_run_is_counted_within_its_total() {
    let dir = tempfile::tempdir().unwrap();
    let (train, val) = (line(64, 1), line(16, 2));
    let summary = trainer()
        .fit(&train, Some(&val), dir.path(), false)
        .unwrap();
    let t = &summary.time;
    // each phase ran (24 steps, 3 validations, 3 checkpoints), and they do not overlap
    for (name, s) in ["data", "step", "diagnostics", "validation", "writing"]
        .iter()
        .zip(phases(t))
    {
        assert!(s > 0.0, "{name} was not counted: {t:?}");
    }
    let sum: f64 = phases(t).iter().sum();
    assert!(
        sum <= t.total,
        "the phases add up to more than the run: {t:?}"
    );
    assert!((t.other() - (t.total - sum)).abs() < 1e-12);
    // summary.json carries the same figures
    let json = std::fs::read_to_string(dir.path().join("summary.json")).unwrap();
    let written: gradus_train::Summary = serde_json::from_str(&json).unwrap();
    assert_eq!(&written.time, t);
    // and the report shows them
    let report = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(report.contains(&t.line()), "no time row in the report");
}

#[test]
fn a_run_without_validation_spends_nothing_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let summary = trainer()
        .fit(&line(64, 1), None, dir.path(), false)
        .unwrap();
    assert_eq!(summary.time.validation, 0.0);
    assert!(summary.time.step > 0.0);
}

#[test]
fn a_summary_written_before_the_breakdown_existed_still_reads() {
    // summary.json files of earlier versions have no `time`
    let dir = tempfile::tempdir().unwrap();
    let summary = trainer()
        .fit(&line(16, 1), None, dir.path(), false)
        .unwrap();
    let mut v: serde_json::Value = serde_json::to_value(&summary).unwrap();
    v.as_object_mut().unwrap().remove("time");
    let old: gradus_train::Summary = serde_json::from_value(v).unwrap();
    assert_eq!(old.time, PhaseTimes::default());
}
