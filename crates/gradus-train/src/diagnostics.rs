//! Convergence diagnostics: gradient norms (global and per layer), update-to-parameter ratios,
//! and warnings for vanishing and exploding gradients that name the layer.
//!
//! The sums of squares behind the norms and ratios are tensor ops in f64 on the tensors' device
//! ([`grad_squares`], [`param_update_squares`]), one pass over each gradient, and over each
//! parameter and its copy from before the step ([`snapshot`]); the trainer reads them on the host
//! only at its sync points and turns them into norms with [`GradNorms::from_squares`] and
//! [`layer_update_ratios`]. The sums are added in the fixed order of [`Tensor::sum_squares`] (32
//! interleaved partial sums in fixed blocks that run in parallel, not one running sum: that
//! waited on every add and was most of the diagnostics' time), so the numbers depend on neither
//! the CPU nor the thread count.

use gradus_nn::Param;
use gradus_tensor::{autodiff::no_grad, DType, Result, Tensor};

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

/// `sum(x^2)` in f64, as a `[1]` tensor: one backend pass over `x`.
fn sum_squares(x: &Tensor) -> Result<Tensor> {
    x.sum_squares()?.reshape(&[1])
}

/// Each parameter's gradient sum of squares, `[P]` in f64 on the gradients' device, in parameter
/// order (0 for a parameter without a gradient). Nothing is read on the host.
///
/// # Errors
/// When a gradient cannot be cast to f64.
///
/// ```
/// use gradus_nn::Param;
/// use gradus_tensor::Tensor;
/// let p = Param::new(Tensor::from_vec(vec![1.0f32, 1.0], &[2]).unwrap());
/// p.tensor().set_grad(Some(Tensor::from_vec(vec![3.0f32, 4.0], &[2]).unwrap()));
/// let q = Param::new(Tensor::from_vec(vec![1.0f32], &[1]).unwrap());
/// let sq = gradus_train::diagnostics::grad_squares(&[("a".into(), p), ("b".into(), q)]).unwrap();
/// assert_eq!(sq.to_vec::<f64>().unwrap(), vec![25.0, 0.0]);
/// ```
pub fn grad_squares(params: &[(String, Param)]) -> Result<Tensor> {
    no_grad(|| {
        let parts = params
            .iter()
            .map(|(_, p)| match p.tensor().grad() {
                Some(g) => sum_squares(&g.detach()),
                None => Ok(Tensor::zeros(&[1], DType::F64)),
            })
            .collect::<Result<Vec<_>>>()?;
        if parts.is_empty() {
            return Ok(Tensor::zeros(&[0], DType::F64));
        }
        Tensor::concat(&parts.iter().collect::<Vec<_>>(), 0)
    })
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
    /// Norms from each parameter's gradient sum of squares (`squares`, in the order of `names`,
    /// as [`grad_squares`] gives them once read on the host): per layer the square root of its
    /// parameters' sums, globally the square root of all.
    ///
    /// ```
    /// use gradus_train::diagnostics::GradNorms;
    /// let n = GradNorms::from_squares(["fc.weight", "fc.bias", "out.weight"], &[9.0, 16.0, 0.0]);
    /// assert_eq!(n.global, 5.0);
    /// assert_eq!(n.per_layer, vec![("fc".to_string(), 5.0), ("out".to_string(), 0.0)]);
    /// ```
    pub fn from_squares<'a>(
        names: impl IntoIterator<Item = &'a str>,
        squares: &[f64],
    ) -> GradNorms {
        let mut per_layer: Vec<(String, f64)> = Vec::new();
        for (name, &sq) in names.into_iter().zip(squares) {
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

    /// Measures the gradients of named parameters now (parameters without a gradient count as
    /// 0): [`grad_squares`] read on the host at once, a host synchronization.
    ///
    /// # Errors
    /// When a gradient cannot be cast to f64.
    ///
    /// ```
    /// use gradus_nn::Param;
    /// use gradus_tensor::{DType, Tensor};
    /// let p = Param::new(Tensor::from_vec(vec![1.0f64], &[1]).unwrap().requires_grad_(true));
    /// p.tensor().mul_scalar(3.0).unwrap().sum_all().unwrap().backward().unwrap();
    /// let n = gradus_train::diagnostics::GradNorms::measure(&[("fc.weight".into(), p)]).unwrap();
    /// assert_eq!(n.global, 3.0);
    /// assert_eq!(n.per_layer, vec![("fc".to_string(), 3.0)]);
    /// ```
    pub fn measure(params: &[(String, Param)]) -> Result<GradNorms> {
        let squares = grad_squares(params)?.to_vec_f64();
        Ok(GradNorms::from_squares(
            params.iter().map(|(n, _)| n.as_str()),
            &squares,
        ))
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

/// Copies the values of `tensors` into `snapshot` (their values before an in-place optimizer
/// step), reusing its buffers when they still match in shape and dtype: a measured step
/// allocates nothing after the first.
///
/// # Errors
/// Never for tensors the snapshot can hold (one contiguous buffer each); kept fallible as every
/// backend call.
///
/// ```
/// use gradus_tensor::Tensor;
/// let w = Tensor::from_vec(vec![3.0f32, 4.0], &[2]).unwrap();
/// let mut snap = Vec::new();
/// gradus_train::diagnostics::snapshot(&mut snap, &[w.clone()]).unwrap();
/// w.update_data(|v: &mut [f32]| v[1] = 4.5).unwrap();
/// assert_eq!(snap[0].to_vec::<f32>().unwrap(), vec![3.0, 4.0]);
/// ```
pub fn snapshot(snapshot: &mut Vec<Tensor>, tensors: &[Tensor]) -> Result<()> {
    let fits = snapshot.len() == tensors.len()
        && snapshot
            .iter()
            .zip(tensors)
            .all(|(s, t)| s.shape() == t.shape() && s.dtype() == t.dtype());
    if !fits {
        *snapshot = tensors.iter().map(Tensor::zeros_like).collect();
    }
    for (s, t) in snapshot.iter().zip(tensors) {
        s.copy_from(t)?;
    }
    Ok(())
}

/// Each parameter's `[||after_i - before_i||^2, ||before_i||^2]` in f64, joined in parameter
/// order: `[2P]` for `P` tensors in `after` (`before` their values before the step, as
/// [`snapshot`] took them), on the parameters' device. Each pair is one pass of
/// [`Tensor::squared_distance`] and one of [`Tensor::sum_squares`], with no copy. The update
/// ratios of [`layer_update_ratios`] and [`update_ratio`] come from these.
///
/// # Errors
/// When a tensor of `after` differs from its `before` in shape or dtype, or the counts differ.
///
/// ```
/// use gradus_tensor::Tensor;
/// use gradus_train::diagnostics::{param_update_squares, snapshot};
/// let a = Tensor::from_vec(vec![3.0f32, 4.0], &[2]).unwrap();
/// let b = Tensor::from_vec(vec![2.0f32], &[1]).unwrap();
/// let mut before = Vec::new();
/// snapshot(&mut before, &[a.clone(), b.clone()]).unwrap();
/// a.update_data(|v: &mut [f32]| v[1] = 4.5).unwrap();
/// let sq = param_update_squares(&before, &[a, b]).unwrap();
/// assert_eq!(sq.to_vec::<f64>().unwrap(), vec![0.25, 25.0, 0.0, 4.0]);
/// ```
pub fn param_update_squares(before: &[Tensor], after: &[Tensor]) -> Result<Tensor> {
    if before.len() != after.len() {
        return Err(gradus_tensor::TensorError::InvalidArgument {
            op: "param_update_squares",
            detail: format!(
                "{} tensors before the step, {} after",
                before.len(),
                after.len()
            ),
        });
    }
    if after.is_empty() {
        return Ok(Tensor::zeros(&[0], DType::F64));
    }
    no_grad(|| {
        let mut parts = Vec::with_capacity(2 * after.len());
        for (b, a) in before.iter().zip(after) {
            parts.push(a.detach().squared_distance(&b.detach())?.reshape(&[1])?);
            parts.push(sum_squares(&b.detach())?);
        }
        Tensor::concat(&parts.iter().collect::<Vec<_>>(), 0)
    })
}

/// `(||Δθ||^2, ||θ||^2)` over all parameters from the pairs of [`param_update_squares`] read on
/// the host: the sums of the parameters' values, in parameter order.
///
/// ```
/// let (d, b) = gradus_train::diagnostics::total_update_squares(&[0.25, 25.0, 0.0, 4.0]);
/// assert_eq!((d, b), (0.25, 29.0));
/// ```
pub fn total_update_squares(squares: &[f64]) -> (f64, f64) {
    squares.chunks(2).fold((0.0, 0.0), |(d, b), pair| {
        (d + pair[0], b + pair.get(1).copied().unwrap_or(0.0))
    })
}

/// Each layer's update-to-parameter ratio `||Δθ_layer|| / ||θ_layer||` (the "update:data
/// ratio" of Karpathy's CS231n notes and makemore, where about 1e-3 is healthy; `θ` before the
/// step), from [`param_update_squares`] read on the host (`squares`, pairs in the order of
/// `names`). A layer's parameters are grouped as [`layer_of`] names them, in parameter order.
///
/// ```
/// let r = gradus_train::diagnostics::layer_update_ratios(
///     ["fc.weight", "fc.bias", "out.weight"],
///     &[0.0625, 3.0, 0.0, 1.0, 1.0, 16.0],
/// );
/// assert_eq!(r, vec![("fc".to_string(), 0.125), ("out".to_string(), 0.25)]);
/// ```
pub fn layer_update_ratios<'a>(
    names: impl IntoIterator<Item = &'a str>,
    squares: &[f64],
) -> Vec<(String, f64)> {
    let mut sums: Vec<(String, f64, f64)> = Vec::new();
    for (name, pair) in names.into_iter().zip(squares.chunks(2)) {
        let layer = layer_of(name);
        let (d, b) = (pair[0], pair.get(1).copied().unwrap_or(0.0));
        match sums.last_mut() {
            Some((l, ds, bs)) if l == layer => {
                *ds += d;
                *bs += b;
            }
            _ => sums.push((layer.to_string(), d, b)),
        }
    }
    sums.into_iter()
        .map(|(l, d, b)| (l, ratio_from_squares(d, b)))
        .collect()
}

/// `||after - before|| / ||before||` from the two sums of squares of [`total_update_squares`]
/// (`||after - before||` when the parameters were all 0).
///
/// ```
/// assert_eq!(gradus_train::diagnostics::ratio_from_squares(0.25, 25.0), 0.1);
/// ```
pub fn ratio_from_squares(delta: f64, base: f64) -> f64 {
    if base > 0.0 {
        (delta / base).sqrt()
    } else {
        delta.sqrt()
    }
}

/// `||after - before|| / ||before||` over all parameters: how big a step was relative to the
/// weights (healthy training is often around 1e-3). Reads the result on the host.
///
/// # Errors
/// When `before` and `after` differ in sizes or cannot be cast to f64.
///
/// ```
/// use gradus_tensor::{DType, Tensor};
/// let before = vec![Tensor::from_vec(vec![3.0f64, 4.0], &[2]).unwrap()];
/// let after = vec![Tensor::from_vec(vec![3.0f64, 4.5], &[2]).unwrap()];
/// assert_eq!(gradus_train::diagnostics::update_ratio(&before, &after).unwrap(), 0.1);
/// ```
pub fn update_ratio(before: &[Tensor], after: &[Tensor]) -> Result<f64> {
    let sq = param_update_squares(before, after)?.to_vec_f64();
    let (delta, base) = total_update_squares(&sq);
    Ok(ratio_from_squares(delta, base))
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
