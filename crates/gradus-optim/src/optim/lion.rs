//! Lion (optax `optax.lion`).

use super::fused_transformation;
use crate::error::at;
use crate::error::{check_beta, check_lr_schedule, check_nonneg};
use crate::kernel::{fused_update, sign, ElementRule, Target};
use crate::{Result, Schedule, State};
use gradus_tensor::{Element, Tensor};

/// Lion (evolved sign momentum), with optax's semantics and names.
///
/// Update rule:
/// ```text
/// u <- sign(b1 m + (1 - b1) g) + weight_decay p
/// m <- b2 m + (1 - b2) g
/// p <- p - learning_rate u
/// ```
///
/// ```
/// use gradus_optim::{GradientTransformation, Lion};
/// use gradus_tensor::Tensor;
/// let p = Tensor::from_vec(vec![1.0f64, 1.0], &[2]).unwrap();
/// let opt = Lion::new(0.1).weight_decay(0.0);
/// let mut state = opt.init(&[p.clone()]).unwrap();
/// opt.apply(&[p.clone()], &[Tensor::from_vec(vec![5.0f64, -0.1], &[2]).unwrap()], &mut state).unwrap();
/// assert_eq!(p.to_vec::<f64>().unwrap(), vec![0.9, 1.1]);
/// ```
#[derive(Clone, Debug)]
pub struct Lion {
    learning_rate: Schedule,
    b1: f64,
    b2: f64,
    weight_decay: f64,
}

impl Lion {
    /// Lion with optax's defaults (b1 0.9, b2 0.99, weight_decay 1e-3).
    pub fn new(learning_rate: impl Into<Schedule>) -> Lion {
        Lion {
            learning_rate: learning_rate.into(),
            b1: 0.9,
            b2: 0.99,
            weight_decay: 1e-3,
        }
    }
    /// Interpolation rate of the update direction.
    pub fn b1(mut self, b1: f64) -> Lion {
        self.b1 = b1;
        self
    }
    /// Decay rate of the momentum.
    pub fn b2(mut self, b2: f64) -> Lion {
        self.b2 = b2;
        self
    }
    /// Decoupled weight decay (scaled by the learning rate).
    pub fn weight_decay(mut self, weight_decay: f64) -> Lion {
        self.weight_decay = weight_decay;
        self
    }

    fn init_state(&self, params: &[Tensor]) -> Result<State> {
        check_lr_schedule(&self.learning_rate)?;
        check_beta(0, self.b1)?;
        check_beta(1, self.b2)?;
        check_nonneg("weight_decay", self.weight_decay)?;
        Ok(State::with_slots(params, &[("mu", 0.0)]))
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
        let rule = LionRule {
            lr,
            b1: self.b1,
            b2: self.b2,
            wd: self.weight_decay,
        };
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            let slots = state.param_slots::<1>(i, p)?;
            fused_update(target, p, g, slots, &rule).map_err(at(i))?;
        }
        Ok(())
    }
}

/// Lion's per-element rule (state: momentum `m`).
struct LionRule {
    lr: f64,
    b1: f64,
    b2: f64,
    wd: f64,
}

impl ElementRule<1> for LionRule {
    const NAME: &'static str = "lion";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, p: T, g: T, [m]: [&mut T; 1]) -> T {
        let c = T::from_f64;
        let d = c(self.b1) * *m + c(1.0 - self.b1) * g;
        let sign = sign(d);
        *m = c(self.b2) * *m + c(1.0 - self.b2) * g;
        -c(self.lr) * (sign + c(self.wd) * p)
    }
}

fused_transformation!(Lion);
