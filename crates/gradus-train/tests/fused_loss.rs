//! The trainer takes an unweighted binary task's loss (and the output its accuracy needs) from
//! the model's fused pass (`Module::fused_bce_with_logits`, logistic regression's one read of the
//! batch), and the run ends where the composed forward and loss take it.

use gradus_data::{BatchMode, Dataset, Targets as HostTargets};
use gradus_nn::layers::Linear;
use gradus_nn::Module;
use gradus_optim::{Adam, Optimizer, Schedule};
use gradus_tensor::{DType, Result, Rng, Tensor};
use gradus_train::task::Task;
use gradus_train::{TrainOptions, Trainer};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A `Linear` layer that counts its forward passes and fused losses; with `fuse` off it has no
/// fused loss (the trait's default), so the trainer composes forward and loss.
struct Counted {
    inner: Linear,
    fuse: bool,
    forwards: Arc<AtomicUsize>,
    fused: Arc<AtomicUsize>,
}

impl Module for Counted {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forwards.fetch_add(1, Ordering::Relaxed);
        self.inner.forward(x)
    }

    fn fused_bce_with_logits(
        &self,
        x: &Tensor,
        target: &Tensor,
    ) -> Option<Result<(Tensor, Tensor)>> {
        if !self.fuse {
            return None;
        }
        self.fused.fetch_add(1, Ordering::Relaxed);
        self.inner.fused_bce_with_logits(x, target)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![(String::new(), &self.inner)]
    }
}

/// 96 samples of 5 features, labels from a noisy linear rule.
fn data(seed: u64, weights: bool) -> Dataset {
    let (n, d) = (96, 5);
    let x = Tensor::randn(&[n, d], DType::F32, seed).to_vec_f64();
    let labels = (0..n)
        .map(|i| {
            let z: f64 = (0..d).map(|j| x[i * d + j] * (j as f64 - 2.0)).sum();
            u32::from(z + 0.3 * x[(i * 7) % (n * d)] > 0.0)
        })
        .collect();
    let targets = HostTargets::Classes {
        labels,
        num_classes: 2,
    };
    let ds = Dataset::new(x.iter().map(|&v| v as f32).collect(), vec![d], targets).unwrap();
    if weights {
        let w = (0..n).map(|i| (i % 3) as f32).collect();
        ds.with_sample_weights(w).unwrap()
    } else {
        ds
    }
}

struct Run {
    params: Vec<f64>,
    /// The last epoch's training loss, and its validation loss when there is a validation set.
    losses: Vec<f64>,
    /// The last epoch's metrics (on the training batches without a validation set).
    metrics: Vec<(String, f64)>,
    forwards: usize,
    fused: usize,
}

/// What a run varies: the model's fused loss, a validation set, sample weights, the dtype and
/// the noise-scale estimate (each batch's backward in two halves).
#[derive(Clone, Copy)]
struct Setting {
    fuse: bool,
    validation: bool,
    weights: bool,
    dtype: DType,
    noise_scale: bool,
}

const PLAIN: Setting = Setting {
    fuse: true,
    validation: true,
    weights: false,
    dtype: DType::F64,
    noise_scale: false,
};

/// Three epochs of Adam on mini-batches of 32.
fn fit(s: Setting) -> Run {
    let Setting {
        fuse,
        validation,
        weights,
        dtype,
        noise_scale,
    } = s;
    let (forwards, fused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let model: Box<dyn Module> = Box::new(Counted {
        inner: Linear::new(5, 1, true, &mut Rng::seed(3)),
        fuse,
        forwards: forwards.clone(),
        fused: fused.clone(),
    });
    model.cast(dtype).unwrap();
    let params: Vec<Tensor> = model.parameters().iter().map(|p| p.tensor()).collect();
    let mut t = Trainer {
        model,
        optimizer: Optimizer::new(Adam::new(0.05), &params).unwrap(),
        schedule: Schedule::Constant(0.05),
        plateau: None,
        task: Task::Binary,
        options: TrainOptions {
            epochs: 3,
            batch: BatchMode::MiniBatch {
                size: 32,
                drop_last: false,
            },
            dtype,
            noise_scale,
            quiet: true,
            ..TrainOptions::default()
        },
        model_metadata: BTreeMap::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let val = validation.then(|| data(11, false));
    let summary = t
        .fit(&data(7, weights), val.as_ref(), dir.path(), false)
        .unwrap();
    Run {
        params: t
            .model
            .parameters()
            .iter()
            .flat_map(|p| p.tensor().to_vec_f64())
            .collect(),
        losses: summary
            .last
            .as_ref()
            .map(|e| std::iter::once(e.train_loss).chain(e.val_loss).collect())
            .unwrap(),
        metrics: summary.last.unwrap().metrics.into_iter().collect(),
        forwards: forwards.load(Ordering::Relaxed),
        fused: fused.load(Ordering::Relaxed),
    }
}

/// `fused` within `tol` (relative, at least absolute) of `composed`, parameters and losses.
fn close(fused: &Run, composed: &Run, tol: f64) {
    let a = fused.params.iter().chain(&fused.losses);
    for (a, b) in a.zip(composed.params.iter().chain(&composed.losses)) {
        assert!(
            (a - b).abs() <= tol * b.abs().max(1.0),
            "fused {:?} {:?}, composed {:?} {:?}",
            fused.params,
            fused.losses,
            composed.params,
            composed.losses
        );
    }
}

#[test]
fn a_logistic_run_takes_its_loss_from_the_fused_pass_and_ends_where_the_composed_one_does() {
    for validation in [true, false] {
        let s = Setting {
            validation,
            ..PLAIN
        };
        let (fused, composed) = (fit(s), fit(Setting { fuse: false, ..s }));
        // 3 epochs of 3 batches, each step fused; the forward passes left are validation's
        assert_eq!((fused.fused, composed.fused), (9, 0));
        assert_eq!(composed.forwards - fused.forwards, 9);
        assert_eq!(fused.losses.len(), 1 + usize::from(validation));
        close(&fused, &composed, 1e-12);
        // without a validation set the accuracy is the training batches', from the fused output
        assert_eq!(fused.metrics, composed.metrics);
        assert_eq!(fused.metrics[0].0, "accuracy");
    }
}

#[test]
fn in_f32_and_with_the_noise_scale_halves_too() {
    let s = Setting {
        dtype: DType::F32,
        ..PLAIN
    };
    let (fused, composed) = (fit(s), fit(Setting { fuse: false, ..s }));
    assert_eq!(fused.fused, 9);
    close(&fused, &composed, 1e-5);
    // each batch's backward in two halves: two fused passes a step
    let s = Setting {
        noise_scale: true,
        ..PLAIN
    };
    let (fused, composed) = (fit(s), fit(Setting { fuse: false, ..s }));
    assert_eq!(fused.fused, 18);
    close(&fused, &composed, 1e-12);
}

#[test]
fn a_run_that_weighs_samples_composes_forward_and_loss() {
    let s = Setting {
        weights: true,
        ..PLAIN
    };
    let (a, b) = (fit(s), fit(Setting { fuse: false, ..s }));
    assert_eq!((a.fused, b.fused), (0, 0));
    assert_eq!((a.params, a.losses), (b.params, b.losses));
}
