//! AdaBelief (optax `optax.adabelief`).

use super::fused_transformation;
use crate::error::at;
use crate::error::{check_beta, check_lr_schedule, check_nonneg};
use crate::kernel::{fused_update, ElementRule, Target};
use crate::{Result, Schedule, State};
use gradus_tensor::{Element, Tensor};

/// AdaBelief (Adam scaled by the "belief" in the gradient), with optax's semantics and names.
///
/// Update rule at step `t` (the prediction error uses the updated `m`, as current optax does):
/// ```text
/// m <- b1 m + (1 - b1) g
/// s <- b2 s + (1 - b2) (g - m)^2 + eps_root
/// p <- p - learning_rate (m / (1 - b1^t)) / (sqrt(s / (1 - b2^t)) + eps)
/// ```
///
/// ```
/// use gradus_optim::{AdaBelief, GradientTransformation};
/// use gradus_tensor::Tensor;
/// let p = Tensor::from_vec(vec![1.0f64], &[1]).unwrap();
/// let opt = AdaBelief::new(0.01);
/// let mut state = opt.init(&[p.clone()]).unwrap();
/// opt.apply(&[p.clone()], &[Tensor::from_vec(vec![2.0f64], &[1]).unwrap()], &mut state).unwrap();
/// assert!((p.item().unwrap() - (1.0 - 0.01 / 0.9)).abs() < 1e-12); // first step: lr / b1 * sign(g)
/// ```
#[derive(Clone, Debug)]
pub struct AdaBelief {
    learning_rate: Schedule,
    b1: f64,
    b2: f64,
    eps: f64,
    eps_root: f64,
}

impl AdaBelief {
    /// AdaBelief with optax's defaults (b1 0.9, b2 0.999, eps 1e-16, eps_root 1e-16).
    pub fn new(learning_rate: impl Into<Schedule>) -> AdaBelief {
        AdaBelief {
            learning_rate: learning_rate.into(),
            b1: 0.9,
            b2: 0.999,
            eps: 1e-16,
            eps_root: 1e-16,
        }
    }
    /// Moment decay rates.
    pub fn betas(mut self, b1: f64, b2: f64) -> AdaBelief {
        self.b1 = b1;
        self.b2 = b2;
        self
    }
    /// Epsilons outside and inside the square root.
    pub fn eps(mut self, eps: f64, eps_root: f64) -> AdaBelief {
        self.eps = eps;
        self.eps_root = eps_root;
        self
    }

    fn init_state(&self, params: &[Tensor]) -> Result<State> {
        check_lr_schedule(&self.learning_rate)?;
        check_beta(0, self.b1)?;
        check_beta(1, self.b2)?;
        check_nonneg("epsilon", self.eps)?;
        check_nonneg("eps_root", self.eps_root)?;
        Ok(State::with_slots(params, &[("mu", 0.0), ("nu", 0.0)]))
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
        let rule = AdaBeliefRule {
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

/// AdaBelief's per-element rule (state: `m` and the belief `s`).
struct AdaBeliefRule {
    lr: f64,
    b1: f64,
    b2: f64,
    bc1: f64,
    bc2: f64,
    eps: f64,
    eps_root: f64,
}

impl ElementRule<2> for AdaBeliefRule {
    const NAME: &'static str = "adabelief";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, _p: T, g: T, [m, s]: [&mut T; 2]) -> T {
        let c = T::from_f64;
        *m = c(self.b1) * *m + c(1.0 - self.b1) * g;
        let e = g - *m;
        *s = c(self.b2) * *s + c(1.0 - self.b2) * e * e + c(self.eps_root);
        -c(self.lr) * (*m / c(self.bc1)) / ((*s / c(self.bc2)).sqrt() + c(self.eps))
    }
}

fused_transformation!(AdaBelief);
