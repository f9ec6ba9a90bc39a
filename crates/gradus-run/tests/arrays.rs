//! `RunBuilder::data`: a run on samples in memory (the Python package's `fit(X, y)`).

use gradus_data::{Dataset, Targets};
use gradus_run::{Config, RunBuilder};

fn config(task: &str, kind: &str, extra: &str) -> Config {
    Config::from_toml_str(&format!(
        "epochs = 30\nseed = 3\n[data]\nformat = \"csv\"\npath = \"arrays\"\ntarget = \"y\"\n\
         task = \"{task}\"\n{extra}\n[model]\nkind = \"{kind}\"\n\
         [optimizer]\nname = \"adam\"\nlr = 0.1\n[batch]\nmode = \"full\"\n[train]\ncheckpoint_every = 0\n"
    ))
    .unwrap()
}

/// 40 points on a line, labelled by the side of x = 0.5 (shifted by 10: standardization matters)
fn two_sides() -> Dataset {
    let x: Vec<f32> = (0..40).map(|i| 10.0 + i as f32 / 40.0).collect();
    let labels = x.iter().map(|&v| u32::from(v > 10.5)).collect();
    Dataset::new(
        x,
        vec![1],
        Targets::Classes {
            labels,
            num_classes: 2,
        },
    )
    .unwrap()
}

#[test]
fn trains_on_arrays_with_a_held_out_part_and_standardization() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(
        "binary",
        "logistic",
        "validation = 0.25\nstandardize = true",
    );
    let mut run = RunBuilder::new(c)
        .data(two_sides(), None)
        .out_dir(dir.path())
        .quiet(true)
        .build()
        .unwrap();
    assert_eq!((run.train.len(), run.val.as_ref().unwrap().len()), (30, 10));
    let scaler = run
        .spec
        .scaler
        .as_ref()
        .expect("standardize = true fits a scaler");
    let mut x = vec![10.0f32];
    scaler.transform_slice(&mut x).unwrap();
    assert!(x[0] < -1.0, "10.0 is below the training mean: {}", x[0]);
    let (before, _) = run.trainer.evaluate(&run.train).unwrap();
    run.train().unwrap();
    let (after, metrics) = run.trainer.evaluate(&run.train).unwrap();
    assert!(after < 0.5 * before, "{before} -> {after}");
    let accuracy = metrics.iter().find(|(k, _)| k == "accuracy").unwrap().1;
    assert!(accuracy > 0.9, "{metrics:?}");
}

#[test]
fn a_binary_task_on_three_classes_is_refused_naming_the_key() {
    let data = Dataset::new(
        vec![0.0, 1.0, 2.0],
        vec![1],
        Targets::Classes {
            labels: vec![0, 1, 2],
            num_classes: 3,
        },
    )
    .unwrap();
    let err = RunBuilder::new(config("binary", "logistic", ""))
        .data(data, None)
        .quiet(true)
        .build()
        .err()
        .expect("three classes are not binary")
        .to_string();
    assert!(
        err.contains("data.task = \"binary\"") && err.contains("3 classes"),
        "{err}"
    );
}
