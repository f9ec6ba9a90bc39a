//! Yogi (optax `optax.yogi`).

use super::fused_transformation;
use crate::error::at;
use crate::error::{check_beta, check_lr_schedule, check_nonneg};
use crate::kernel::{fused_update, sign, ElementRule, Target};
use crate::{Result, Schedule, State};
use gradus_tensor::{Element, Tensor};

/// Yogi (Adam with an additive second-moment update), with optax's semantics and names.
///
/// Update rule at step `t` (`m` and `v` start at `initial_accumulator_value`):
/// ```text
/// m <- b1 m + (1 - b1) g
/// v <- v - (1 - b2) sign(v - g^2) g^2
/// p <- p - learning_rate (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t) + eps_root) + eps)
/// ```
///
/// ```
/// use gradus_optim::{GradientTransformation, Yogi};
/// use gradus_tensor::Tensor;
/// let p = Tensor::from_vec(vec![1.0f64], &[1]).unwrap();
/// let opt = Yogi::new(0.02);
/// let mut state = opt.init(&[p.clone()]).unwrap();
/// opt.apply(&[p.clone()], &[Tensor::from_vec(vec![2.0f64], &[1]).unwrap()], &mut state).unwrap();
/// assert!(p.item().unwrap() < 1.0);
/// ```
#[derive(Clone, Debug)]
pub struct Yogi {
    learning_rate: Schedule,
    b1: f64,
    b2: f64,
    eps: f64,
    eps_root: f64,
    initial_accumulator_value: f64,
}

impl Yogi {
    /// Yogi with optax's defaults (b1 0.9, b2 0.999, eps 1e-3, eps_root 0, accumulators 1e-6).
    pub fn new(learning_rate: impl Into<Schedule>) -> Yogi {
        Yogi {
            learning_rate: learning_rate.into(),
            b1: 0.9,
            b2: 0.999,
            eps: 1e-3,
            eps_root: 0.0,
            initial_accumulator_value: 1e-6,
        }
    }
    /// Moment decay rates.
    pub fn betas(mut self, b1: f64, b2: f64) -> Yogi {
        self.b1 = b1;
        self.b2 = b2;
        self
    }
    /// Epsilon outside the square root.
    pub fn eps(mut self, eps: f64) -> Yogi {
        self.eps = eps;
        self
    }
    /// Initial value of both moments.
    pub fn initial_accumulator_value(mut self, value: f64) -> Yogi {
        self.initial_accumulator_value = value;
        self
    }

    fn init_state(&self, params: &[Tensor]) -> Result<State> {
        check_lr_schedule(&self.learning_rate)?;
        check_beta(0, self.b1)?;
        check_beta(1, self.b2)?;
        check_nonneg("epsilon", self.eps)?;
        let v = self.initial_accumulator_value;
        Ok(State::with_slots(params, &[("mu", v), ("nu", v)]))
    }

    fn run(
        &self,
        target: Target,
        params: &[Tensor],
        grads: &[Tensor],
        state: &mut State,
    ) -> Result<()> {
        let lr = self.learning_rate.value(state.count);
        state.count += 1;
        let t = state.count as i32;
        let (bc1, bc2) = (1.0 - self.b1.powi(t), 1.0 - self.b2.powi(t));
        let rule = YogiRule {
            lr,
            b1: self.b1,
            b2: self.b2,
            bc1,
            bc2,
            eps: self.eps,
            eps_root: self.eps_root,
        };
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            let slots = state.param_slots::<2>(i, p)?;
            fused_update(target, p, g, slots, &rule).map_err(at(i))?;
        }
        Ok(())
    }
}

/// Yogi's per-element rule (`bc1`, `bc2`: this step's bias corrections).
struct YogiRule {
    lr: f64,
    b1: f64,
    b2: f64,
    bc1: f64,
    bc2: f64,
    eps: f64,
    eps_root: f64,
}

impl ElementRule<2> for YogiRule {
    const NAME: &'static str = "yogi";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, _p: T, g: T, [m, v]: [&mut T; 2]) -> T {
        let c = T::from_f64;
        *m = c(self.b1) * *m + c(1.0 - self.b1) * g;
        let g2 = g * g;
        let d = *v - g2;
        let sign = sign(d);
        *v = *v - c(1.0 - self.b2) * sign * g2;
        -c(self.lr) * (*m / c(self.bc1))
            / ((*v / c(self.bc2) + c(self.eps_root)).sqrt() + c(self.eps))
    }
}

fused_transformation!(Yogi);
