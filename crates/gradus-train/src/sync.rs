//! Host synchronization: what the training steps leave on the device between two reads on the
//! host ([`TrainOptions::sync_every`](crate::TrainOptions::sync_every)).
//!
//! Each step leaves one small f64 tensor (its loss and each parameter's gradient sum of squares),
//! and each measured step the two sums of squares of its update ratio. A sync joins them and reads
//! them in one transfer; the trainer then runs the divergence guard and the records on the host
//! numbers, step by step in step order, exactly as if each step had been read on its own. So the
//! logged values do not depend on the interval: only when a divergence is noticed does.

use crate::diagnostics::{
    grad_squares, layer_update_ratios, ratio_from_squares, snapshot, total_update_squares,
    GradNorms,
};
use crate::noise_scale::NoiseSample;
use gradus_nn::Param;
use gradus_tensor::{autodiff::no_grad, DType, Result, Tensor};

/// One step's device values, waiting for the next sync.
struct PendingStep {
    step: u64,
    samples: usize,
    /// Parameter names, in the order of `values[1..]`.
    names: Vec<String>,
    /// `[1 + P]` f64: the loss, then each parameter's gradient sum of squares.
    values: Tensor,
    /// The step's gradient noise measurements, when taken.
    noise: Option<NoiseSample>,
    /// Whether the f16 loss scaler skipped the step (inf/NaN gradients).
    skipped: bool,
}

/// One step's values as read on the host.
#[derive(Clone, Debug)]
pub(crate) struct SyncedStep {
    /// The 1-based optimizer step.
    pub step: u64,
    /// Samples in its batch.
    pub samples: usize,
    /// Its batch's mean loss.
    pub loss: f64,
    /// Its gradient norms (after the gradient hook).
    pub norms: GradNorms,
    /// Its gradient noise measurements, when taken.
    pub noise: Option<NoiseSample>,
    /// Whether the f16 loss scaler skipped it: not guarded for divergence (see
    /// [`crate::precision`]).
    pub skipped: bool,
}

/// One measured step's update sums of squares, waiting for the next sync.
struct PendingRatio {
    /// Parameter names, in the order of the pairs.
    names: Vec<String>,
    /// `[2P]` f64: `||after - before||^2`, `||before||^2` for each parameter.
    values: Tensor,
}

/// One measured step's update-to-parameter ratios as read on the host.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct UpdateRatios {
    /// Over all parameters.
    pub global: f64,
    /// Per layer, in parameter order (see [`layer_update_ratios`]).
    pub per_layer: Vec<(String, f64)>,
}

/// Steps and update ratios not yet read on the host, and the parameters' values before a
/// measured step.
#[derive(Default)]
pub(crate) struct Pending {
    steps: Vec<PendingStep>,
    ratios: Vec<PendingRatio>,
    /// The parameters before the step being measured (buffers reused from step to step).
    before: Vec<Tensor>,
}

impl Pending {
    /// Steps recorded since the last sync.
    pub fn steps(&self) -> usize {
        self.steps.len()
    }

    /// Keeps a step's loss and gradient sums of squares on the device (and its noise
    /// measurements and whether the loss scaler `skipped` it, already on the host).
    pub fn record_step(
        &mut self,
        step: u64,
        samples: usize,
        loss: &Tensor,
        params: &[(String, Param)],
        (noise, skipped): (Option<NoiseSample>, bool),
    ) -> Result<()> {
        let values = no_grad(|| -> Result<Tensor> {
            // detached: the pending loss must not keep the step's graph alive
            let loss = loss.detach().reshape(&[1])?.to_dtype(DType::F64)?;
            Tensor::concat(&[&loss, &grad_squares(params)?], 0)
        })?;
        self.steps.push(PendingStep {
            step,
            samples,
            names: params.iter().map(|(n, _)| n.clone()).collect(),
            values,
            noise,
            skipped,
        });
        Ok(())
    }

    /// Copies the parameters `tensors` before a measured step's update (see
    /// [`crate::diagnostics::snapshot`]).
    pub fn snapshot(&mut self, tensors: &[Tensor]) -> Result<()> {
        snapshot(&mut self.before, tensors)
    }

    /// Keeps a measured step's update sums of squares on the device: each parameter's
    /// ([`crate::diagnostics::param_update_squares`]) of `after` against the last
    /// [`snapshot`](Self::snapshot), the parameters named `names`.
    pub fn record_ratio(&mut self, after: &[Tensor], names: Vec<String>) -> Result<()> {
        let values = crate::diagnostics::param_update_squares(&self.before, after)?;
        self.ratios.push(PendingRatio { names, values });
        Ok(())
    }

    /// Reads everything pending in one host transfer: the steps in order, and the update ratios
    /// in order. Empties the store.
    pub fn read(&mut self) -> Result<(Vec<SyncedStep>, Vec<UpdateRatios>)> {
        if self.steps.is_empty() && self.ratios.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let parts: Vec<&Tensor> = self
            .steps
            .iter()
            .map(|s| &s.values)
            .chain(self.ratios.iter().map(|r| &r.values))
            .collect();
        let host = Tensor::concat(&parts, 0)?.to_vec_f64();
        let mut at = 0;
        let mut steps = Vec::with_capacity(self.steps.len());
        for s in self.steps.drain(..) {
            let n = s.values.numel();
            let v = &host[at..at + n];
            at += n;
            steps.push(SyncedStep {
                step: s.step,
                samples: s.samples,
                loss: v[0],
                norms: GradNorms::from_squares(s.names.iter().map(String::as_str), &v[1..]),
                noise: s.noise,
                skipped: s.skipped,
            });
        }
        let mut ratios = Vec::with_capacity(self.ratios.len());
        for r in self.ratios.drain(..) {
            let v = &host[at..at + r.values.numel()];
            at += r.values.numel();
            let (delta, base) = total_update_squares(v);
            ratios.push(UpdateRatios {
                global: ratio_from_squares(delta, base),
                per_layer: layer_update_ratios(r.names.iter().map(String::as_str), v),
            });
        }
        Ok((steps, ratios))
    }
}
