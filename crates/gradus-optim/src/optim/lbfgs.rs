//! L-BFGS (PyTorch `torch.optim.LBFGS`), with the strong-Wolfe line search by default
//! (`line_search_fn="strong_wolfe"`) or torch's fixed step (`line_search_fn=None`).
//!
//! Written on tensors as PyTorch's is: the gradient is gathered by concatenating the flattened
//! gradients (`_gather_flat_grad`), the history pairs `s`, `y` and the direction are flat tensors
//! in the parameters' dtype, dot products are tensor reductions, and the parameters move by tensor
//! updates of each [`Param`] (`_add_grad`). Only the scalars that drive decisions are read with
//! `item()`, as PyTorch reads them: the loss, the curvature `y.s`, the slope `g.d` and the
//! stopping tests' norms.

use crate::{Buffer, OptimError, ParamRef, Result};
use gradus_tensor::{DType, Param, Tensor};
use serde::{Deserialize, Serialize};

/// `a . b` of two flat vectors as a 0-d tensor (one product, no temporary vector).
fn dot(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    Ok(a.matmul(b)?)
}

/// `max |a|`, read to the host (a stopping test).
fn max_abs(a: &Tensor) -> Result<f64> {
    Ok(a.abs()?.max_all()?.item()?)
}

/// A copy of `t`'s values that no later in-place write to `t` changes (torch's `p.clone()`).
fn snapshot(t: &Tensor) -> Result<Tensor> {
    let copy = t.zeros_like();
    copy.copy_from(&t.detach())?;
    Ok(copy)
}

/// The line search of [`Lbfgs`] (torch's `line_search_fn`; `None` there is the fixed step).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineSearchFn {
    /// torch's `"strong_wolfe"`: bracketing then zoom by cubic interpolation.
    StrongWolfe,
}

/// L-BFGS, closure-based, with PyTorch's algorithm and defaults (`lr` 1, `max_iter` 20,
/// `max_eval` `max_iter * 5 / 4`, `tolerance_grad` 1e-7, `tolerance_change` 1e-9,
/// `history_size` 100) except the line search: gradus uses torch's strong-Wolfe search unless
/// told otherwise ([`Lbfgs::line_search_fn`]`(None)` gives torch's default fixed step).
///
/// Each [`Lbfgs::step`] runs up to `max_iter` iterations:
/// ```text
/// d <- -H g   (two-loop recursion over the last history_size pairs s = t d, y = g_new - g,
///              kept when y.s > 1e-10; H_0 = (y.s / y.y) I)
/// t <- min(1, 1/|g|_1) lr on the very first iteration, lr after
/// t <- strong-Wolfe line search along d from t (c1 1e-4, c2 0.9, at most max_eval minus the
///      evaluations spent in this step, bracket tolerance 1e-9 as torch's `_strong_wolfe`),
///      or t kept as it is (fixed step; the loss and gradient are evaluated again unless it was
///      the last iteration)
/// p <- p + t d
/// ```
/// It stops early, as torch does, when `max |g| <= tolerance_grad`, when `g.d > -tolerance_change`,
/// when `max |t d| <= tolerance_change`, when the loss changed by less than `tolerance_change`, or
/// when `max_eval` evaluations were spent.
/// `g`, `d` and the history are flat vectors (the parameters' gradients concatenated, a parameter
/// without a gradient counting as zeros, as in PyTorch) in the parameters' dtype (f64 when they
/// mix f32 and f64). It holds the parameters' [`Param`] handles, as
/// [`Optimizer`](crate::Optimizer) does: a parameter frozen after it was built
/// (`requires_grad` false) counts as a zero gradient and is not moved; one cast to another dtype
/// has the history cast to match; one given values of another shape fails the step with
/// [`OptimError::ParamReshaped`]. The state (history, direction, counters) is serializable
/// ([`Lbfgs::state`]).
///
/// ```
/// use gradus_optim::Lbfgs;
/// use gradus_tensor::Tensor;
/// # fn main() -> gradus_optim::Result<()> {
/// let x = Tensor::from_vec(vec![-1.2f64, 1.0], &[2])?.requires_grad_(true);
/// // tighter tolerances than torch's defaults (which stop near a loss of 1e-9 here)
/// let mut opt = Lbfgs::new(&[x.clone()]).max_iter(100).tolerance_change(1e-16).tolerance_grad(1e-12);
/// let rosenbrock = || {
///     let (a, b) = (x.narrow(0, 0, 1)?, x.narrow(0, 1, 1)?);
///     let l = a.neg()?.add_scalar(1.0)?.powf(2.0)?.add(&b.sub(&a.mul(&a)?)?.powf(2.0)?.mul_scalar(100.0)?)?.sum_all()?;
///     l.backward()?;
///     Ok(l.item()?)
/// };
/// opt.step(rosenbrock)?;
/// assert!(x.to_vec::<f64>()?.iter().all(|v| (v - 1.0).abs() < 1e-6));
/// # Ok(()) }
/// ```
pub struct Lbfgs {
    params: Vec<Param>,
    line_search_fn: Option<LineSearchFn>,
    /// The shape of each parameter that the state was made for.
    fitted: Vec<Vec<usize>>,
    lr: f64,
    max_iter: usize,
    max_eval: Option<usize>,
    tolerance_grad: f64,
    tolerance_change: f64,
    history_size: usize,
    state: LbfgsState,
}

/// The persistent state of [`Lbfgs`] between steps: flat vectors as [`Buffer`]s (tensors in the
/// parameters' dtype; serialized with their values) and host scalars.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LbfgsState {
    /// Total iterations.
    pub n_iter: u64,
    /// Total function evaluations.
    pub func_evals: u64,
    /// Last direction.
    pub d: Option<Buffer>,
    /// Last step length.
    pub t: f64,
    /// Gradient differences `y`.
    pub old_dirs: Vec<Buffer>,
    /// Steps `s`.
    pub old_stps: Vec<Buffer>,
    /// `1 / y.s` (read when the pair was kept: the curvature test reads `y.s`).
    pub ro: Vec<f64>,
    /// Initial inverse-Hessian scale `y.s / y.y` (a 0-d tensor).
    pub h_diag: Option<Buffer>,
    /// Gradient at the previous iterate.
    pub prev_flat_grad: Option<Buffer>,
}

impl LbfgsState {
    /// Every flat vector of the state (not `h_diag`), for checks and casts.
    fn vectors_mut(&mut self) -> impl Iterator<Item = &mut Buffer> {
        self.d
            .iter_mut()
            .chain(self.prev_flat_grad.iter_mut())
            .chain(self.old_dirs.iter_mut())
            .chain(self.old_stps.iter_mut())
    }
}

/// A flat vector stored in the state: results of ops, never written in place, so kept without
/// a copy.
fn keep(t: &Tensor) -> Result<Buffer> {
    Ok(Buffer::from_result(t.clone()))
}

impl Lbfgs {
    /// L-BFGS over plain tensors, each held as it is (a [`Param::from_tensor`] handle of its
    /// own, as [`Optimizer::new`](crate::Optimizer::new)), with torch's defaults.
    pub fn new(params: &[Tensor]) -> Lbfgs {
        let handles: Vec<Param> = params.iter().cloned().map(Param::from_tensor).collect();
        Lbfgs::with_params(&handles)
    }

    /// L-BFGS over parameter handles (typically a model's `parameters()`), with torch's
    /// defaults: it follows the parameters when they are frozen or cast after it was built.
    ///
    /// ```
    /// use gradus_optim::Lbfgs;
    /// use gradus_tensor::{DType, Param, Tensor};
    /// # fn main() -> gradus_optim::Result<()> {
    /// let w = Param::new(Tensor::from_vec(vec![3.0f64, -2.0], &[2])?);
    /// let mut opt = Lbfgs::with_params(&[w.clone()]);
    /// w.cast(DType::F32)?; // the optimizer follows the handle
    /// opt.step(|| {
    ///     let l = w.tensor().powf(2.0)?.sum_all()?;
    ///     l.backward()?;
    ///     Ok(l.item()?)
    /// })?;
    /// assert!(w.tensor().to_vec::<f32>()?.iter().all(|v| v.abs() < 1e-4));
    /// # Ok(()) }
    /// ```
    pub fn with_params(params: &[Param]) -> Lbfgs {
        Lbfgs {
            fitted: params.iter().map(Param::shape).collect(),
            params: params.to_vec(),
            line_search_fn: Some(LineSearchFn::StrongWolfe),
            lr: 1.0,
            max_iter: 20,
            max_eval: None,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
            history_size: 100,
            state: LbfgsState::default(),
        }
    }
    /// The line search (default `Some(LineSearchFn::StrongWolfe)`); `None` moves by the fixed
    /// step `t` (torch's default `line_search_fn=None`).
    ///
    /// ```
    /// use gradus_optim::Lbfgs;
    /// use gradus_tensor::Tensor;
    /// # fn main() -> gradus_optim::Result<()> {
    /// let x = Tensor::from_vec(vec![3.0f64, -2.0], &[2])?.requires_grad_(true);
    /// let mut opt = Lbfgs::new(&[x.clone()]).line_search_fn(None).lr(0.5);
    /// opt.step(|| {
    ///     let l = x.powf(2.0)?.sum_all()?;
    ///     l.backward()?;
    ///     Ok(l.item()?)
    /// })?;
    /// // as torch: 19 iterations, 20 evaluations, x near 1e-5 (the loss change test stops it)
    /// assert_eq!((opt.state().n_iter, opt.state().func_evals), (19, 20));
    /// assert!(x.to_vec::<f64>()?.iter().all(|v| v.abs() < 2e-5));
    /// # Ok(()) }
    /// ```
    pub fn line_search_fn(mut self, line_search_fn: Option<LineSearchFn>) -> Lbfgs {
        self.line_search_fn = line_search_fn;
        self
    }
    /// Learning rate (the step `t` of every iteration but the very first, which takes
    /// `min(1, 1/|g|_1) lr`; the initial step of the line search when there is one).
    pub fn lr(mut self, lr: f64) -> Lbfgs {
        self.lr = lr;
        self
    }
    /// Iterations per `step`.
    pub fn max_iter(mut self, n: usize) -> Lbfgs {
        self.max_iter = n;
        self
    }
    /// Function evaluations per `step` (default `max_iter * 5 / 4`).
    pub fn max_eval(mut self, n: usize) -> Lbfgs {
        self.max_eval = Some(n);
        self
    }
    /// Stop when `max |g| <= tolerance_grad`.
    pub fn tolerance_grad(mut self, tol: f64) -> Lbfgs {
        self.tolerance_grad = tol;
        self
    }
    /// Stop when the loss or step changes by less than this.
    pub fn tolerance_change(mut self, tol: f64) -> Lbfgs {
        self.tolerance_change = tol;
        self
    }
    /// Number of `(s, y)` pairs kept.
    pub fn history_size(mut self, n: usize) -> Lbfgs {
        self.history_size = n.max(1);
        self
    }
    /// The parameter handles, in the order of the flat vectors.
    pub fn params(&self) -> &[Param] {
        &self.params
    }
    /// The state, for checkpoints.
    pub fn state(&self) -> &LbfgsState {
        &self.state
    }
    /// Restores a state saved with [`Lbfgs::state`] (checked against the parameters at the next
    /// step).
    pub fn load_state(&mut self, state: LbfgsState) {
        self.fitted = self.params.iter().map(Param::shape).collect();
        self.state = state;
    }

    /// The dtype of the flat vectors: the parameters' (f64 when they mix f32 and f64).
    fn flat_dtype(&self) -> DType {
        if self.params.iter().any(|p| p.dtype() == DType::F64) {
            DType::F64
        } else {
            DType::F32
        }
    }

    /// Checks the parameters against the state: a changed shape is an error, a changed dtype
    /// casts the state's vectors to the flat dtype, and the vectors must have the parameters'
    /// total length.
    fn fit_state(&mut self) -> Result<()> {
        for (index, (p, shape)) in self.params.iter().zip(&self.fitted).enumerate() {
            let now = p.shape();
            if now != *shape {
                return Err(OptimError::ParamReshaped {
                    param: ParamRef::in_group(0, index, None),
                    from: shape.clone(),
                    to: now,
                });
            }
        }
        let (dtype, total) = (self.flat_dtype(), self.numel());
        for b in self.state.vectors_mut() {
            if b.shape() != [total] {
                return Err(OptimError::StateMismatch(format!(
                    "L-BFGS: the state holds vectors of shape {:?}, the parameters have {total} \
                     elements",
                    b.shape()
                )));
            }
        }
        let state = &mut self.state;
        let h_diag = state.h_diag.iter_mut();
        for b in h_diag
            .chain(state.d.iter_mut())
            .chain(state.prev_flat_grad.iter_mut())
        {
            if b.dtype() != dtype {
                *b = b.to_dtype(dtype)?;
            }
        }
        for b in state.old_dirs.iter_mut().chain(state.old_stps.iter_mut()) {
            if b.dtype() != dtype {
                *b = b.to_dtype(dtype)?;
            }
        }
        Ok(())
    }

    fn numel(&self) -> usize {
        self.params.iter().map(Param::numel).sum()
    }

    /// The current parameter values, copied (torch's `_clone_param`).
    fn clone_params(&self) -> Result<Vec<Tensor>> {
        self.params.iter().map(|p| snapshot(&p.tensor())).collect()
    }

    /// Sets the trainable parameters to `x + t d` (torch's `_set_param` then `_add_grad`);
    /// frozen ones keep their values.
    fn set_moved(&self, x: &[Tensor], t: f64, d: &Tensor) -> Result<()> {
        let mut offset = 0;
        for (p, x) in self.params.iter().zip(x) {
            let p = p.tensor();
            let n = p.numel();
            if p.requires_grad() {
                let step = d.narrow(0, offset, n)?.reshape(p.shape())?;
                let moved = x.add(&step.to_dtype(p.dtype())?.mul_scalar(t)?)?;
                p.copy_from(&moved)?;
            }
            offset += n;
        }
        Ok(())
    }

    /// Sets the parameters back to `x` (torch's `_set_param`).
    fn set_params(&self, x: &[Tensor]) -> Result<()> {
        for (p, x) in self.params.iter().zip(x) {
            p.tensor().copy_from(x)?;
        }
        Ok(())
    }

    /// The gradients flattened and concatenated, zeros for a parameter without one (torch's
    /// `_gather_flat_grad`), in the flat dtype.
    fn flat_grad(&self) -> Result<Tensor> {
        let dtype = self.flat_dtype();
        let parts = self
            .params
            .iter()
            .map(|p| {
                let t = p.tensor();
                let g = match t.grad() {
                    Some(g) => g.detach(),
                    None => t.zeros_like(),
                };
                Ok(g.reshape(&[t.numel()])?.to_dtype(dtype)?)
            })
            .collect::<Result<Vec<Tensor>>>()?;
        Ok(Tensor::concat(&parts.iter().collect::<Vec<_>>(), 0)?)
    }

    fn evaluate(&self, closure: &mut impl FnMut() -> Result<f64>) -> Result<(f64, Tensor)> {
        self.params.iter().for_each(Param::zero_grad);
        let loss = closure()?;
        if !loss.is_finite() {
            return Err(OptimError::Numerical(format!(
                "L-BFGS: the closure returned a non-finite loss {loss}"
            )));
        }
        Ok((loss, self.flat_grad()?))
    }

    /// Loss and gradient at `x + t d` (parameters restored to `x` afterwards: torch's
    /// `_directional_evaluate`).
    fn directional(
        &self,
        closure: &mut impl FnMut() -> Result<f64>,
        x: &[Tensor],
        t: f64,
        d: &Tensor,
    ) -> Result<(f64, Tensor)> {
        self.set_moved(x, t, d)?;
        let out = self.evaluate(closure);
        self.set_params(x)?;
        out
    }

    /// Two-loop recursion: `-H g`, in tensor ops (the coefficients stay 0-d tensors).
    fn direction(&self, g: &Tensor) -> Result<Tensor> {
        let s = &self.state;
        let n = s.old_dirs.len();
        let mut al = Vec::with_capacity(n);
        let mut q = g.neg()?;
        for i in (0..n).rev() {
            let a = dot(s.old_stps[i].tensor(), &q)?.mul_scalar(s.ro[i])?;
            // q - a y: torch's `q.add_(y, alpha=-a)` without negating `a` first
            q = q.sub(&s.old_dirs[i].tensor().mul(&a)?)?;
            al.push(a);
        }
        al.reverse();
        let mut r = match &s.h_diag {
            Some(h) => q.mul(h.tensor())?,
            None => q,
        };
        for (i, a) in al.iter().enumerate() {
            let be = dot(s.old_dirs[i].tensor(), &r)?.mul_scalar(s.ro[i])?;
            r = r.add(&s.old_stps[i].tensor().mul(&a.sub(&be)?)?)?;
        }
        Ok(r)
    }

    /// Runs up to `max_iter` iterations; `closure` computes the loss, calls `backward()` and
    /// returns the loss value (gradients are cleared before each call). Returns the loss at the
    /// starting point.
    ///
    /// # Errors
    /// When the closure fails or returns a non-finite loss; [`OptimError::ParamReshaped`] when a
    /// parameter was given values of another shape; [`OptimError::StateMismatch`] when a loaded
    /// state does not fit the parameters.
    pub fn step(&mut self, mut closure: impl FnMut() -> Result<f64>) -> Result<f64> {
        self.fit_state()?;
        let max_eval = self.max_eval.unwrap_or(self.max_iter * 5 / 4);
        let (orig_loss, mut flat_grad) = self.evaluate(&mut closure)?;
        let mut loss = orig_loss;
        let mut current_evals = 1;
        self.state.func_evals += 1;
        if max_abs(&flat_grad)? <= self.tolerance_grad {
            return Ok(orig_loss);
        }
        let mut n_iter = 0;
        while n_iter < self.max_iter {
            n_iter += 1;
            self.state.n_iter += 1;
            if self.state.n_iter == 1 {
                self.state.d = Some(keep(&flat_grad.neg()?)?);
                self.state.old_dirs.clear();
                self.state.old_stps.clear();
                self.state.ro.clear();
                self.state.h_diag = None;
            } else {
                self.update_history(&flat_grad)?;
                let d = self.direction(&flat_grad)?;
                self.state.d = Some(keep(&d)?);
            }
            self.state.prev_flat_grad = Some(keep(&flat_grad)?);
            let prev_loss = loss;
            let mut t = if self.state.n_iter == 1 {
                let g_l1 = flat_grad.abs()?.sum_all()?.item()?;
                (1.0f64).min(1.0 / g_l1) * self.lr
            } else {
                self.lr
            };
            // torch stores `t` even when the slope test below ends the step
            self.state.t = t;
            let d = self.state.d.as_ref().map(|d| d.tensor().clone());
            let d = d.ok_or_else(|| OptimError::StateMismatch("L-BFGS: no direction".into()))?;
            let gtd = dot(&flat_grad, &d)?.item()?;
            if gtd > -self.tolerance_change {
                break;
            }
            let d_norm = max_abs(&d)?;
            let mut opt_cond = false;
            match self.line_search_fn {
                Some(LineSearchFn::StrongWolfe) => {
                    let x0 = self.clone_params()?;
                    let ls = strong_wolfe(
                        |t| self.directional(&mut closure, &x0, t, &d),
                        LineSearchStart {
                            t,
                            d: &d,
                            d_norm,
                            f: loss,
                            g: &flat_grad,
                            gtd,
                            max_ls: max_eval.saturating_sub(current_evals),
                        },
                    )?;
                    (loss, flat_grad, t) = (ls.f, ls.g, ls.t);
                    self.set_moved(&x0, t, &d)?;
                    opt_cond = max_abs(&flat_grad)? <= self.tolerance_grad;
                    current_evals += ls.evals;
                    self.state.func_evals += ls.evals as u64;
                }
                None => {
                    // p + t d straight from the current values (nothing to restore: no copy)
                    let x: Vec<Tensor> = self.params.iter().map(|p| p.tensor().detach()).collect();
                    self.set_moved(&x, t, &d)?;
                    if n_iter != self.max_iter {
                        (loss, flat_grad) = self.evaluate(&mut closure)?;
                        opt_cond = max_abs(&flat_grad)? <= self.tolerance_grad;
                        current_evals += 1;
                        self.state.func_evals += 1;
                    }
                }
            }
            self.state.t = t;
            if n_iter == self.max_iter
                || current_evals >= max_eval
                || opt_cond
                || d_norm * t.abs() <= self.tolerance_change
                || (loss - prev_loss).abs() < self.tolerance_change
            {
                break;
            }
        }
        Ok(orig_loss)
    }

    /// Keeps the pair `s = t d`, `y = g - g_prev` when its curvature `y.s` exceeds 1e-10 (the
    /// oldest pair dropped past `history_size`), with `H_0 = y.s / y.y`.
    fn update_history(&mut self, flat_grad: &Tensor) -> Result<()> {
        let s = &mut self.state;
        let (prev, d) = match (&s.prev_flat_grad, &s.d) {
            (Some(prev), Some(d)) => (prev.tensor(), d.tensor()),
            _ => {
                return Err(OptimError::StateMismatch(
                    "L-BFGS: the state counts iterations but holds no direction".into(),
                ))
            }
        };
        let y = flat_grad.sub(prev)?;
        let st = d.mul_scalar(s.t)?;
        let ys_t = dot(&y, &st)?;
        let ys = ys_t.item()?;
        if ys > 1e-10 {
            if s.old_dirs.len() == self.history_size {
                s.old_dirs.remove(0);
                s.old_stps.remove(0);
                s.ro.remove(0);
            }
            s.h_diag = Some(keep(&ys_t.div(&dot(&y, &y)?)?)?);
            s.old_dirs.push(keep(&y)?);
            s.old_stps.push(keep(&st)?);
            s.ro.push(1.0 / ys);
        }
        Ok(())
    }
}

/// torch's `_cubic_interpolate`: the minimiser of the cubic through two points with slopes.
fn cubic_interpolate(
    x1: f64,
    f1: f64,
    g1: f64,
    x2: f64,
    f2: f64,
    g2: f64,
    bounds: Option<(f64, f64)>,
) -> f64 {
    let (lo, hi) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        min_pos.max(lo).min(hi)
    } else {
        (lo + hi) / 2.0
    }
}

struct LineSearch {
    f: f64,
    g: Tensor,
    t: f64,
    evals: usize,
}

/// One bracket end: step, loss, gradient and directional derivative.
#[derive(Clone)]
struct Point {
    t: f64,
    f: f64,
    g: Tensor,
    gtd: f64,
}

/// Where a line search starts: step, direction, the slope's scale `max |d|`, loss, gradient
/// and slope at `t = 0`, and the most iterations (torch's `max_ls`: `max_eval` less the
/// evaluations spent).
struct LineSearchStart<'a> {
    t: f64,
    d: &'a Tensor,
    d_norm: f64,
    f: f64,
    g: &'a Tensor,
    gtd: f64,
    max_ls: usize,
}

/// torch's `_strong_wolfe` with its defaults (c1 1e-4, c2 0.9, tolerance_change 1e-9: torch's
/// `LBFGS.step` passes only `max_ls`, never its own `tolerance_change`).
fn strong_wolfe(
    mut obj: impl FnMut(f64) -> Result<(f64, Tensor)>,
    start: LineSearchStart<'_>,
) -> Result<LineSearch> {
    let (c1, c2, tolerance_change) = (1e-4, 0.9, 1e-9);
    let LineSearchStart {
        mut t,
        d,
        d_norm,
        f,
        g,
        gtd,
        max_ls,
    } = start;
    let (f_new, g_new) = obj(t)?;
    let mut evals = 1;
    let mut new = Point {
        t,
        f: f_new,
        gtd: dot(&g_new, d)?.item()?,
        g: g_new,
    };
    let mut prev = Point {
        t: 0.0,
        f,
        g: g.clone(),
        gtd,
    };
    let mut done = false;
    let mut ls_iter = 0;
    let mut bracket: Vec<Point> = Vec::new();
    while ls_iter < max_ls {
        if new.f > f + c1 * new.t * gtd || (ls_iter > 1 && new.f >= prev.f) {
            bracket = vec![prev.clone(), new.clone()];
            break;
        }
        if new.gtd.abs() <= -c2 * gtd {
            bracket = vec![new.clone()];
            done = true;
            break;
        }
        if new.gtd >= 0.0 {
            bracket = vec![prev.clone(), new.clone()];
            break;
        }
        let (min_step, max_step) = (new.t + 0.01 * (new.t - prev.t), new.t * 10.0);
        t = cubic_interpolate(
            prev.t,
            prev.f,
            prev.gtd,
            new.t,
            new.f,
            new.gtd,
            Some((min_step, max_step)),
        );
        prev = new;
        let (f_new, g_new) = obj(t)?;
        evals += 1;
        new = Point {
            t,
            f: f_new,
            gtd: dot(&g_new, d)?.item()?,
            g: g_new,
        };
        ls_iter += 1;
    }
    if ls_iter == max_ls {
        bracket = vec![
            Point {
                t: 0.0,
                f,
                g: g.clone(),
                gtd,
            },
            new.clone(),
        ];
    }
    let order = |b: &[Point]| {
        if b[0].f <= b[b.len() - 1].f {
            (0, 1)
        } else {
            (1, 0)
        }
    };
    let (mut low, mut high) = order(&bracket);
    let mut insuf_progress = false;
    while !done && ls_iter < max_ls && bracket.len() == 2 {
        if (bracket[1].t - bracket[0].t).abs() * d_norm < tolerance_change {
            break;
        }
        let (b0, b1) = (&bracket[0], &bracket[1]);
        t = cubic_interpolate(b0.t, b0.f, b0.gtd, b1.t, b1.f, b1.gtd, None);
        let (bmax, bmin) = (b0.t.max(b1.t), b0.t.min(b1.t));
        let eps = 0.1 * (bmax - bmin);
        if (bmax - t).min(t - bmin) < eps {
            if insuf_progress || t >= bmax || t <= bmin {
                t = if (t - bmax).abs() < (t - bmin).abs() {
                    bmax - eps
                } else {
                    bmin + eps
                };
                insuf_progress = false;
            } else {
                insuf_progress = true;
            }
        } else {
            insuf_progress = false;
        }
        let (f_new, g_new) = obj(t)?;
        evals += 1;
        ls_iter += 1;
        let p = Point {
            t,
            f: f_new,
            gtd: dot(&g_new, d)?.item()?,
            g: g_new,
        };
        if p.f > f + c1 * t * gtd || p.f >= bracket[low].f {
            bracket[high] = p;
            (low, high) = order(&bracket);
        } else {
            if p.gtd.abs() <= -c2 * gtd {
                done = true;
            } else if p.gtd * (bracket[high].t - bracket[low].t) >= 0.0 {
                bracket[high] = bracket[low].clone();
            }
            bracket[low] = p;
        }
    }
    let best = bracket.swap_remove(if bracket.len() == 1 { 0 } else { low });
    Ok(LineSearch {
        f: best.f,
        g: best.g,
        t: best.t,
        evals,
    })
}
