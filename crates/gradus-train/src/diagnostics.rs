//! Convergence diagnostics: gradient norms (global and per layer), update-to-parameter ratios,
//! and warnings for vanishing and exploding gradients that name the layer.

use gradus_nn::Param;
use gradus_tensor::{DType, Tensor};

/// The layer a parameter belongs to: its dotted name without the last part
/// (`encoder.0.weight` -> `encoder.0`); a model's own parameters belong to `(root)`.
///
/// ```
/// assert_eq!(gradus_train::diagnostics::layer_of("blocks.1.attn.weight"), "blocks.1.attn");
/// assert_eq!(gradus_train::diagnostics::layer_of("bias"), "(root)");
/// ```
pub fn layer_of(name: &str) -> &str {
    name.rsplit_once('.').map_or("(root)", |(layer, _)| layer)
}

/// Sum of squares in f64, reading the tensor in place (no copy for contiguous tensors).
fn sum_squares(t: &Tensor) -> f64 {
    match t.dtype() {
        DType::F32 => t
            .with_data(|v: &[f32]| v.iter().map(|&x| (x as f64) * (x as f64)).sum())
            .unwrap_or(f64::NAN),
        _ => t
            .with_data(|v: &[f64]| v.iter().map(|x| x * x).sum())
            .unwrap_or(f64::NAN),
    }
}

/// Gradient norms of one step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GradNorms {
    /// sqrt of the sum of squares of every gradient element.
    pub global: f64,
    /// Per layer, in parameter order.
    pub per_layer: Vec<(String, f64)>,
}

impl GradNorms {
    /// Measures the gradients of named parameters (parameters without a gradient count as 0).
    ///
    /// ```
    /// use gradus_nn::Param;
    /// use gradus_tensor::{DType, Tensor};
    /// let p = Param::new(Tensor::from_vec(vec![1.0f64], &[1]).unwrap().requires_grad_(true));
    /// p.tensor().mul_scalar(3.0).unwrap().sum_all().unwrap().backward().unwrap();
    /// let n = gradus_train::diagnostics::GradNorms::measure(&[("fc.weight".into(), p)]);
    /// assert_eq!(n.global, 3.0);
    /// assert_eq!(n.per_layer, vec![("fc".to_string(), 3.0)]);
    /// ```
    pub fn measure(params: &[(String, Param)]) -> GradNorms {
        let mut per_layer: Vec<(String, f64)> = Vec::new();
        for (name, p) in params {
            let sq = p.grad().map(|g| sum_squares(&g)).unwrap_or(0.0);
            let layer = layer_of(name);
            match per_layer.last_mut() {
                Some((l, acc)) if l == layer => *acc += sq,
                _ => per_layer.push((layer.to_string(), sq)),
            }
        }
        let global = per_layer.iter().map(|(_, s)| s).sum::<f64>().sqrt();
        GradNorms {
            global,
            per_layer: per_layer.into_iter().map(|(l, s)| (l, s.sqrt())).collect(),
        }
    }

    /// The first layer whose gradient is not finite, else the layer with the largest norm.
    pub fn worst_layer(&self) -> Option<&str> {
        self.per_layer
            .iter()
            .find(|(_, n)| !n.is_finite())
            .or_else(|| self.per_layer.iter().max_by(|a, b| a.1.total_cmp(&b.1)))
            .map(|(l, _)| l.as_str())
    }
}

/// `||after - before|| / ||before||` over all parameters: how big a step was relative to the
/// weights (healthy training is often around 1e-3).
///
/// ```
/// use gradus_tensor::{DType, Tensor};
/// let before = vec![Tensor::from_vec(vec![3.0f64, 4.0], &[2]).unwrap()];
/// let after = vec![Tensor::from_vec(vec![3.0f64, 4.5], &[2]).unwrap()];
/// assert_eq!(gradus_train::diagnostics::update_ratio(&before, &after), 0.1);
/// ```
pub fn update_ratio(before: &[Tensor], after: &[Tensor]) -> f64 {
    let (mut delta, mut base) = (0.0, 0.0);
    for (b, a) in before.iter().zip(after) {
        for (x, y) in b.to_vec_f64().iter().zip(a.to_vec_f64()) {
            delta += (y - x) * (y - x);
            base += x * x;
        }
    }
    if base > 0.0 {
        (delta / base).sqrt()
    } else {
        delta.sqrt()
    }
}

/// Watches gradient norms over steps and produces warnings.
///
/// ```
/// use gradus_train::diagnostics::{GradNorms, GradientWatch};
/// let mut w = GradientWatch::new(1e-6, 2, 1e3);
/// let tiny = GradNorms { global: 1e-9, per_layer: vec![("fc".into(), 1e-9)] };
/// assert!(w.observe(1, &tiny).is_none());
/// assert!(w.observe(2, &tiny).unwrap().contains("vanishing"));
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GradientWatch {
    /// A layer norm under this counts as vanishing.
    pub vanishing_below: f64,
    /// Consecutive steps under the threshold before warning.
    pub vanishing_steps: usize,
    /// A layer norm over this is exploding.
    pub exploding_above: f64,
    small_run: usize,
    warned_vanishing: bool,
    warned_exploding: bool,
}

impl Default for GradientWatch {
    fn default() -> Self {
        GradientWatch {
            vanishing_below: 1e-7,
            vanishing_steps: 100,
            exploding_above: 1e4,
            small_run: 0,
            warned_vanishing: false,
            warned_exploding: false,
        }
    }
}

impl GradientWatch {
    /// Warns when a layer's norm stays below `vanishing_below` for `vanishing_steps` steps, or
    /// exceeds `exploding_above`.
    pub fn new(
        vanishing_below: f64,
        vanishing_steps: usize,
        exploding_above: f64,
    ) -> GradientWatch {
        GradientWatch {
            vanishing_below,
            vanishing_steps,
            exploding_above,
            ..Default::default()
        }
    }

    /// Takes over the counters (steps in a row under the threshold, warnings given) of a watch
    /// saved in a checkpoint, keeping this watch's thresholds: a resumed run warns as the
    /// uninterrupted run would.
    pub fn resume_from(&mut self, saved: &GradientWatch) {
        self.small_run = saved.small_run;
        self.warned_vanishing = saved.warned_vanishing;
        self.warned_exploding = saved.warned_exploding;
    }

    /// Records one step's norms; returns a warning the first time a condition appears.
    pub fn observe(&mut self, step: u64, norms: &GradNorms) -> Option<String> {
        if let Some((layer, n)) = norms
            .per_layer
            .iter()
            .find(|(_, n)| *n > self.exploding_above)
        {
            if !self.warned_exploding {
                self.warned_exploding = true;
                return Some(format!("warning: exploding gradient at step {step}: layer `{layer}` has norm {n:.3e} (> {:.1e}); consider gradient clipping or a lower learning rate", self.exploding_above));
            }
        }
        let smallest = norms.per_layer.iter().min_by(|a, b| a.1.total_cmp(&b.1));
        match smallest {
            Some((layer, n)) if *n < self.vanishing_below => {
                self.small_run += 1;
                if self.small_run >= self.vanishing_steps && !self.warned_vanishing {
                    self.warned_vanishing = true;
                    return Some(format!("warning: vanishing gradient: layer `{layer}` has had norm below {:.1e} for {} steps (now {n:.3e} at step {step})", self.vanishing_below, self.small_run));
                }
            }
            _ => self.small_run = 0,
        }
        None
    }
}
