//! Clipping: by global norm, by value, and adaptive gradient clipping (AGC).

use crate::error::{at, check};
use crate::kernel::{check_pairs, clamp_in_place, l2_norm, scale_in_place};
use crate::{GradientTransformation, Result, State};
use gradus_tensor::Tensor;

/// Scales all updates together so that their global L2 norm is at most `max_norm`, with
/// `torch.nn.utils.clip_grad_norm_` semantics: `g <- g * min(1, max_norm / (norm + eps))`,
/// `eps = 1e-6` (set `eps(0.0)` for optax's `clip_by_global_norm`).
///
/// The norm is taken over the tensors the transform sees: one parameter group of an
/// [`Optimizer`](crate::Optimizer). To clip over all groups at once (torch's usual call), run
/// [`clip_grad_norm`] on all parameters before `step()`.
///
/// ```
/// use gradus_optim::{ClipByGlobalNorm, GradientTransformation};
/// use gradus_tensor::Tensor;
/// let clip = ClipByGlobalNorm::new(1.0).eps(0.0);
/// let mut u = vec![Tensor::from_vec(vec![3.0f64, 4.0], &[2]).unwrap()];
/// let mut s = clip.init(&u).unwrap();
/// clip.update(&mut u, &mut s, &[]).unwrap();
/// let v = u[0].to_vec::<f64>().unwrap();
/// assert!((v[0] - 0.6).abs() < 1e-15 && (v[1] - 0.8).abs() < 1e-15);
/// ```
#[derive(Clone, Debug)]
pub struct ClipByGlobalNorm {
    max_norm: f64,
    eps: f64,
}

impl ClipByGlobalNorm {
    /// Clip to `max_norm` (torch semantics, eps 1e-6).
    pub fn new(max_norm: f64) -> ClipByGlobalNorm {
        ClipByGlobalNorm {
            max_norm,
            eps: 1e-6,
        }
    }
    /// The epsilon added to the norm.
    pub fn eps(mut self, eps: f64) -> ClipByGlobalNorm {
        self.eps = eps;
        self
    }
}

/// The global L2 norm of several tensors (accumulated in f64, in order).
pub(crate) fn global_norm(ts: &[Tensor]) -> Result<f64> {
    let mut sum = 0.0;
    for (i, t) in ts.iter().enumerate() {
        sum += l2_norm(t).map_err(at(i))?.powi(2);
    }
    Ok(sum.sqrt())
}

impl GradientTransformation for ClipByGlobalNorm {
    fn init(&self, _params: &[Tensor]) -> Result<State> {
        check(self.max_norm >= 0.0, || {
            format!("Invalid max_norm value: {}", self.max_norm)
        })?;
        Ok(State::default())
    }
    fn update(&self, updates: &mut [Tensor], state: &mut State, _params: &[Tensor]) -> Result<()> {
        state.count += 1;
        let coef = self.max_norm / (global_norm(updates)? + self.eps);
        if coef < 1.0 {
            for (i, u) in updates.iter().enumerate() {
                scale_in_place(u, coef).map_err(at(i))?;
            }
        }
        Ok(())
    }
}

/// `torch.nn.utils.clip_grad_norm_`: clips the parameters' `.grad()` in place and returns the
/// total norm before clipping.
///
/// # Errors
/// When a gradient is not contiguous.
///
/// ```
/// use gradus_tensor::Tensor;
/// let w = Tensor::from_vec(vec![0.0f64, 0.0], &[2]).unwrap().requires_grad_(true);
/// w.set_grad(Some(Tensor::from_vec(vec![3.0f64, 4.0], &[2]).unwrap()));
/// let norm = gradus_optim::clip_grad_norm(&[w.clone()], 0.5).unwrap();
/// assert_eq!(norm, 5.0);
/// assert!((w.grad().unwrap().to_vec::<f64>().unwrap()[1] - 0.4).abs() < 1e-6);
/// ```
pub fn clip_grad_norm(params: &[Tensor], max_norm: f64) -> Result<f64> {
    let grads: Vec<(usize, Tensor)> = params
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.grad().map(|g| (i, g)))
        .collect();
    let mut sum = 0.0;
    for (i, g) in &grads {
        sum += l2_norm(g).map_err(at(*i))?.powi(2);
    }
    let total = sum.sqrt();
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        for (i, g) in grads {
            let g = crate::kernel::owned(&g).map_err(at(i))?;
            scale_in_place(&g, coef).map_err(at(i))?;
            params[i].set_grad(Some(g));
        }
    }
    Ok(total)
}

/// Clips every update element to `[-max, max]` (torch `clip_grad_value_`, optax `clip`).
///
/// ```
/// use gradus_optim::{ClipByValue, GradientTransformation};
/// use gradus_tensor::Tensor;
/// let clip = ClipByValue::new(1.0);
/// let mut u = vec![Tensor::from_vec(vec![-3.0f64, 0.5], &[2]).unwrap()];
/// let mut s = clip.init(&u).unwrap();
/// clip.update(&mut u, &mut s, &[]).unwrap();
/// assert_eq!(u[0].to_vec::<f64>().unwrap(), vec![-1.0, 0.5]);
/// ```
#[derive(Clone, Debug)]
pub struct ClipByValue {
    max: f64,
}

impl ClipByValue {
    /// Clip to `[-max, max]`.
    pub fn new(max: f64) -> ClipByValue {
        ClipByValue { max }
    }
}

impl GradientTransformation for ClipByValue {
    fn init(&self, _params: &[Tensor]) -> Result<State> {
        check(self.max >= 0.0, || {
            format!("Invalid clip value: {}", self.max)
        })?;
        Ok(State::default())
    }
    fn update(&self, updates: &mut [Tensor], state: &mut State, _params: &[Tensor]) -> Result<()> {
        state.count += 1;
        let m = self.max;
        for (i, u) in updates.iter().enumerate() {
            clamp_in_place(u, m).map_err(at(i))?;
        }
        Ok(())
    }
}

/// Adaptive gradient clipping (AGC, Brock et al. 2021; optax `adaptive_grad_clip`): each
/// tensor's update is scaled so that `||u|| <= clipping * max(||p||, eps)`.
///
/// ```
/// use gradus_optim::{AdaptiveClip, GradientTransformation};
/// use gradus_tensor::Tensor;
/// let p = vec![Tensor::from_vec(vec![1.0f64, 0.0], &[2]).unwrap()];
/// let agc = AdaptiveClip::new(0.1);
/// let mut u = vec![Tensor::from_vec(vec![0.0f64, 2.0], &[2]).unwrap()];
/// let mut s = agc.init(&p).unwrap();
/// agc.update(&mut u, &mut s, &p).unwrap();
/// assert!((u[0].to_vec::<f64>().unwrap()[1] - 0.1).abs() < 1e-12);
/// ```
#[derive(Clone, Debug)]
pub struct AdaptiveClip {
    clipping: f64,
    eps: f64,
}

impl AdaptiveClip {
    /// AGC with the given clipping ratio and optax's eps 1e-3.
    pub fn new(clipping: f64) -> AdaptiveClip {
        AdaptiveClip {
            clipping,
            eps: 1e-3,
        }
    }
    /// Lower bound on the parameter norm.
    pub fn eps(mut self, eps: f64) -> AdaptiveClip {
        self.eps = eps;
        self
    }
}

impl GradientTransformation for AdaptiveClip {
    fn init(&self, _params: &[Tensor]) -> Result<State> {
        check(self.clipping > 0.0, || {
            format!("Invalid clipping value: {}", self.clipping)
        })?;
        Ok(State::default())
    }
    fn update(&self, updates: &mut [Tensor], state: &mut State, params: &[Tensor]) -> Result<()> {
        check_pairs(params, updates)?;
        state.count += 1;
        for (i, (p, u)) in params.iter().zip(updates.iter()).enumerate() {
            let max_norm = self.clipping * l2_norm(p).map_err(at(i))?.max(self.eps);
            let norm = l2_norm(u).map_err(at(i))?;
            if norm > max_norm {
                scale_in_place(u, max_norm / norm).map_err(at(i))?;
            }
        }
        Ok(())
    }
}
