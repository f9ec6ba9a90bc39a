//! LARS (optax `optax.lars`).

use crate::error::at;
use crate::error::{check_lr_schedule, check_nonneg};
use crate::kernel::{check_pairs, fused_update, l2_norm, ElementRule, Target};
use crate::{GradientTransformation, Result, Schedule, State};
use gradus_tensor::{Element, Tensor};

/// LARS (layer-wise adaptive rate scaling), with optax's semantics and names.
///
/// Update rule, per parameter tensor (`c` = trust_coefficient, `beta` = momentum):
/// ```text
/// u <- g + weight_decay p
/// r <- c ||p|| / (||u|| + eps)   (1 when either norm is 0)
/// u <- -learning_rate r u
/// b <- u + beta b;   u <- u + beta b if nesterov else b
/// p <- p + u
/// ```
/// Weight decay and the trust ratio apply to every parameter here (optax's masks default to
/// all); build a second parameter group without them for biases.
///
/// ```
/// use gradus_optim::{GradientTransformation, Lars};
/// use gradus_tensor::Tensor;
/// let p = Tensor::from_vec(vec![3.0f64, 4.0], &[2]).unwrap();
/// let opt = Lars::new(1.0).momentum(0.0);
/// let mut state = opt.init(&[p.clone()]).unwrap();
/// opt.apply(&[p.clone()], &[Tensor::from_vec(vec![0.0f64, 2.0], &[2]).unwrap()], &mut state).unwrap();
/// // r = 0.001 * 5 / 2: p moves by -r g = (0, -0.005)
/// assert!((p.to_vec::<f64>().unwrap()[1] - 3.995).abs() < 1e-12);
/// ```
#[derive(Clone, Debug)]
pub struct Lars {
    learning_rate: Schedule,
    weight_decay: f64,
    trust_coefficient: f64,
    eps: f64,
    momentum: f64,
    nesterov: bool,
}

impl Lars {
    /// LARS with optax's defaults (trust_coefficient 1e-3, eps 0, momentum 0.9, no Nesterov).
    pub fn new(learning_rate: impl Into<Schedule>) -> Lars {
        Lars {
            learning_rate: learning_rate.into(),
            weight_decay: 0.0,
            trust_coefficient: 1e-3,
            eps: 0.0,
            momentum: 0.9,
            nesterov: false,
        }
    }
    /// Weight decay added to the gradient before the trust ratio.
    pub fn weight_decay(mut self, weight_decay: f64) -> Lars {
        self.weight_decay = weight_decay;
        self
    }
    /// Trust coefficient.
    pub fn trust_coefficient(mut self, c: f64) -> Lars {
        self.trust_coefficient = c;
        self
    }
    /// Epsilon in the trust ratio's denominator.
    pub fn eps(mut self, eps: f64) -> Lars {
        self.eps = eps;
        self
    }
    /// Momentum (trace decay).
    pub fn momentum(mut self, momentum: f64) -> Lars {
        self.momentum = momentum;
        self
    }
    /// Nesterov momentum.
    pub fn nesterov(mut self, nesterov: bool) -> Lars {
        self.nesterov = nesterov;
        self
    }
}

impl GradientTransformation for Lars {
    fn init(&self, params: &[Tensor]) -> Result<State> {
        check_lr_schedule(&self.learning_rate)?;
        check_nonneg("weight_decay", self.weight_decay)?;
        check_nonneg("momentum", self.momentum)?;
        check_nonneg("trust_coefficient", self.trust_coefficient)?;
        Ok(State::with_slots(params, &[("trace", 0.0)]))
    }

    fn update(&self, updates: &mut [Tensor], state: &mut State, params: &[Tensor]) -> Result<()> {
        check_pairs(params, updates)?;
        state.check_params(params.len())?;
        let lr = self.learning_rate.value(state.count);
        state.count += 1;
        for (i, (p, u)) in params.iter().zip(updates.iter()).enumerate() {
            let pn = l2_norm(p).map_err(at(i))?;
            let decayed = p.mul_scalar(self.weight_decay).and_then(|d| d.add(u));
            let un = l2_norm(&decayed.map_err(at(i))?).map_err(at(i))?;
            let ratio = if pn == 0.0 || un == 0.0 {
                1.0
            } else {
                self.trust_coefficient * pn / (un + self.eps)
            };
            let rule = LarsRule {
                wd: self.weight_decay,
                scale: -lr * ratio,
                beta: self.momentum,
                nesterov: self.nesterov,
            };
            let slots = state.param_slots::<1>(i, p)?;
            fused_update(Target::Updates, p, u, slots, &rule).map_err(at(i))?;
        }
        Ok(())
    }
}
/// LARS's per-element rule for one parameter (`scale`: `-lr` times its trust ratio).
struct LarsRule {
    wd: f64,
    scale: f64,
    beta: f64,
    nesterov: bool,
}

impl ElementRule<1> for LarsRule {
    const NAME: &'static str = "lars";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, p: T, g: T, [b]: [&mut T; 1]) -> T {
        let c = T::from_f64;
        let u = c(self.scale) * (g + c(self.wd) * p);
        *b = u + c(self.beta) * *b;
        if self.nesterov {
            u + c(self.beta) * *b
        } else {
            *b
        }
    }
}
