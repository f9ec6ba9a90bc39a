//! What an epoch accumulates while it runs, and where a run stands inside an epoch (so a
//! checkpoint written mid-epoch resumes at the next batch with the same sums).
//!
//! Per-sample quantities (the training loss) are weighted by the samples of each batch, so an
//! epoch's mean is the mean over its samples whatever the size of the last batch, as `gradus eval`
//! computes it. Per-step diagnostics (gradient norms, update ratios) describe a step, not a
//! sample: their epoch value is the plain mean over the epoch's steps.

use serde::{Deserialize, Serialize};

/// Sums over the steps of an epoch so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Sum of `batch mean loss * batch samples`.
    pub loss_sum: f64,
    /// Samples seen.
    pub samples: usize,
    /// Steps taken.
    pub batches: usize,
    /// Sum of the global gradient norms (one per step).
    pub norm_sum: f64,
    /// Sum of each layer's gradient norm, in parameter order.
    pub layer_norm_sums: Vec<(String, f64)>,
    /// Sum of the measured update ratios.
    pub ratio_sum: f64,
    /// Steps whose update ratio was measured.
    pub ratios: usize,
    /// Sum of each layer's measured update ratio, in parameter order.
    #[serde(default)]
    pub layer_ratio_sums: Vec<(String, f64)>,
    /// The gradient noise scale's estimates over the epoch's steps (data parallel, or
    /// [`TrainOptions::noise_scale`](crate::TrainOptions::noise_scale)).
    #[serde(default)]
    pub noise: crate::noise_scale::NoiseScale,
    /// Steps the f16 loss scaler skipped (inf/NaN gradients; see [`crate::precision`]).
    #[serde(default)]
    pub skipped: u64,
    /// The task's metric sums over the epoch's training batches
    /// ([`crate::task::Task::metric_sums`]), kept in runs without a validation set; empty
    /// before the first.
    #[serde(default)]
    pub metric_sums: Vec<f64>,
}

impl EpochStats {
    /// Adds a step: its batch's mean `loss` over `samples` samples and its gradient norms.
    ///
    /// ```
    /// use gradus_train::epoch::EpochStats;
    /// let mut s = EpochStats::default();
    /// s.add_step(0.0, 2, 1.0, &[]);   // batch {y=0, y=0} of a model predicting 0
    /// s.add_step(900.0, 1, 3.0, &[]); // batch {y=30}
    /// assert_eq!(s.mean_loss(), 300.0); // over 3 samples, not (0 + 900) / 2 batches
    /// assert_eq!(s.mean_grad_norm(), 2.0); // over 2 steps
    /// ```
    pub fn add_step(&mut self, loss: f64, samples: usize, norm: f64, layers: &[(String, f64)]) {
        self.loss_sum += loss * samples as f64;
        self.samples += samples;
        self.batches += 1;
        self.norm_sum += norm;
        if self.layer_norm_sums.is_empty() {
            self.layer_norm_sums = layers.iter().map(|(l, _)| (l.clone(), 0.0)).collect();
        }
        for ((_, acc), (_, n)) in self.layer_norm_sums.iter_mut().zip(layers) {
            *acc += n;
        }
    }

    /// Adds a batch's metric sums ([`crate::task::Task::metric_sums`]) element by element.
    ///
    /// ```
    /// use gradus_train::epoch::EpochStats;
    /// let mut s = EpochStats::default();
    /// s.add_metric_sums(&[3.0, 4.0]);
    /// s.add_metric_sums(&[1.0, 4.0]);
    /// assert_eq!(s.metric_sums, vec![4.0, 8.0]);
    /// ```
    pub fn add_metric_sums(&mut self, sums: &[f64]) {
        if self.metric_sums.len() < sums.len() {
            self.metric_sums.resize(sums.len(), 0.0);
        }
        for (acc, v) in self.metric_sums.iter_mut().zip(sums) {
            *acc += v;
        }
    }

    /// Adds a measured update-to-parameter ratio, over all parameters and per layer.
    ///
    /// ```
    /// use gradus_train::epoch::EpochStats;
    /// let mut s = EpochStats::default();
    /// s.add_ratio(1e-3, &[("fc".into(), 2e-3)]);
    /// s.add_ratio(3e-3, &[("fc".into(), 4e-3)]);
    /// assert_eq!(s.mean_layer_update_ratios(), vec![("fc".to_string(), 3e-3)]);
    /// ```
    pub fn add_ratio(&mut self, ratio: f64, layers: &[(String, f64)]) {
        self.ratio_sum += ratio;
        self.ratios += 1;
        if self.layer_ratio_sums.is_empty() {
            self.layer_ratio_sums = layers.iter().map(|(l, _)| (l.clone(), 0.0)).collect();
        }
        for ((_, acc), (_, r)) in self.layer_ratio_sums.iter_mut().zip(layers) {
            *acc += r;
        }
    }

    /// Mean loss per sample so far (NaN before the first step).
    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.samples as f64
    }

    /// Mean global gradient norm per step so far.
    pub fn mean_grad_norm(&self) -> f64 {
        self.norm_sum / self.batches as f64
    }

    /// Mean update ratio over the measured steps (NaN when none was measured).
    pub fn mean_update_ratio(&self) -> f64 {
        if self.ratios > 0 {
            self.ratio_sum / self.ratios as f64
        } else {
            f64::NAN
        }
    }

    /// Mean update ratio of each layer over the measured steps (empty when none was measured).
    pub fn mean_layer_update_ratios(&self) -> Vec<(String, f64)> {
        self.layer_ratio_sums
            .iter()
            .map(|(l, v)| (l.clone(), v / self.ratios as f64))
            .collect()
    }

    /// Mean gradient norm of each layer per step.
    pub fn mean_layer_norms(&self) -> Vec<(String, f64)> {
        self.layer_norm_sums
            .iter()
            .map(|(l, v)| (l.clone(), v / self.batches as f64))
            .collect()
    }
}

/// An epoch left unfinished (stopped by `max_steps`, an interrupt or a step checkpoint): which
/// epoch, how many of its batches are done, and its sums so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochProgress {
    /// The epoch (1-based).
    pub epoch: usize,
    /// Batches of it already trained on.
    pub batches_done: usize,
    /// Batches the epoch has (a resumed run must cut its epochs the same way).
    pub batches_total: usize,
    /// Its accumulated sums.
    pub stats: EpochStats,
}

impl EpochProgress {
    /// The position after `done` of `total` batches of `epoch`, with the sums so far.
    pub fn at(epoch: usize, done: usize, total: usize, stats: &EpochStats) -> EpochProgress {
        EpochProgress {
            epoch,
            batches_done: done,
            batches_total: total,
            stats: stats.clone(),
        }
    }
}
