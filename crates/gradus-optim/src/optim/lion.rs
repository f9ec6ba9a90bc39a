//! Lion (optax `optax.lion`).

use super::fused_transformation;
use crate::error::{check_beta, check_lr_schedule, check_nonneg};
use crate::kernel::{dispatch, elementwise, sign, Target};
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
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            dispatch!(p.dtype(), T => {
                let c = |x: f64| T::from_f64(x);
                let (lr, b1, one_b1, b2, one_b2, wd) = (c(lr), c(self.b1), c(1.0 - self.b1), c(self.b2), c(1.0 - self.b2), c(self.weight_decay));
                let [m] = state.param_slots::<1>(i, p)?;
                elementwise::<T, 1, _>(target, p, g, [m], move |p, g, [m]| {
                    let d = b1 * *m + one_b1 * g;
                    let sign = sign(d);
                    *m = b2 * *m + one_b2 * g;
                    -lr * (sign + wd * p)
                })?;
            });
        }
        Ok(())
    }
}

fused_transformation!(Lion);
