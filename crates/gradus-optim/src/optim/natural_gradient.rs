//! The exact natural gradient for small models: the damped empirical Fisher from per-sample
//! gradients, solved by conjugate gradient with Fisher-vector products (Amari 1998; the
//! matrix-free solve of Martens 2010's Hessian-free method, with the Fisher for the Hessian).

use super::curvature::{grad_matrix, layer_rows, layers, split_matrix, Layer};
use crate::error::{check, check_lr_schedule};
use crate::kernel::check_pairs;
use crate::{GradientTransformation, OptimError, Result, Schedule, State};
use gradus_tensor::capture::{self, LayerCapture};
use gradus_tensor::{DType, Tensor};

/// Natural gradient descent `θ ← θ - lr (F + λI)⁻¹ ∇L` with the **empirical** Fisher
/// `F = (1/n) Σᵢ ∇ℓᵢ ∇ℓᵢᵀ` of the batch's per-sample gradients (Martens 2020, "New insights and
/// perspectives on the natural gradient method", §11 discusses this choice against the true
/// Fisher, whose labels are sampled from the model).
///
/// The per-sample gradients of `Linear` and `Conv2d` layers are exact and come from
/// [`gradus_tensor::capture`] (`∇ℓᵢ` of a weight is `Σₜ gᵢₜ āᵢₜᵀ`; [`GradientTransformation::init`]
/// turns capturing on for the calling thread). The system is solved matrix-free by conjugate
/// gradient with Fisher-vector products `Fv = Jᵀ(Jv)/n` (`J`: the `[n, P]` per-sample
/// gradients, never `F` itself), to relative residual `cg_tol` or `cg_max_iter` iterations. Meant
/// for small models (`J` holds n·P values). Parameters outside Linear/Conv2d layers get the
/// plain gradient step. Each step needs exactly one forward pass per layer (no gradient
/// accumulation); the loss is taken to be a batch mean.
///
/// ```
/// use gradus_nn::{layers::Linear, Module};
/// use gradus_optim::{NaturalGradient, Optimizer};
/// use gradus_tensor::{DType, Rng, Tensor};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let lin = Linear::new(2, 1, true, &mut Rng::seed(0));
/// let params: Vec<Tensor> = lin.parameters().iter().map(|p| p.tensor()).collect();
/// let mut opt = Optimizer::new(NaturalGradient::new(0.5).damping(1e-3), &params)?;
/// let x = Tensor::from_vec(vec![1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2])?;
/// let y = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3, 1])?;
/// for _ in 0..5 {
///     opt.zero_grad();
///     lin.forward(&x)?.sub(&y)?.powf(2.0)?.mean_all()?.backward()?;
///     opt.step()?;
/// }
/// # gradus_tensor::capture::enable(false);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct NaturalGradient {
    lr: Schedule,
    damping: f64,
    cg_tol: f64,
    cg_max_iter: usize,
}

impl NaturalGradient {
    /// Natural gradient with learning rate `lr`, damping 1e-3, CG tolerance 1e-10 and at most
    /// 500 CG iterations.
    pub fn new(lr: impl Into<Schedule>) -> NaturalGradient {
        NaturalGradient {
            lr: lr.into(),
            damping: 1e-3,
            cg_tol: 1e-10,
            cg_max_iter: 500,
        }
    }
    /// Tikhonov damping λ added to the Fisher (1e-3).
    pub fn damping(mut self, damping: f64) -> NaturalGradient {
        self.damping = damping;
        self
    }
    /// CG stops at residual norm `cg_tol · |∇L|` (1e-10).
    pub fn cg_tol(mut self, tol: f64) -> NaturalGradient {
        self.cg_tol = tol;
        self
    }
    /// CG stops after this many iterations (500).
    pub fn cg_max_iter(mut self, iters: usize) -> NaturalGradient {
        self.cg_max_iter = iters;
        self
    }

    /// `(F + λI)⁻¹ ∇L` for the layers' parameters, written into `updates` (not yet scaled by
    /// `-lr`).
    fn solve(
        &self,
        captures: &[LayerCapture],
        updates: &mut [Tensor],
        params: &[Tensor],
    ) -> Result<()> {
        let found = layers(captures, params);
        let (mut js, mut gs, mut n) = (Vec::new(), Vec::new(), None);
        for l in &found {
            let rows = layer_rows(captures, params[l.weight].id(), l.bias.is_some())?;
            let [(a, g, batch)] = <[_; 1]>::try_from(rows).map_err(|rows: Vec<_>| {
                OptimError::Numerical(format!(
                    "natural gradient: parameter {} had {} forward passes with gradients in this step; it needs exactly one",
                    l.weight,
                    rows.len()
                ))
            })?;
            check(n.is_none_or(|n| n == batch), || {
                "natural gradient: layers saw batches of different sizes".into()
            })?;
            n = Some(batch);
            let positions = a.shape()[0] / batch.max(1);
            let a3 = a.reshape(&[batch, positions, a.shape()[1]])?;
            let g3 = g.reshape(&[batch, positions, g.shape()[1]])?;
            let per_sample = g3.permute(&[0, 2, 1])?.matmul(&a3)?; // [n, out, in(+1)]
            js.push(per_sample.reshape(&[batch, per_sample.numel() / batch.max(1)])?);
            let x = grad_matrix(&updates[l.weight], l.bias.map(|b| &updates[b]))?;
            gs.push(x.reshape(&[x.numel()])?);
        }
        let Some(n) = n else {
            return Ok(());
        };
        let j = Tensor::concat(&js.iter().collect::<Vec<_>>(), 1)?; // [n, P]
        let b = Tensor::concat(&gs.iter().collect::<Vec<_>>(), 0)?; // [P]
        let x = self.cg(&j, &b, n)?;
        let mut at = 0;
        for l in &found {
            let w = &updates[l.weight];
            let cols = w.numel() / w.shape()[0] + usize::from(l.bias.is_some());
            let len = w.shape()[0] * cols;
            let m = x.narrow(0, at, len)?.reshape(&[w.shape()[0], cols])?;
            at += len;
            let (vw, vb) = split_matrix(&m, w, l.bias.map(|b| &updates[b]))?;
            let Layer { weight, bias } = *l;
            updates[weight] = vw;
            if let (Some(b), Some(vb)) = (bias, vb) {
                updates[b] = vb;
            }
        }
        Ok(())
    }

    /// Conjugate gradient for `(JᵀJ/n + λI) x = b`.
    fn cg(&self, j: &Tensor, b: &Tensor, n: usize) -> Result<Tensor> {
        let fvp = |v: &Tensor| -> Result<Tensor> {
            let jv = j.matmul(v)?; // [n]
            Ok(j.t()?
                .matmul(&jv)?
                .mul_scalar(1.0 / n as f64)?
                .add(&v.mul_scalar(self.damping)?)?)
        };
        let dot = |a: &Tensor, c: &Tensor| -> Result<f64> { Ok(a.mul(c)?.sum_all()?.item()?) };
        let mut x = Tensor::zeros(b.shape(), DType::F64);
        let mut r = b.mul_scalar(1.0)?;
        let mut p = r.mul_scalar(1.0)?;
        let mut rs = dot(&r, &r)?;
        let stop = self.cg_tol * rs.sqrt();
        for _ in 0..self.cg_max_iter {
            if rs.sqrt() <= stop || rs == 0.0 {
                break;
            }
            let ap = fvp(&p)?;
            let alpha = rs / dot(&p, &ap)?;
            x = x.add(&p.mul_scalar(alpha)?)?;
            r = r.sub(&ap.mul_scalar(alpha)?)?;
            let next = dot(&r, &r)?;
            p = r.add(&p.mul_scalar(next / rs)?)?;
            rs = next;
        }
        check(x.to_vec::<f64>()?.iter().all(|v| v.is_finite()), || {
            "natural gradient: the conjugate-gradient solve gave non-finite values (raise the damping)".into()
        })?;
        Ok(x)
    }
}

impl GradientTransformation for NaturalGradient {
    fn init(&self, _params: &[Tensor]) -> Result<State> {
        check_lr_schedule(&self.lr)?;
        check(self.damping > 0.0, || {
            format!("Invalid damping value: {} (must be > 0)", self.damping)
        })?;
        check(self.cg_tol >= 0.0 && self.cg_max_iter >= 1, || {
            format!(
                "Invalid cg_tol / cg_max_iter: {} / {} (must be >= 0 / >= 1)",
                self.cg_tol, self.cg_max_iter
            )
        })?;
        capture::enable(true);
        Ok(State::default())
    }

    fn update(&self, updates: &mut [Tensor], state: &mut State, params: &[Tensor]) -> Result<()> {
        check_pairs(params, updates)?;
        let t = state.count;
        state.count += 1;
        self.solve(&capture::take(), updates, params)?;
        let lr = self.lr.value(t);
        for u in updates.iter_mut() {
            *u = u.mul_scalar(-lr)?;
        }
        Ok(())
    }
}
