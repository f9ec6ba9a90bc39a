//! RAdam (PyTorch `torch.optim.RAdam`).

use super::fused_transformation;
use crate::error::at;
use crate::error::check_adam_hyperparameters;
use crate::kernel::{fused_update, ElementRule, Target};
use crate::{Result, Schedule, State};
use gradus_tensor::{Element, Tensor};

/// RAdam (rectified Adam), as in PyTorch.
///
/// Update rule at step `t`:
/// ```text
/// if decoupled: p <- p (1 - lr lambda)   else g <- g + lambda p
/// m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
/// rho_inf <- 2 / (1 - b2) - 1;   rho_t <- rho_inf - 2 t b2^t / (1 - b2^t)
/// if rho_t > 5:
///     r <- sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
///     p <- p - lr m / (1 - b1^t) * r sqrt(1 - b2^t) / (sqrt(v) + eps)
/// else:
///     p <- p - lr m / (1 - b1^t)
/// ```
///
/// ```
/// use gradus_optim::{GradientTransformation, RAdam};
/// use gradus_tensor::Tensor;
/// let p = Tensor::from_vec(vec![1.0f64], &[1]).unwrap();
/// let opt = RAdam::new(0.01);
/// let mut state = opt.init(&[p.clone()]).unwrap();
/// opt.apply(&[p.clone()], &[Tensor::from_vec(vec![2.0f64], &[1]).unwrap()], &mut state).unwrap();
/// assert!((p.item().unwrap() - (1.0 - 0.01 * 2.0)).abs() < 1e-12); // un-rectified SGD-with-momentum step
/// ```
#[derive(Clone, Debug)]
pub struct RAdam {
    lr: Schedule,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
}

impl RAdam {
    /// RAdam with torch's defaults (betas (0.9, 0.999), eps 1e-8).
    pub fn new(lr: impl Into<Schedule>) -> RAdam {
        RAdam {
            lr: lr.into(),
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
        }
    }
    /// Moment decay rates.
    pub fn betas(mut self, b1: f64, b2: f64) -> RAdam {
        self.betas = (b1, b2);
        self
    }
    /// Epsilon.
    pub fn eps(mut self, eps: f64) -> RAdam {
        self.eps = eps;
        self
    }
    /// Weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> RAdam {
        self.weight_decay = weight_decay;
        self
    }
    /// Decoupled (AdamW-style) weight decay.
    pub fn decoupled_weight_decay(mut self, decoupled: bool) -> RAdam {
        self.decoupled = decoupled;
        self
    }

    fn init_state(&self, params: &[Tensor]) -> Result<State> {
        check_adam_hyperparameters(&self.lr, self.eps, self.betas, self.weight_decay)?;
        Ok(State::with_slots(
            params,
            &[("exp_avg", 0.0), ("exp_avg_sq", 0.0)],
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
        let t = state.count as f64;
        let (b1, b2) = self.betas;
        let (bc1, bc2) = (1.0 - b1.powf(t), 1.0 - b2.powf(t));
        let rho_inf = 2.0 / (1.0 - b2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * b2.powf(t) / bc2;
        let rect = if rho_t > 5.0 {
            Some(
                ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                    / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                    .sqrt(),
            )
        } else {
            None
        };
        let (l2, decay) = if self.decoupled {
            (0.0, lr * self.weight_decay)
        } else {
            (self.weight_decay, 0.0)
        };
        let rule = RAdamRule {
            b1,
            b2,
            eps: self.eps,
            l2,
            decay,
            step: lr / bc1,
            adapt: rect.map(|r| r * bc2.sqrt()),
        };
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            let slots = state.param_slots::<2>(i, p)?;
            fused_update(target, p, g, slots, &rule).map_err(at(i))?;
        }
        Ok(())
    }
}

/// RAdam's per-element rule (`adapt`: the rectification term, `None` while the variance is
/// intractable).
struct RAdamRule {
    b1: f64,
    b2: f64,
    eps: f64,
    l2: f64,
    decay: f64,
    step: f64,
    adapt: Option<f64>,
}

impl ElementRule<2> for RAdamRule {
    const NAME: &'static str = "radam";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, p: T, g: T, [m, v]: [&mut T; 2]) -> T {
        let c = T::from_f64;
        let g = g + c(self.l2) * p;
        *m = c(self.b1) * *m + c(1.0 - self.b1) * g;
        *v = c(self.b2) * *v + c(1.0 - self.b2) * g * g;
        let step = c(self.step);
        -c(self.decay) * p
            - match self.adapt {
                Some(a) => step * *m * c(a) / (v.sqrt() + c(self.eps)),
                None => step * *m,
            }
    }
}

fused_transformation!(RAdam);
