//! NAdam (PyTorch `torch.optim.NAdam`).

use super::fused_transformation;
use crate::error::at;
use crate::error::{check_adam_hyperparameters, check_nonneg};
use crate::kernel::{fused_update, ElementRule, Target};
use crate::{Result, Schedule, State};
use gradus_tensor::{Element, Tensor};

/// NAdam (Adam with Nesterov momentum and momentum decay), as in PyTorch.
///
/// Update rule at step `t` (`psi` = momentum_decay, `Pi` = running product of `mu`):
/// ```text
/// if decoupled: p <- p (1 - lr lambda)   else g <- g + lambda p
/// mu_t <- b1 (1 - 0.5 * 0.96^(t psi));  mu_{t+1} <- b1 (1 - 0.5 * 0.96^((t+1) psi))
/// Pi <- Pi mu_t
/// m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
/// d <- sqrt(v / (1 - b2^t)) + eps
/// p <- p - lr (1 - mu_t) / (1 - Pi) g / d - lr mu_{t+1} / (1 - Pi mu_{t+1}) m / d
/// ```
///
/// ```
/// use gradus_optim::{GradientTransformation, NAdam};
/// use gradus_tensor::Tensor;
/// let p = Tensor::from_vec(vec![1.0f64], &[1]).unwrap();
/// let opt = NAdam::new(0.01);
/// let mut state = opt.init(&[p.clone()]).unwrap();
/// opt.apply(&[p.clone()], &[Tensor::from_vec(vec![2.0f64], &[1]).unwrap()], &mut state).unwrap();
/// assert!(p.item().unwrap() < 1.0);
/// assert!(state.scalars["mu_product"] < 1.0);
/// ```
#[derive(Clone, Debug)]
pub struct NAdam {
    lr: Schedule,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    momentum_decay: f64,
    decoupled: bool,
}

impl NAdam {
    /// NAdam with torch's defaults (betas (0.9, 0.999), eps 1e-8, momentum_decay 4e-3).
    pub fn new(lr: impl Into<Schedule>) -> NAdam {
        NAdam {
            lr: lr.into(),
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: 4e-3,
            decoupled: false,
        }
    }
    /// Moment decay rates.
    pub fn betas(mut self, b1: f64, b2: f64) -> NAdam {
        self.betas = (b1, b2);
        self
    }
    /// Epsilon.
    pub fn eps(mut self, eps: f64) -> NAdam {
        self.eps = eps;
        self
    }
    /// Weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> NAdam {
        self.weight_decay = weight_decay;
        self
    }
    /// Momentum decay `psi`.
    pub fn momentum_decay(mut self, momentum_decay: f64) -> NAdam {
        self.momentum_decay = momentum_decay;
        self
    }
    /// Decoupled (AdamW-style) weight decay.
    pub fn decoupled_weight_decay(mut self, decoupled: bool) -> NAdam {
        self.decoupled = decoupled;
        self
    }

    fn init_state(&self, params: &[Tensor]) -> Result<State> {
        check_adam_hyperparameters(&self.lr, self.eps, self.betas, self.weight_decay)?;
        check_nonneg("momentum_decay", self.momentum_decay)?;
        let mut s = State::with_slots(params, &[("exp_avg", 0.0), ("exp_avg_sq", 0.0)]);
        s.scalars.insert("mu_product".into(), 1.0);
        Ok(s)
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
        let mu = b1 * (1.0 - 0.5 * 0.96f64.powf(t * self.momentum_decay));
        let mu_next = b1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * self.momentum_decay));
        let mu_product = state.scalar("mu_product", 1.0) * mu;
        state.scalars.insert("mu_product".into(), mu_product);
        let c_g = lr * (1.0 - mu) / (1.0 - mu_product);
        let c_m = lr * mu_next / (1.0 - mu_product * mu_next);
        let bc2 = 1.0 - b2.powf(t);
        let (l2, decay) = if self.decoupled {
            (0.0, lr * self.weight_decay)
        } else {
            (self.weight_decay, 0.0)
        };
        let rule = NAdamRule {
            b1,
            b2,
            c_g,
            c_m,
            bc2,
            eps: self.eps,
            l2,
            decay,
        };
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            let slots = state.param_slots::<2>(i, p)?;
            fused_update(target, p, g, slots, &rule).map_err(at(i))?;
        }
        Ok(())
    }
}

/// NAdam's per-element rule (`c_g`, `c_m`: this step's momentum-schedule coefficients).
struct NAdamRule {
    b1: f64,
    b2: f64,
    c_g: f64,
    c_m: f64,
    bc2: f64,
    eps: f64,
    l2: f64,
    decay: f64,
}

impl ElementRule<2> for NAdamRule {
    const NAME: &'static str = "nadam";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, p: T, g: T, [m, v]: [&mut T; 2]) -> T {
        let c = T::from_f64;
        let g = g + c(self.l2) * p;
        *m = c(self.b1) * *m + c(1.0 - self.b1) * g;
        *v = c(self.b2) * *v + c(1.0 - self.b2) * g * g;
        let d = (*v / c(self.bc2)).sqrt() + c(self.eps);
        -c(self.decay) * p - c(self.c_g) * g / d - c(self.c_m) * *m / d
    }
}

fused_transformation!(NAdam);
