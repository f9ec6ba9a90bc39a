//! L-BFGS with a strong-Wolfe line search (PyTorch `torch.optim.LBFGS(line_search_fn="strong_wolfe")`).
//!
//! A host boundary by design, as in PyTorch (which flattens the parameters into one vector): the
//! two-loop recursion and the line search are short sequential dense algebra on one flat vector,
//! with a branch per step on scalars (curvature, Wolfe conditions) that the host must read anyway.
//! So the parameters and gradients are read into a host `Vec<f64>` through the explicit transfer
//! API (`to_vec_f64`, `update_data`) once per function evaluation, not per element of a rule.

use crate::error::at;
use crate::{OptimError, Result};
use gradus_tensor::{DType, Tensor};
use serde::{Deserialize, Serialize};

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// L-BFGS, closure-based, with PyTorch's algorithm and defaults (`lr` 1, `max_iter` 20,
/// `max_eval` 25, `tolerance_grad` 1e-7, `tolerance_change` 1e-9, `history_size` 100) and the
/// strong-Wolfe line search (`c1` 1e-4, `c2` 0.9, 25 evaluations at most).
///
/// Each [`Lbfgs::step`] runs up to `max_iter` iterations:
/// ```text
/// d <- -H g   (two-loop recursion over the last history_size pairs s = t d, y = g_new - g,
///              kept when y.s > 1e-10; H_0 = (y.s / y.y) I)
/// t <- strong-Wolfe line search along d (first iteration starts at min(1, 1/|g|_1) lr)
/// p <- p + t d
/// ```
/// The state (history, direction, counters) is serializable ([`Lbfgs::state`]).
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
    params: Vec<Tensor>,
    lr: f64,
    max_iter: usize,
    max_eval: Option<usize>,
    tolerance_grad: f64,
    tolerance_change: f64,
    history_size: usize,
    state: LbfgsState,
}

/// The persistent state of [`Lbfgs`] between steps.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LbfgsState {
    /// Total iterations.
    pub n_iter: u64,
    /// Total function evaluations.
    pub func_evals: u64,
    /// Last direction.
    pub d: Vec<f64>,
    /// Last step length.
    pub t: f64,
    /// Gradient differences `y`.
    pub old_dirs: Vec<Vec<f64>>,
    /// Steps `s`.
    pub old_stps: Vec<Vec<f64>>,
    /// `1 / y.s`.
    pub ro: Vec<f64>,
    /// Initial inverse-Hessian scale.
    pub h_diag: f64,
    /// Gradient at the previous iterate.
    pub prev_flat_grad: Vec<f64>,
}

impl Lbfgs {
    /// L-BFGS over `params` with torch's defaults.
    pub fn new(params: &[Tensor]) -> Lbfgs {
        Lbfgs {
            params: params.to_vec(),
            lr: 1.0,
            max_iter: 20,
            max_eval: None,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
            history_size: 100,
            state: LbfgsState::default(),
        }
    }
    /// Learning rate (scales the initial step of each line search).
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
    /// The state, for checkpoints.
    pub fn state(&self) -> &LbfgsState {
        &self.state
    }
    /// Restores a state saved with [`Lbfgs::state`].
    pub fn load_state(&mut self, state: LbfgsState) {
        self.state = state;
    }

    fn flat_params(&self) -> Vec<f64> {
        self.params.iter().flat_map(|p| p.to_vec_f64()).collect()
    }

    fn set_params(&self, x: &[f64]) -> Result<()> {
        let mut off = 0;
        for (i, p) in self.params.iter().enumerate() {
            let n = p.numel();
            let v = &x[off..off + n];
            match p.dtype() {
                DType::F64 => p
                    .update_data(|d: &mut [f64]| d.copy_from_slice(v))
                    .map_err(at(i))?,
                DType::F32 => p
                    .update_data(|d: &mut [f32]| {
                        d.iter_mut().zip(v).for_each(|(a, &b)| *a = b as f32)
                    })
                    .map_err(at(i))?,
                other => {
                    return Err(OptimError::at_param(
                        i,
                        OptimError::StateMismatch(format!("L-BFGS: unsupported dtype {other:?}")),
                    ))
                }
            }
            off += n;
        }
        Ok(())
    }

    fn flat_grad(&self) -> Result<Vec<f64>> {
        let mut out = Vec::new();
        for p in &self.params {
            match p.grad() {
                Some(g) => out.extend(g.to_vec_f64()),
                None => out.extend(std::iter::repeat(0.0).take(p.numel())),
            }
        }
        Ok(out)
    }

    fn evaluate(&self, closure: &mut impl FnMut() -> Result<f64>) -> Result<(f64, Vec<f64>)> {
        self.params.iter().for_each(|p| p.set_grad(None));
        let loss = closure()?;
        if !loss.is_finite() {
            return Err(OptimError::Numerical(format!(
                "L-BFGS: the closure returned a non-finite loss {loss}"
            )));
        }
        Ok((loss, self.flat_grad()?))
    }

    /// Loss and gradient at `x + t d` (parameters restored to `x` afterwards).
    fn directional(
        &self,
        closure: &mut impl FnMut() -> Result<f64>,
        x: &[f64],
        t: f64,
        d: &[f64],
    ) -> Result<(f64, Vec<f64>)> {
        let moved: Vec<f64> = x.iter().zip(d).map(|(x, d)| x + t * d).collect();
        self.set_params(&moved)?;
        let out = self.evaluate(closure);
        self.set_params(x)?;
        out
    }

    /// Two-loop recursion: `-H g`.
    fn direction(&self, g: &[f64]) -> Vec<f64> {
        let s = &self.state;
        let n = s.old_dirs.len();
        let mut al = vec![0.0; n];
        let mut q: Vec<f64> = g.iter().map(|x| -x).collect();
        for i in (0..n).rev() {
            al[i] = dot(&s.old_stps[i], &q) * s.ro[i];
            q.iter_mut()
                .zip(&s.old_dirs[i])
                .for_each(|(q, y)| *q -= al[i] * y);
        }
        let mut r: Vec<f64> = q.iter().map(|q| q * s.h_diag).collect();
        for (i, a) in al.iter().enumerate() {
            let be = dot(&s.old_dirs[i], &r) * s.ro[i];
            r.iter_mut()
                .zip(&s.old_stps[i])
                .for_each(|(r, st)| *r += (a - be) * st);
        }
        r
    }

    /// Runs up to `max_iter` iterations; `closure` computes the loss, calls `backward()` and
    /// returns the loss value (gradients are cleared before each call). Returns the loss at the
    /// starting point.
    ///
    /// # Errors
    /// When the closure fails or returns a non-finite loss.
    pub fn step(&mut self, mut closure: impl FnMut() -> Result<f64>) -> Result<f64> {
        let max_eval = self.max_eval.unwrap_or(self.max_iter * 5 / 4);
        let (orig_loss, mut flat_grad) = self.evaluate(&mut closure)?;
        let mut loss = orig_loss;
        let mut current_evals = 1;
        self.state.func_evals += 1;
        if max_abs(&flat_grad) <= self.tolerance_grad {
            return Ok(orig_loss);
        }
        let mut n_iter = 0;
        while n_iter < self.max_iter {
            n_iter += 1;
            self.state.n_iter += 1;
            if self.state.n_iter == 1 {
                self.state.d = flat_grad.iter().map(|g| -g).collect();
                self.state.old_dirs.clear();
                self.state.old_stps.clear();
                self.state.ro.clear();
                self.state.h_diag = 1.0;
            } else {
                let s = &mut self.state;
                let y: Vec<f64> = flat_grad
                    .iter()
                    .zip(&s.prev_flat_grad)
                    .map(|(a, b)| a - b)
                    .collect();
                let st: Vec<f64> = s.d.iter().map(|d| d * s.t).collect();
                let ys = dot(&y, &st);
                if ys > 1e-10 {
                    if s.old_dirs.len() == self.history_size {
                        s.old_dirs.remove(0);
                        s.old_stps.remove(0);
                        s.ro.remove(0);
                    }
                    s.h_diag = ys / dot(&y, &y);
                    s.old_dirs.push(y);
                    s.old_stps.push(st);
                    s.ro.push(1.0 / ys);
                }
                self.state.d = self.direction(&flat_grad);
            }
            self.state.prev_flat_grad = flat_grad.clone();
            let prev_loss = loss;
            let mut t = if self.state.n_iter == 1 {
                (1.0f64).min(1.0 / flat_grad.iter().map(|g| g.abs()).sum::<f64>()) * self.lr
            } else {
                self.lr
            };
            let d = self.state.d.clone();
            let gtd = dot(&flat_grad, &d);
            if gtd > -self.tolerance_change {
                break;
            }
            let x0 = self.flat_params();
            let ls = strong_wolfe(
                |t| self.directional(&mut closure, &x0, t, &d),
                t,
                &d,
                loss,
                &flat_grad,
                gtd,
                self.tolerance_change,
            )?;
            (loss, flat_grad, t) = (ls.f, ls.g, ls.t);
            self.state.t = t;
            let moved: Vec<f64> = x0.iter().zip(&d).map(|(x, d)| x + t * d).collect();
            self.set_params(&moved)?;
            current_evals += ls.evals;
            self.state.func_evals += ls.evals as u64;
            if n_iter == self.max_iter
                || current_evals >= max_eval
                || max_abs(&flat_grad) <= self.tolerance_grad
                || max_abs(&d) * t.abs() <= self.tolerance_change
                || (loss - prev_loss).abs() < self.tolerance_change
            {
                break;
            }
        }
        Ok(orig_loss)
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
    g: Vec<f64>,
    t: f64,
    evals: usize,
}

/// One bracket end: step, loss, gradient and directional derivative.
#[derive(Clone)]
struct Point {
    t: f64,
    f: f64,
    g: Vec<f64>,
    gtd: f64,
}

/// torch's `_strong_wolfe` (c1 1e-4, c2 0.9, max 25 evaluations).
#[allow(clippy::too_many_arguments)]
fn strong_wolfe(
    mut obj: impl FnMut(f64) -> Result<(f64, Vec<f64>)>,
    mut t: f64,
    d: &[f64],
    f: f64,
    g: &[f64],
    gtd: f64,
    tolerance_change: f64,
) -> Result<LineSearch> {
    let (c1, c2, max_ls) = (1e-4, 0.9, 25);
    let d_norm = max_abs(d);
    let (f_new, g_new) = obj(t)?;
    let mut evals = 1;
    let mut new = Point {
        t,
        f: f_new,
        gtd: dot(&g_new, d),
        g: g_new,
    };
    let mut prev = Point {
        t: 0.0,
        f,
        g: g.to_vec(),
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
            gtd: dot(&g_new, d),
            g: g_new,
        };
        ls_iter += 1;
    }
    if ls_iter == max_ls {
        bracket = vec![
            Point {
                t: 0.0,
                f,
                g: g.to_vec(),
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
            gtd: dot(&g_new, d),
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
