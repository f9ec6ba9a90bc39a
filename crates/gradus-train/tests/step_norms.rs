//! The gradient norms a run reports for each step (to observers, as `steps.csv` gets them) equal
//! the norms computed directly from that step's gradients on the host, one running sum in f64 per
//! layer (within 1e-12: the trainer adds in 32 partial sums, a different rounding order), whatever
//! the interval of its host reads.

use gradus_data::{BatchMode, Dataset, Targets};
use gradus_nn::layers::{Activation, Linear, Sequential};
use gradus_nn::{Module, Param};
use gradus_optim::{Adam, Optimizer, Schedule};
use gradus_tensor::{DType, Rng, Tensor};
use gradus_train::diagnostics::layer_of;
use gradus_train::observer::{SharedObserver, StepRecord, TrainObserver};
use gradus_train::task::Task;
use gradus_train::{TrainOptions, Trainer};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Each layer's gradient norm, summed serially in f64 on the host.
type LayerNorms = Vec<(String, f64)>;

fn direct_norms(params: &[(String, Param)]) -> LayerNorms {
    let mut layers: Vec<(String, f64)> = Vec::new();
    for (name, p) in params {
        let sq: f64 = p
            .tensor()
            .grad()
            .unwrap()
            .to_vec_f64()
            .iter()
            .fold(0.0, |acc, g| acc + g * g);
        match layers.last_mut() {
            Some((l, acc)) if l == layer_of(name) => *acc += sq,
            _ => layers.push((layer_of(name).to_string(), sq)),
        }
    }
    layers.into_iter().map(|(l, s)| (l, s.sqrt())).collect()
}

struct Steps(Arc<Mutex<Vec<StepRecord>>>);
impl TrainObserver for Steps {
    fn on_step(&mut self, s: &StepRecord) -> gradus_train::Result<()> {
        self.0.lock().unwrap().push(s.clone());
        Ok(())
    }
}

fn close(got: f64, want: f64, what: &str) {
    assert!(want > 0.0 && want.is_finite(), "{what}: {want}");
    assert!(
        (got - want).abs() <= 1e-12 * want,
        "{what}: reported {got}, direct {want}"
    );
}

#[test]
fn every_reported_step_norm_is_the_norm_of_that_steps_gradients() {
    let mut rng = Rng::seed(11);
    // 40x37 = 1480 weights: many rounds of the 32 partial sums, and a ragged tail
    let model = Sequential::new()
        .push(Linear::new(40, 37, true, &mut rng))
        .push(Activation::Tanh)
        .push(Linear::new(37, 3, true, &mut rng));
    let params: Vec<Tensor> = model.parameters().iter().map(|p| p.tensor()).collect();
    let n = 60;
    let x = Rng::seed(12)
        .normal(&[n, 40], 0.0, 1.0, DType::F32)
        .to_vec::<f32>()
        .unwrap();
    let targets = Targets::Classes {
        labels: (0..n as u32).map(|i| i % 3).collect(),
        num_classes: 3,
    };
    let data = Dataset::new(x, vec![40], targets).unwrap();
    let steps: Arc<Mutex<Vec<StepRecord>>> = Arc::default();
    let direct: Arc<Mutex<Vec<LayerNorms>>> = Arc::default();
    let mut t = Trainer {
        model: Box::new(model),
        optimizer: Optimizer::new(Adam::new(0.01), &params).unwrap(),
        schedule: Schedule::Constant(0.01),
        plateau: None,
        task: Task::Classification { classes: 3 },
        options: TrainOptions {
            quiet: true,
            epochs: 2,
            batch: BatchMode::MiniBatch {
                size: 16,
                drop_last: false,
            },
            sync_every: 3,
            observers: vec![SharedObserver::new(Steps(steps.clone()))],
            ..TrainOptions::default()
        },
        model_metadata: BTreeMap::new(),
    };
    let seen = direct.clone();
    t.set_gradient_hook(move |p: &[(String, Param)], _step: u64| {
        seen.lock().unwrap().push(direct_norms(p));
        Ok(())
    });
    let dir = tempfile::tempdir().unwrap();
    t.fit(&data, None, dir.path(), false).unwrap();

    let (steps, direct) = (steps.lock().unwrap(), direct.lock().unwrap());
    assert_eq!(steps.len(), 8, "4 batches an epoch, 2 epochs");
    assert_eq!(direct.len(), steps.len());
    for (s, want) in steps.iter().zip(direct.iter()) {
        let got = &s.grad_norms.per_layer;
        assert_eq!(got.len(), 2, "step {}", s.step);
        for ((layer, g), (l, w)) in got.iter().zip(want) {
            assert_eq!(layer, l);
            close(*g, *w, &format!("step {} layer {layer}", s.step));
        }
        let global = want.iter().map(|(_, w)| w * w).sum::<f64>().sqrt();
        close(
            s.grad_norms.global,
            global,
            &format!("step {} global", s.step),
        );
    }
}
