//! RMSprop (PyTorch `torch.optim.RMSprop`).

use super::fused_transformation;
use crate::error::at;
use crate::error::{check_lr_schedule, check_nonneg};
use crate::kernel::{fused_update, ElementRule, Scaled, Target};
use crate::{Result, Schedule, State};
use gradus_tensor::{Element, Tensor};

/// RMSprop, optionally centered and with momentum, as in PyTorch.
///
/// Update rule:
/// ```text
/// g <- g + lambda p
/// v <- alpha v + (1 - alpha) g^2
/// if centered: a <- alpha a + (1 - alpha) g;  d <- sqrt(v - a^2) + eps   else d <- sqrt(v) + eps
/// if momentum > 0: b <- momentum b + g / d;  p <- p - lr b   else p <- p - lr g / d
/// ```
///
/// Each step rounds as `torch.optim.RMSprop` (single tensor, CPU) does: `a` moves by torch's
/// `lerp`, and the sums torch fuses (`g + lambda p`, the `addcmul`s, `p - lr b`) are fused
/// multiply-adds, so that given the same gradients the parameters match torch's bit for bit.
///
/// ```
/// use gradus_optim::{Optimizer, RmsProp};
/// use gradus_tensor::Tensor;
/// # fn main() -> gradus_optim::Result<()> {
/// let w = Tensor::from_vec(vec![1.0f64], &[1])?.requires_grad_(true);
/// let mut opt = Optimizer::new(RmsProp::new(0.01).alpha(0.75), &[w.clone()])?;
/// w.mul(&w)?.sum_all()?.backward()?;
/// opt.step()?; // v = 0.25 * 4 = 1: p = 1 - 0.01 * 2 / (1 + 1e-8)
/// assert!((w.item()? - 0.98).abs() < 1e-9);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct RmsProp {
    lr: Schedule,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
}

impl RmsProp {
    /// RMSprop with torch's defaults (alpha 0.99, eps 1e-8).
    pub fn new(lr: impl Into<Schedule>) -> RmsProp {
        RmsProp {
            lr: lr.into(),
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
        }
    }
    /// Smoothing constant.
    pub fn alpha(mut self, alpha: f64) -> RmsProp {
        self.alpha = alpha;
        self
    }
    /// Denominator epsilon.
    pub fn eps(mut self, eps: f64) -> RmsProp {
        self.eps = eps;
        self
    }
    /// L2 penalty.
    pub fn weight_decay(mut self, weight_decay: f64) -> RmsProp {
        self.weight_decay = weight_decay;
        self
    }
    /// Momentum factor.
    pub fn momentum(mut self, momentum: f64) -> RmsProp {
        self.momentum = momentum;
        self
    }
    /// Normalise by the estimated variance instead of the second moment.
    pub fn centered(mut self, centered: bool) -> RmsProp {
        self.centered = centered;
        self
    }

    fn init_state(&self, params: &[Tensor]) -> Result<State> {
        check_lr_schedule(&self.lr)?;
        check_nonneg("epsilon", self.eps)?;
        check_nonneg("momentum", self.momentum)?;
        check_nonneg("weight_decay", self.weight_decay)?;
        check_nonneg("alpha", self.alpha)?;
        Ok(State::with_slots(
            params,
            &[
                ("square_avg", 0.0),
                ("momentum_buffer", 0.0),
                ("grad_avg", 0.0),
            ],
        ))
    }

    fn run(
        &self,
        target: Target,
        params: &[Tensor],
        grads: &[Tensor],
        state: &mut State,
    ) -> Result<()> {
        let lr = self.lr.value(state.count);
        state.count += 1;
        let rule = RmsPropRule {
            lr,
            alpha: self.alpha,
            eps: self.eps,
            wd: self.weight_decay,
            mu: self.momentum,
            centered: self.centered,
            use_momentum: self.momentum > 0.0,
        };
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            let slots = state.param_slots::<3>(i, p)?;
            fused_update(target, p, g, slots, &rule).map_err(at(i))?;
        }
        Ok(())
    }
}

/// `start + weight (end - start)` as torch's CPU `lerp`: one fused multiply-add, from `start`
/// for `|weight| < 0.5` and from `end` otherwise.
#[inline(always)]
fn lerp<T: Element>(start: T, end: T, weight: T) -> T {
    let half = T::from_f64(0.5);
    if weight.abs() < half {
        weight.mul_add(end - start, start)
    } else {
        (weight - T::one()).mul_add(end - start, end)
    }
}

/// RMSprop's per-element rule (state: square average `v`, momentum buffer `b`, average `a`).
struct RmsPropRule {
    lr: f64,
    alpha: f64,
    eps: f64,
    wd: f64,
    mu: f64,
    centered: bool,
    use_momentum: bool,
}

impl ElementRule<3> for RmsPropRule {
    const NAME: &'static str = "rmsprop";
    type Out<T: Element> = Scaled<T>;
    #[inline(always)]
    fn lane<T: Element>(&self, p: T, g: T, [v, b, a]: [&mut T; 3]) -> Scaled<T> {
        let c = T::from_f64;
        let (lr, one_alpha, eps) = (c(self.lr), c(1.0 - self.alpha), c(self.eps));
        // torch's operations in torch's order; its CPU kernels fuse `x + c * y`
        // (add with alpha, addcmul, lerp) into one rounding, so these use mul_add
        let g = c(self.wd).mul_add(p, g);
        *v = (one_alpha * g).mul_add(g, c(self.alpha) * *v);
        let d = if self.centered {
            *a = lerp(*a, g, one_alpha);
            (-*a).mul_add(*a, *v).sqrt() + eps
        } else {
            v.sqrt() + eps
        };
        if self.use_momentum {
            *b = c(self.mu) * *b + g / d;
            // param.add_(buf, alpha=-lr): one rounding
            Scaled(-lr, *b)
        } else {
            // param.addcdiv_(grad, avg, value=-lr): (-lr g) / d, then added
            Scaled(c(1.0), -lr * g / d)
        }
    }
}

fused_transformation!(RmsProp);
