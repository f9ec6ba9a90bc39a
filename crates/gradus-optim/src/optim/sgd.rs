//! Stochastic gradient descent with momentum (PyTorch `torch.optim.SGD`).

use super::fused_transformation;
use crate::error::at;
use crate::error::{check_lr_schedule, check_nonneg};
use crate::kernel::{fused_update, ElementRule, Target};
use crate::{Result, Schedule, State};
use gradus_tensor::{Element, Tensor};

/// SGD with momentum, dampening, Nesterov, weight decay and maximize, as in PyTorch.
///
/// Update rule at step `t` (`mu` = momentum, `tau` = dampening, `lambda` = weight decay):
/// ```text
/// g <- -g if maximize
/// g <- g + lambda p
/// if mu != 0:  b <- g if t = 1 else mu b + (1 - tau) g
///              g <- g + mu b if nesterov else b
/// p <- p - lr g
/// ```
/// `momentum_schedule` makes `mu` a function of the step (torch `OneCycleLR` cycles it).
///
/// ```
/// use gradus_optim::{Optimizer, Sgd};
/// use gradus_tensor::Tensor;
/// # fn main() -> gradus_optim::Result<()> {
/// let w = Tensor::from_vec(vec![1.0f64], &[1])?.requires_grad_(true);
/// let mut opt = Optimizer::new(Sgd::new(0.1).momentum(0.9).nesterov(true), &[w.clone()])?;
/// w.mul(&w)?.sum_all()?.backward()?; // g = 2
/// opt.step()?;                        // b = 2, g = 2 + 0.9*2 = 3.8
/// assert!((w.item()? - 0.62).abs() < 1e-12);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Sgd {
    lr: Schedule,
    momentum: f64,
    momentum_schedule: Option<Schedule>,
    dampening: f64,
    nesterov: bool,
    weight_decay: f64,
    maximize: bool,
}

impl Sgd {
    /// Plain SGD with learning rate (or schedule) `lr`.
    pub fn new(lr: impl Into<Schedule>) -> Sgd {
        Sgd {
            lr: lr.into(),
            momentum: 0.0,
            momentum_schedule: None,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            maximize: false,
        }
    }
    /// Momentum factor (default 0).
    pub fn momentum(mut self, momentum: f64) -> Sgd {
        self.momentum = momentum;
        self
    }
    /// Momentum as a function of the step (overrides `momentum`; e.g. [`crate::OneCycle`]).
    pub fn momentum_schedule(mut self, schedule: Schedule) -> Sgd {
        self.momentum_schedule = Some(schedule);
        self
    }
    /// Dampening of the momentum (default 0).
    pub fn dampening(mut self, dampening: f64) -> Sgd {
        self.dampening = dampening;
        self
    }
    /// Nesterov momentum (default false).
    pub fn nesterov(mut self, nesterov: bool) -> Sgd {
        self.nesterov = nesterov;
        self
    }
    /// L2 penalty added to the gradient (default 0).
    pub fn weight_decay(mut self, weight_decay: f64) -> Sgd {
        self.weight_decay = weight_decay;
        self
    }
    /// Maximize the objective (default false).
    pub fn maximize(mut self, maximize: bool) -> Sgd {
        self.maximize = maximize;
        self
    }

    fn uses_momentum(&self) -> bool {
        self.momentum != 0.0 || self.momentum_schedule.is_some()
    }

    fn init_state(&self, params: &[Tensor]) -> Result<State> {
        check_lr_schedule(&self.lr)?;
        check_nonneg("momentum", self.momentum)?;
        if let Some(m) = &self.momentum_schedule {
            m.validate()?;
        }
        check_nonneg("weight_decay", self.weight_decay)?;
        crate::error::check(
            !self.nesterov
                || (self.momentum > 0.0 && self.dampening == 0.0)
                || self.momentum_schedule.is_some(),
            || "Nesterov momentum requires a momentum and zero dampening".into(),
        )?;
        Ok(if self.uses_momentum() {
            State::with_slots(params, &[("momentum_buffer", 0.0)])
        } else {
            State::default()
        })
    }

    fn run(
        &self,
        target: Target,
        params: &[Tensor],
        grads: &[Tensor],
        state: &mut State,
    ) -> Result<()> {
        let t = state.count;
        state.count += 1;
        let lr = self.lr.value(t);
        let mu = self
            .momentum_schedule
            .as_ref()
            .map_or(self.momentum, |s| s.value(t));
        let (first, damp, nesterov, maximize, wd) = (
            t == 0,
            1.0 - self.dampening,
            self.nesterov,
            self.maximize,
            self.weight_decay,
        );
        let rule = SgdRule {
            lr,
            mu,
            damp,
            wd,
            first,
            nesterov,
            maximize,
        };
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            if self.uses_momentum() {
                let slots = state.param_slots::<1>(i, p)?;
                fused_update(target, p, g, slots, &rule).map_err(at(i))?;
            } else {
                fused_update(target, p, g, [], &rule).map_err(at(i))?;
            }
        }
        Ok(())
    }
}

/// SGD's per-element rule at one step (`first`: the momentum buffer starts as the gradient).
struct SgdRule {
    lr: f64,
    mu: f64,
    damp: f64,
    wd: f64,
    first: bool,
    nesterov: bool,
    maximize: bool,
}

impl SgdRule {
    /// The gradient after `maximize` and (L2) weight decay.
    #[inline(always)]
    fn grad<T: Element>(&self, p: T, g: T) -> T {
        let g = if self.maximize { -g } else { g };
        g + T::from_f64(self.wd) * p
    }
}

impl ElementRule<0> for SgdRule {
    const NAME: &'static str = "sgd";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, p: T, g: T, _: [&mut T; 0]) -> T {
        -T::from_f64(self.lr) * self.grad(p, g)
    }
}

impl ElementRule<1> for SgdRule {
    const NAME: &'static str = "sgd_momentum";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, p: T, g: T, [b]: [&mut T; 1]) -> T {
        let c = T::from_f64;
        let g = self.grad(p, g);
        *b = if self.first {
            g
        } else {
            c(self.mu) * *b + c(self.damp) * g
        };
        -c(self.lr)
            * if self.nesterov {
                g + c(self.mu) * *b
            } else {
                *b
            }
    }
}

fused_transformation!(Sgd);
