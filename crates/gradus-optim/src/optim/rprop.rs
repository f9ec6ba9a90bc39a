//! Rprop (PyTorch `torch.optim.Rprop`).

use super::fused_transformation;
use crate::error::at;
use crate::error::{check, check_lr_schedule};
use crate::kernel::{fused_update, sign, ElementRule, Target};
use crate::{Result, Schedule, State};
use gradus_tensor::{Element, Tensor};

/// Resilient backpropagation, as in PyTorch (the step size adapts per element to sign agreement).
///
/// Update rule (`s` starts at `lr`, `g'` is the previous step's stored gradient, starting at 0):
/// ```text
/// c <- sign(g g')
/// s <- clamp(s * (eta_plus if c > 0, eta_minus if c < 0, 1 otherwise), step_min, step_max)
/// g <- 0 where c < 0
/// p <- p - sign(g) s;   g' <- g
/// ```
/// (The learning rate only sets the initial step size; a schedule is read at step 0.)
///
/// ```
/// use gradus_optim::{GradientTransformation, Rprop};
/// use gradus_tensor::Tensor;
/// let p = Tensor::from_vec(vec![1.0f64], &[1]).unwrap();
/// let opt = Rprop::new(0.01);
/// let mut state = opt.init(&[p.clone()]).unwrap();
/// let g = Tensor::from_vec(vec![3.0f64], &[1]).unwrap();
/// opt.apply(&[p.clone()], &[g.clone()], &mut state).unwrap(); // step 0.01
/// opt.apply(&[p.clone()], &[g], &mut state).unwrap();         // same sign: step 0.012
/// assert!((p.item().unwrap() - (1.0 - 0.01 - 0.012)).abs() < 1e-15);
/// ```
#[derive(Clone, Debug)]
pub struct Rprop {
    lr: Schedule,
    etas: (f64, f64),
    step_sizes: (f64, f64),
}

impl Rprop {
    /// Rprop with torch's defaults (etas (0.5, 1.2), step sizes (1e-6, 50)).
    pub fn new(lr: impl Into<Schedule>) -> Rprop {
        Rprop {
            lr: lr.into(),
            etas: (0.5, 1.2),
            step_sizes: (1e-6, 50.0),
        }
    }
    /// Multiplicative decrease and increase factors `(eta_minus, eta_plus)`.
    pub fn etas(mut self, eta_minus: f64, eta_plus: f64) -> Rprop {
        self.etas = (eta_minus, eta_plus);
        self
    }
    /// Minimal and maximal step sizes.
    pub fn step_sizes(mut self, min: f64, max: f64) -> Rprop {
        self.step_sizes = (min, max);
        self
    }

    fn init_state(&self, params: &[Tensor]) -> Result<State> {
        check_lr_schedule(&self.lr)?;
        let (em, ep) = self.etas;
        check(0.0 < em && em < 1.0 && 1.0 < ep, || {
            format!("Invalid eta values: {em}, {ep}")
        })?;
        Ok(State::with_slots(
            params,
            &[("prev", 0.0), ("step_size", self.lr.value(0))],
        ))
    }

    fn run(
        &self,
        target: Target,
        params: &[Tensor],
        grads: &[Tensor],
        state: &mut State,
    ) -> Result<()> {
        state.count += 1;
        let rule = RpropRule {
            etas: self.etas,
            step_sizes: self.step_sizes,
        };
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            let slots = state.param_slots::<2>(i, p)?;
            fused_update(target, p, g, slots, &rule).map_err(at(i))?;
        }
        Ok(())
    }
}

/// Rprop's per-element rule (state: previous gradient, step size).
struct RpropRule {
    etas: (f64, f64),
    step_sizes: (f64, f64),
}

impl ElementRule<2> for RpropRule {
    const NAME: &'static str = "rprop";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, _p: T, g: T, [prev, s]: [&mut T; 2]) -> T {
        let c = T::from_f64;
        let agree = g * *prev;
        let zero = c(0.0);
        let factor = if agree > zero {
            c(self.etas.1)
        } else if agree < zero {
            c(self.etas.0)
        } else {
            c(1.0)
        };
        *s = (*s * factor)
            .max(c(self.step_sizes.0))
            .min(c(self.step_sizes.1));
        let g = if agree < zero { zero } else { g };
        *prev = g;
        -sign(g) * *s
    }
}

fused_transformation!(Rprop);
