//! Adagrad (PyTorch `torch.optim.Adagrad`).

use super::fused_transformation;
use crate::error::at;
use crate::error::{check_lr_schedule, check_nonneg};
use crate::kernel::{fused_update, ElementRule, Target};
use crate::{Result, Schedule, State};
use gradus_tensor::{Element, Tensor};

/// Adagrad with learning-rate decay, as in PyTorch.
///
/// Update rule at step `t` (`s` starts at `initial_accumulator_value`):
/// ```text
/// g <- g + lambda p
/// clr <- lr / (1 + (t - 1) lr_decay)
/// s <- s + g^2
/// p <- p - clr g / (sqrt(s) + eps)
/// ```
///
/// ```
/// use gradus_optim::{Adagrad, Optimizer};
/// use gradus_tensor::Tensor;
/// # fn main() -> gradus_optim::Result<()> {
/// let w = Tensor::from_vec(vec![1.0f64], &[1])?.requires_grad_(true);
/// let mut opt = Optimizer::new(Adagrad::new(0.1), &[w.clone()])?;
/// w.mul(&w)?.sum_all()?.backward()?;
/// opt.step()?; // g = 2, s = 4: p = 1 - 0.1 * 2 / 2
/// assert!((w.item()? - 0.9).abs() < 1e-9);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Adagrad {
    lr: Schedule,
    lr_decay: f64,
    weight_decay: f64,
    initial_accumulator_value: f64,
    eps: f64,
}

impl Adagrad {
    /// Adagrad with torch's defaults (no decay, accumulator 0, eps 1e-10).
    pub fn new(lr: impl Into<Schedule>) -> Adagrad {
        Adagrad {
            lr: lr.into(),
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
        }
    }
    /// Learning-rate decay.
    pub fn lr_decay(mut self, lr_decay: f64) -> Adagrad {
        self.lr_decay = lr_decay;
        self
    }
    /// L2 penalty.
    pub fn weight_decay(mut self, weight_decay: f64) -> Adagrad {
        self.weight_decay = weight_decay;
        self
    }
    /// Initial value of the squared-gradient sum.
    pub fn initial_accumulator_value(mut self, value: f64) -> Adagrad {
        self.initial_accumulator_value = value;
        self
    }
    /// Denominator epsilon.
    pub fn eps(mut self, eps: f64) -> Adagrad {
        self.eps = eps;
        self
    }

    fn init_state(&self, params: &[Tensor]) -> Result<State> {
        check_lr_schedule(&self.lr)?;
        check_nonneg("lr_decay", self.lr_decay)?;
        check_nonneg("weight_decay", self.weight_decay)?;
        check_nonneg("initial_accumulator_value", self.initial_accumulator_value)?;
        check_nonneg("epsilon", self.eps)?;
        Ok(State::with_slots(
            params,
            &[("sum", self.initial_accumulator_value)],
        ))
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
        let clr = self.lr.value(t) / (1.0 + t as f64 * self.lr_decay);
        let rule = AdagradRule {
            clr,
            wd: self.weight_decay,
            eps: self.eps,
        };
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            let slots = state.param_slots::<1>(i, p)?;
            fused_update(target, p, g, slots, &rule).map_err(at(i))?;
        }
        Ok(())
    }
}

/// Adagrad's per-element rule (`clr`: the decayed learning rate of this step; state: sum `s`).
struct AdagradRule {
    clr: f64,
    wd: f64,
    eps: f64,
}

impl ElementRule<1> for AdagradRule {
    const NAME: &'static str = "adagrad";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, p: T, g: T, [s]: [&mut T; 1]) -> T {
        let c = T::from_f64;
        let g = g + c(self.wd) * p;
        *s = *s + g * g;
        -c(self.clr) * g / (s.sqrt() + c(self.eps))
    }
}

fused_transformation!(Adagrad);
