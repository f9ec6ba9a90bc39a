//! K-FAC: Kronecker-factored approximate curvature (Martens & Grosse 2015; Conv2d layers as in
//! KFC, Grosse & Martens 2016), with the update rule of the KFAC-pytorch implementations
//! (KL-clipping, then SGD with momentum and weight decay).

use super::curvature::{grad_matrix, inverse, layer_rows, layers, split_matrix, trace, Layer};
use crate::error::{check, check_lr_schedule, check_nonneg};
use crate::kernel::check_pairs;
use crate::{Buffer, GradientTransformation, Result, Schedule, Sgd, State};
use gradus_tensor::capture::{self, LayerCapture};
use gradus_tensor::Tensor;

/// K-FAC (Martens & Grosse 2015) for `Linear` and `Conv2d` layers (KFC, Grosse & Martens 2016).
///
/// For a layer `s = W ā` (ā: the input with a 1 appended when the layer has a bias, `W` the
/// weight with the bias as last column) the Fisher block is approximated by `A ⊗ G` with
/// `A = E[ā āᵀ]` (Conv2d: summed over spatial positions, KFC's Ω) and `G = E[g gᵀ]` (g: the
/// per-sample gradient of the loss with respect to `s`; Conv2d: averaged over positions, KFC's
/// Γ). Both are running averages `A ← ε A + (1-ε) Â` (`stat_decay` ε; the first estimate is
/// taken as is) refreshed every `stat_freq` steps. Every `inv_freq` steps the damped factors are
/// inverted with factored Tikhonov damping and the π-correction (Martens & Grosse §6.3):
/// `π = sqrt((tr A / dim A) / (tr G / dim G))`, `(A + π√λ I)⁻¹` and `(G + √λ/π I)⁻¹`. The
/// preconditioned gradient of a layer is `V = (G + √λ/π I)⁻¹ ∇W (A + π√λ I)⁻¹`.
///
/// **Which Fisher**: `g` is the gradient of the training loss with the batch's own labels, so
/// this is K-FAC on the *empirical* Fisher (as KFAC-pytorch's `kfac` with the true labels, and
/// the "empirical" option of kfac-jax); the true Fisher would need a second backward pass with
/// labels sampled from the model, which the training step does not make. The loss is taken to be
/// a batch mean.
///
/// The update (KFAC-pytorch): KL-clipping `ν = min(1, sqrt(kl_clip / (lr² Σ V·∇W)))` over the
/// K-FAC layers, `V ← ν V`, then [`Sgd`] with `momentum` and (L2) `weight_decay`. Parameters of
/// other layers (norms, embeddings) get the plain gradient through the same SGD.
///
/// The statistics come from [`gradus_tensor::capture`]: [`GradientTransformation::init`] turns
/// capturing on for the calling thread, so the model's forward passes on that thread record
/// their layers. State: `inner[0]` the SGD state, `inner[1].inner[i]` the factors `A, G, A_inv,
/// G_inv` (f64) of the layer whose weight is parameter `i`.
///
/// Defaults are KFAC-pytorch's: momentum 0.9, stat_decay 0.95, damping 1e-3, kl_clip 1e-3,
/// stat_freq 10, inv_freq 100, no weight decay.
///
/// ```
/// use gradus_nn::{layers::Linear, Module};
/// use gradus_optim::{Kfac, Optimizer};
/// use gradus_tensor::{Rng, Tensor};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let lin = Linear::new(3, 2, true, &mut Rng::seed(0));
/// let mut opt = Optimizer::new(Kfac::new(0.1).stat_freq(1).inv_freq(1), &lin.parameters().iter().map(|p| p.tensor()).collect::<Vec<_>>())?;
/// let x = Tensor::ones(&[4, 3], gradus_tensor::DType::F32);
/// for _ in 0..3 {
///     opt.zero_grad();
///     lin.forward(&x)?.powf(2.0)?.mean_all()?.backward()?;
///     opt.step()?;
/// }
/// # gradus_tensor::capture::enable(false);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Kfac {
    lr: Schedule,
    momentum: f64,
    weight_decay: f64,
    damping: f64,
    stat_decay: f64,
    kl_clip: f64,
    stat_freq: u64,
    inv_freq: u64,
}

const FACTORS: [&str; 4] = ["A", "G", "A_inv", "G_inv"];

impl Kfac {
    /// K-FAC with learning rate `lr` and KFAC-pytorch's defaults.
    pub fn new(lr: impl Into<Schedule>) -> Kfac {
        Kfac {
            lr: lr.into(),
            momentum: 0.9,
            weight_decay: 0.0,
            damping: 1e-3,
            stat_decay: 0.95,
            kl_clip: 1e-3,
            stat_freq: 10,
            inv_freq: 100,
        }
    }
    /// SGD momentum applied after preconditioning (0.9).
    pub fn momentum(mut self, momentum: f64) -> Kfac {
        self.momentum = momentum;
        self
    }
    /// L2 weight decay added to the preconditioned gradient (0).
    pub fn weight_decay(mut self, weight_decay: f64) -> Kfac {
        self.weight_decay = weight_decay;
        self
    }
    /// Tikhonov damping λ (1e-3), split between the factors by the π-correction.
    pub fn damping(mut self, damping: f64) -> Kfac {
        self.damping = damping;
        self
    }
    /// Decay ε of the factors' running averages (0.95).
    pub fn stat_decay(mut self, stat_decay: f64) -> Kfac {
        self.stat_decay = stat_decay;
        self
    }
    /// The KL-clipping bound (1e-3); 0 turns clipping off.
    pub fn kl_clip(mut self, kl_clip: f64) -> Kfac {
        self.kl_clip = kl_clip;
        self
    }
    /// Steps between factor updates (KFAC-pytorch's `TCov`, 10).
    pub fn stat_freq(mut self, steps: u64) -> Kfac {
        self.stat_freq = steps;
        self
    }
    /// Steps between factor inversions (KFAC-pytorch's `TInv`, 100).
    pub fn inv_freq(mut self, steps: u64) -> Kfac {
        self.inv_freq = steps;
        self
    }

    fn sgd(&self) -> Sgd {
        Sgd::new(self.lr.clone())
            .momentum(self.momentum)
            .weight_decay(self.weight_decay)
    }

    /// The preconditioned gradients `V` of the K-FAC layers (in place in `updates`), before
    /// KL-clipping: refreshes the factors and their inverses as due at step `t`. Returns the
    /// layers and `Σ V·∇W`.
    fn precondition(
        &self,
        captures: &[LayerCapture],
        t: u64,
        updates: &mut [Tensor],
        factors: &mut State,
        params: &[Tensor],
    ) -> Result<Vec<Layer>> {
        let mut done = Vec::new();
        for layer in layers(captures, params) {
            let f = &mut factors.inner[layer.weight];
            if t.is_multiple_of(self.stat_freq) || f.slots.is_empty() {
                self.update_factors(captures, params, layer, f)?;
            }
            if f.slots.is_empty() {
                continue;
            }
            if t.is_multiple_of(self.inv_freq) || f.slots[0].len() < 4 {
                self.invert(f)?;
            }
            let row = &f.slots[0];
            let x = grad_matrix(&updates[layer.weight], layer.bias.map(|b| &updates[b]))?;
            let v = row[3].tensor().matmul(&x)?.matmul(row[2].tensor())?;
            let (vw, vb) =
                split_matrix(&v, &updates[layer.weight], layer.bias.map(|b| &updates[b]))?;
            updates[layer.weight] = vw;
            if let (Some(b), Some(vb)) = (layer.bias, vb) {
                updates[b] = vb;
            }
            done.push(layer);
        }
        Ok(done)
    }

    /// Folds this step's `Â, Ĝ` into the running factors of `layer`.
    fn update_factors(
        &self,
        captures: &[LayerCapture],
        params: &[Tensor],
        layer: Layer,
        f: &mut State,
    ) -> Result<()> {
        let rows = layer_rows(captures, params[layer.weight].id(), layer.bias.is_some())?;
        let (mut a, mut g, mut n, mut ng) = (None::<Tensor>, None::<Tensor>, 0usize, 0usize);
        for (ar, gr, batch) in &rows {
            let positions = ar.shape()[0] / (*batch).max(1);
            let aa = ar.t()?.matmul(ar)?;
            let gg = gr.t()?.matmul(gr)?;
            a = Some(match a {
                Some(s) => s.add(&aa)?,
                None => aa,
            });
            g = Some(match g {
                Some(s) => s.add(&gg)?,
                None => gg,
            });
            n += batch;
            ng += batch * positions;
        }
        let (Some(a), Some(g)) = (a, g) else {
            return Ok(());
        };
        let a = a.mul_scalar(1.0 / n as f64)?;
        let g = g.mul_scalar(1.0 / ng as f64)?;
        if f.slots.is_empty() {
            f.slot_names = FACTORS.iter().map(|s| s.to_string()).collect();
            f.slots = vec![vec![Buffer::copy_of(&a)?, Buffer::copy_of(&g)?]];
            return Ok(());
        }
        let e = self.stat_decay;
        for (k, new) in [(0, a), (1, g)] {
            let old = f.slots[0][k].tensor();
            let avg = old.mul_scalar(e)?.add(&new.mul_scalar(1.0 - e)?)?;
            f.slots[0][k] = Buffer::copy_of(&avg)?;
        }
        Ok(())
    }

    /// `A_inv, G_inv` from the running factors, with factored Tikhonov damping.
    fn invert(&self, f: &mut State) -> Result<()> {
        let (a, g) = (f.slots[0][0].to_tensor()?, f.slots[0][1].to_tensor()?);
        let (ai, gi) = damped_inverses(&a, &g, self.damping)?;
        f.slots[0].truncate(2);
        f.slots[0].push(Buffer::copy_of(&ai)?);
        f.slots[0].push(Buffer::copy_of(&gi)?);
        Ok(())
    }
}

/// `(A + π√λ I)⁻¹` and `(G + √λ/π I)⁻¹` with `π = sqrt((tr A / dim A) / (tr G / dim G))`
/// (Martens & Grosse 2015, §6.3); π = 1 when either trace is not positive.
///
/// # Errors
/// [`OptimError::Numerical`](crate::OptimError::Numerical) when a damped factor is singular.
pub(crate) fn damped_inverses(a: &Tensor, g: &Tensor, damping: f64) -> Result<(Tensor, Tensor)> {
    let ta = trace(a)? / a.shape()[0] as f64;
    let tg = trace(g)? / g.shape()[0] as f64;
    let pi = if ta > 0.0 && tg > 0.0 && (ta / tg).is_finite() {
        (ta / tg).sqrt()
    } else {
        1.0
    };
    let s = damping.sqrt();
    let ad = a.add(&super::curvature::eye(a.shape()[0]).mul_scalar(pi * s)?)?;
    let gd = g.add(&super::curvature::eye(g.shape()[0]).mul_scalar(s / pi)?)?;
    Ok((
        inverse(&ad, "K-FAC factor A")?,
        inverse(&gd, "K-FAC factor G")?,
    ))
}

impl GradientTransformation for Kfac {
    fn init(&self, params: &[Tensor]) -> Result<State> {
        check_lr_schedule(&self.lr)?;
        check_nonneg("momentum", self.momentum)?;
        check_nonneg("weight_decay", self.weight_decay)?;
        check_nonneg("kl_clip", self.kl_clip)?;
        check(self.damping > 0.0, || {
            format!("Invalid damping value: {} (must be > 0)", self.damping)
        })?;
        check((0.0..1.0).contains(&self.stat_decay), || {
            format!(
                "Invalid stat_decay value: {} (must be in [0, 1))",
                self.stat_decay
            )
        })?;
        check(self.stat_freq >= 1 && self.inv_freq >= 1, || {
            format!(
                "Invalid stat_freq / inv_freq: {} / {} (must be >= 1)",
                self.stat_freq, self.inv_freq
            )
        })?;
        capture::enable(true);
        let factors = State {
            inner: vec![State::default(); params.len()],
            ..State::default()
        };
        Ok(State {
            inner: vec![self.sgd().init(params)?, factors],
            ..State::default()
        })
    }

    fn update(&self, updates: &mut [Tensor], state: &mut State, params: &[Tensor]) -> Result<()> {
        check_pairs(params, updates)?;
        check(
            state.inner.len() == 2 && state.inner[1].inner.len() == params.len(),
            || "K-FAC state of another model".into(),
        )?;
        let t = state.count;
        state.count += 1;
        let captures = capture::take();
        let grads: Vec<Tensor> = updates.to_vec();
        let done = self.precondition(&captures, t, updates, &mut state.inner[1], params)?;
        let lr = self.lr.value(t);
        if self.kl_clip > 0.0 && !done.is_empty() {
            let mut vg = 0.0;
            for l in &done {
                for i in std::iter::once(l.weight).chain(l.bias) {
                    vg += updates[i].mul(&grads[i])?.sum_all()?.item()? * lr * lr;
                }
            }
            let nu = if vg > 0.0 {
                (self.kl_clip / vg).sqrt().min(1.0)
            } else {
                1.0
            };
            if nu < 1.0 {
                for l in &done {
                    for i in std::iter::once(l.weight).chain(l.bias) {
                        updates[i] = updates[i].mul_scalar(nu)?;
                    }
                }
            }
        }
        self.sgd().update(updates, &mut state.inner[0], params)
    }
}
