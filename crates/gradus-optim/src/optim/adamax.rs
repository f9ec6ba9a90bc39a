//! Adamax (PyTorch `torch.optim.Adamax`).

use super::fused_transformation;
use crate::error::at;
use crate::error::check_adam_hyperparameters;
use crate::kernel::{fused_update, ElementRule, Target};
use crate::{Result, Schedule, State};
use gradus_tensor::{Element, Tensor};

/// Adamax (Adam with the infinity norm), as in PyTorch.
///
/// Update rule at step `t`:
/// ```text
/// g <- g + lambda p
/// m <- b1 m + (1 - b1) g
/// u <- max(b2 u, |g| + eps)
/// p <- p - lr / (1 - b1^t) * m / u
/// ```
///
/// ```
/// use gradus_optim::{Adamax, Optimizer};
/// use gradus_tensor::Tensor;
/// # fn main() -> gradus_optim::Result<()> {
/// let w = Tensor::from_vec(vec![1.0f64], &[1])?.requires_grad_(true);
/// let mut opt = Optimizer::new(Adamax::new(0.02), &[w.clone()])?;
/// w.mul(&w)?.sum_all()?.backward()?;
/// opt.step()?; // first step: p - lr * g / (|g| + eps)
/// assert!((w.item()? - 0.98).abs() < 1e-8);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Adamax {
    lr: Schedule,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
}

impl Adamax {
    /// Adamax with torch's defaults (betas (0.9, 0.999), eps 1e-8); torch's default lr is 2e-3.
    pub fn new(lr: impl Into<Schedule>) -> Adamax {
        Adamax {
            lr: lr.into(),
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
    /// Moment decay rates.
    pub fn betas(mut self, b1: f64, b2: f64) -> Adamax {
        self.betas = (b1, b2);
        self
    }
    /// Epsilon.
    pub fn eps(mut self, eps: f64) -> Adamax {
        self.eps = eps;
        self
    }
    /// L2 penalty.
    pub fn weight_decay(mut self, weight_decay: f64) -> Adamax {
        self.weight_decay = weight_decay;
        self
    }

    fn init_state(&self, params: &[Tensor]) -> Result<State> {
        check_adam_hyperparameters(&self.lr, self.eps, self.betas, self.weight_decay)?;
        Ok(State::with_slots(
            params,
            &[("exp_avg", 0.0), ("exp_inf", 0.0)],
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
        let clr = lr / (1.0 - self.betas.0.powi(state.count as i32));
        let rule = AdamaxRule {
            clr,
            betas: self.betas,
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

/// Adamax's per-element rule (`clr`: bias-corrected learning rate; state: `m`, norm `u`).
struct AdamaxRule {
    clr: f64,
    betas: (f64, f64),
    eps: f64,
    wd: f64,
}

impl ElementRule<2> for AdamaxRule {
    const NAME: &'static str = "adamax";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, p: T, g: T, [m, u]: [&mut T; 2]) -> T {
        let c = T::from_f64;
        let g = g + c(self.wd) * p;
        *m = c(self.betas.0) * *m + c(1.0 - self.betas.0) * g;
        *u = (c(self.betas.1) * *u).max(g.abs() + c(self.eps));
        -c(self.clr) * *m / *u
    }
}

fused_transformation!(Adamax);
