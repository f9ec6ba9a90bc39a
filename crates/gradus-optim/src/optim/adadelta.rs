//! Adadelta (PyTorch `torch.optim.Adadelta`).

use super::fused_transformation;
use crate::error::at;
use crate::error::{check, check_lr_schedule, check_nonneg};
use crate::kernel::{fused_update, ElementRule, Target};
use crate::{Result, Schedule, State};
use gradus_tensor::{Element, Tensor};

/// Adadelta, as in PyTorch.
///
/// Update rule:
/// ```text
/// g <- g + lambda p
/// v <- rho v + (1 - rho) g^2
/// d <- sqrt(u + eps) / sqrt(v + eps) g
/// u <- rho u + (1 - rho) d^2
/// p <- p - lr d
/// ```
///
/// ```
/// use gradus_optim::{Adadelta, Optimizer};
/// use gradus_tensor::Tensor;
/// # fn main() -> gradus_optim::Result<()> {
/// let w = Tensor::from_vec(vec![1.0f64], &[1])?.requires_grad_(true);
/// let mut opt = Optimizer::new(Adadelta::new(1.0), &[w.clone()])?;
/// w.mul(&w)?.sum_all()?.backward()?;
/// opt.step()?; // v = 0.4, d = sqrt(1e-6 / (0.4 + 1e-6)) * 2
/// assert!((w.item()? - (1.0 - (1e-6f64 / 0.400001).sqrt() * 2.0)).abs() < 1e-12);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Adadelta {
    lr: Schedule,
    rho: f64,
    eps: f64,
    weight_decay: f64,
}

impl Adadelta {
    /// Adadelta with torch's defaults (rho 0.9, eps 1e-6); torch's default lr is 1.0.
    pub fn new(lr: impl Into<Schedule>) -> Adadelta {
        Adadelta {
            lr: lr.into(),
            rho: 0.9,
            eps: 1e-6,
            weight_decay: 0.0,
        }
    }
    /// Decay rate of the running averages.
    pub fn rho(mut self, rho: f64) -> Adadelta {
        self.rho = rho;
        self
    }
    /// Epsilon inside the square roots.
    pub fn eps(mut self, eps: f64) -> Adadelta {
        self.eps = eps;
        self
    }
    /// L2 penalty.
    pub fn weight_decay(mut self, weight_decay: f64) -> Adadelta {
        self.weight_decay = weight_decay;
        self
    }

    fn init_state(&self, params: &[Tensor]) -> Result<State> {
        check_lr_schedule(&self.lr)?;
        check((0.0..=1.0).contains(&self.rho), || {
            format!("Invalid rho value: {}", self.rho)
        })?;
        check_nonneg("epsilon", self.eps)?;
        check_nonneg("weight_decay", self.weight_decay)?;
        Ok(State::with_slots(
            params,
            &[("square_avg", 0.0), ("acc_delta", 0.0)],
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
        let rule = AdadeltaRule {
            lr,
            rho: self.rho,
            eps: self.eps,
            wd: self.weight_decay,
        };
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            let slots = state.param_slots::<2>(i, p)?;
            fused_update(target, p, g, slots, &rule).map_err(at(i))?;
        }
        Ok(())
    }
}

/// Adadelta's per-element rule (state: square average `v`, accumulated delta `u`).
struct AdadeltaRule {
    lr: f64,
    rho: f64,
    eps: f64,
    wd: f64,
}

impl ElementRule<2> for AdadeltaRule {
    const NAME: &'static str = "adadelta";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, p: T, g: T, [v, u]: [&mut T; 2]) -> T {
        let c = T::from_f64;
        let (rho, one_rho, eps) = (c(self.rho), c(1.0 - self.rho), c(self.eps));
        let g = g + c(self.wd) * p;
        *v = rho * *v + one_rho * g * g;
        let d = (*u + eps).sqrt() / (*v + eps).sqrt() * g;
        *u = rho * *u + one_rho * d * d;
        -c(self.lr) * d
    }
}

fused_transformation!(Adadelta);
