//! LAMB (optax `optax.lamb`).

use crate::error::at;
use crate::error::{check_beta, check_lr_schedule, check_nonneg};
use crate::kernel::{check_pairs, fused_update, l2_norm, scale_in_place, ElementRule, Target};
use crate::{GradientTransformation, Result, Schedule, State};
use gradus_tensor::{Element, Tensor};

/// LAMB (layer-wise adaptive moments), with optax's semantics and names: an Adam direction plus
/// decoupled weight decay, rescaled per parameter tensor by the trust ratio `||p|| / ||u||`.
///
/// Update rule at step `t`, per parameter tensor:
/// ```text
/// m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
/// u <- (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t) + eps_root) + eps) + weight_decay p
/// r <- ||p|| / ||u||   (1 when either norm is 0)
/// p <- p - learning_rate r u
/// ```
///
/// ```
/// use gradus_optim::{GradientTransformation, Lamb};
/// use gradus_tensor::Tensor;
/// let p = Tensor::from_vec(vec![3.0f64, 4.0], &[2]).unwrap();
/// let opt = Lamb::new(0.1);
/// let mut state = opt.init(&[p.clone()]).unwrap();
/// opt.apply(&[p.clone()], &[Tensor::from_vec(vec![1.0f64, 1.0], &[2]).unwrap()], &mut state).unwrap();
/// // u ~ (1, 1), r = 5 / sqrt(2): each coordinate moves by 0.1 * 5 / sqrt(2)
/// assert!((p.to_vec::<f64>().unwrap()[0] - (3.0 - 0.5 / 2f64.sqrt())).abs() < 1e-5);
/// ```
#[derive(Clone, Debug)]
pub struct Lamb {
    learning_rate: Schedule,
    b1: f64,
    b2: f64,
    eps: f64,
    eps_root: f64,
    weight_decay: f64,
}

impl Lamb {
    /// LAMB with optax's defaults (b1 0.9, b2 0.999, eps 1e-6, eps_root 0, weight_decay 0).
    pub fn new(learning_rate: impl Into<Schedule>) -> Lamb {
        Lamb {
            learning_rate: learning_rate.into(),
            b1: 0.9,
            b2: 0.999,
            eps: 1e-6,
            eps_root: 0.0,
            weight_decay: 0.0,
        }
    }
    /// Moment decay rates.
    pub fn betas(mut self, b1: f64, b2: f64) -> Lamb {
        self.b1 = b1;
        self.b2 = b2;
        self
    }
    /// Epsilon outside the square root.
    pub fn eps(mut self, eps: f64) -> Lamb {
        self.eps = eps;
        self
    }
    /// Decoupled weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> Lamb {
        self.weight_decay = weight_decay;
        self
    }
}

impl GradientTransformation for Lamb {
    fn init(&self, params: &[Tensor]) -> Result<State> {
        check_lr_schedule(&self.learning_rate)?;
        check_beta(0, self.b1)?;
        check_beta(1, self.b2)?;
        check_nonneg("epsilon", self.eps)?;
        check_nonneg("weight_decay", self.weight_decay)?;
        Ok(State::with_slots(params, &[("mu", 0.0), ("nu", 0.0)]))
    }

    fn update(&self, updates: &mut [Tensor], state: &mut State, params: &[Tensor]) -> Result<()> {
        check_pairs(params, updates)?;
        state.check_params(params.len())?;
        let lr = self.learning_rate.value(state.count);
        state.count += 1;
        let t = state.count as i32;
        let (bc1, bc2) = (1.0 - self.b1.powi(t), 1.0 - self.b2.powi(t));
        let rule = LambRule {
            b1: self.b1,
            b2: self.b2,
            bc1,
            bc2,
            eps: self.eps,
            eps_root: self.eps_root,
            wd: self.weight_decay,
        };
        for (i, (p, u)) in params.iter().zip(updates.iter()).enumerate() {
            let slots = state.param_slots::<2>(i, p)?;
            fused_update(Target::Updates, p, u, slots, &rule).map_err(at(i))?;
            let (pn, un) = (l2_norm(p).map_err(at(i))?, l2_norm(u).map_err(at(i))?);
            let ratio = if pn == 0.0 || un == 0.0 { 1.0 } else { pn / un };
            scale_in_place(u, -lr * ratio).map_err(at(i))?;
        }
        Ok(())
    }
}
/// LAMB's per-element rule before the trust ratio: the Adam direction plus weight decay.
struct LambRule {
    b1: f64,
    b2: f64,
    bc1: f64,
    bc2: f64,
    eps: f64,
    eps_root: f64,
    wd: f64,
}

impl ElementRule<2> for LambRule {
    const NAME: &'static str = "lamb";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, p: T, g: T, [m, v]: [&mut T; 2]) -> T {
        let c = T::from_f64;
        *m = c(self.b1) * *m + c(1.0 - self.b1) * g;
        *v = c(self.b2) * *v + c(1.0 - self.b2) * g * g;
        (*m / c(self.bc1)) / ((*v / c(self.bc2) + c(self.eps_root)).sqrt() + c(self.eps))
            + c(self.wd) * p
    }
}
