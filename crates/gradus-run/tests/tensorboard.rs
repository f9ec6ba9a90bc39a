//! `[train] tensorboard = true`: the run writes one event file into `RUN/tensorboard/` whose
//! records pass their CRCs and whose values are the ones the run wrote to `metrics.csv`
//! (`tests/python/test_tensorboard.py` reads the same kind of file with TensorBoard's own reader).

use gradus_run::{Config, RunBuilder};
use gradus_train::tensorboard::event_file::read_records;
use gradus_train::tensorboard::proto::{
    Event, EventWhat, HParamsData, HParamsPluginData, ValueKind,
};
use prost::Message;
use std::path::Path;

fn config(path: &Path) -> Config {
    let text = format!(
        r#"
seed = 1
epochs = 3
[data]
format = "csv"
path = {path:?}
target = "price"
features = ["area"]
task = "regression"
validation = 0.2
standardize = true
[model]
kind = "linear"
[optimizer]
name = "sgd"
lr = 0.05
[batch]
size = 8
[train]
tensorboard = true
"#,
        path = path.to_str().expect("UTF-8")
    );
    Config::from_toml_str(&text).expect("a valid config")
}

#[test]
fn the_event_file_holds_the_runs_values() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/house-prices.csv");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut run = RunBuilder::new(config(&data))
        .out_dir(&out)
        .quiet(true)
        .build()
        .unwrap();
    let outcome = run.train().unwrap();
    let files: Vec<_> = std::fs::read_dir(out.join("tensorboard"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("events.out.tfevents."), "{name}");
    let events: Vec<Event> = read_records(&std::fs::read(&files[0]).unwrap())
        .unwrap()
        .iter()
        .map(|r| Event::decode(&r[..]).unwrap())
        .collect();
    let values = |tag: &str| -> Vec<(i64, f32)> {
        let mut found = Vec::new();
        for e in &events {
            if let Some(EventWhat::Summary(s)) = &e.what {
                for v in &s.value {
                    if let (true, Some(ValueKind::SimpleValue(x))) = (v.tag == tag, &v.value) {
                        found.push((e.step, *x));
                    }
                }
            }
        }
        found
    };
    // one loss per step, at steps 1..=N
    let steps = outcome.summary.steps as i64;
    let losses = values("train/loss");
    assert_eq!(
        losses.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        (1..=steps).collect::<Vec<_>>()
    );
    assert_eq!(
        values("grad_norm/(root)").len(),
        steps as usize,
        "the linear model's one layer"
    );
    // the epoch values are metrics.csv's, at the step each epoch ended on
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let rows: Vec<Vec<f64>> = csv
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .map(|x| x.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let epoch_losses = values("epoch/train_loss");
    assert_eq!(epoch_losses.len(), 3);
    for (row, (step, loss)) in rows.iter().zip(&epoch_losses) {
        assert_eq!(*step, row[1] as i64);
        assert_eq!(*loss, row[2] as f32);
    }
    assert_eq!(values("epoch/val_loss")[2].1, rows[2][3] as f32);
    // weight histograms: one per parameter per epoch, counting every element
    let histograms: Vec<(String, f64)> = events
        .iter()
        .filter_map(|e| match &e.what {
            Some(EventWhat::Summary(s)) => Some(s.value.clone()),
            _ => None,
        })
        .flatten()
        .filter_map(|v| match v.value {
            Some(ValueKind::Histo(h)) => Some((v.tag, h.num)),
            _ => None,
        })
        .collect();
    assert_eq!(
        histograms
            .iter()
            .filter(|(t, _)| t == "weights/weight")
            .count(),
        3
    );
    assert!(histograms.contains(&("gradients/bias".to_string(), 1.0)));
    // the hparams plugin: experiment, session start with the config's values, a successful end
    let hparams: Vec<HParamsPluginData> = events
        .iter()
        .filter_map(|e| match &e.what {
            Some(EventWhat::Summary(s)) => s.value[0].metadata.clone(),
            _ => None,
        })
        .map(|m| HParamsPluginData::decode(&m.plugin_data.unwrap().content[..]).unwrap())
        .collect();
    assert_eq!(hparams.len(), 3);
    let Some(HParamsData::SessionStartInfo(start)) = &hparams[1].data else {
        panic!("{hparams:?}")
    };
    assert!(start.hparams.contains_key("optimizer.lr"));
    let Some(HParamsData::SessionEndInfo(end)) = &hparams[2].data else {
        panic!("{hparams:?}")
    };
    assert_eq!(end.status, 1);
}
