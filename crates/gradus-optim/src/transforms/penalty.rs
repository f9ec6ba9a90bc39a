//! Penalties added to the gradient (L1, L2) and decoupled weight decay.

use crate::error::at;
use crate::error::check_nonneg;
use crate::kernel::{check_pairs, fused_update, ElementRule, Target};
use crate::{GradientTransformation, Result, Schedule, State};
use gradus_tensor::{Element, Tensor};

fn add_elementwise(
    updates: &[Tensor],
    params: &[Tensor],
    rule: &impl ElementRule<0>,
) -> Result<()> {
    check_pairs(params, updates)?;
    for (i, (p, u)) in params.iter().zip(updates).enumerate() {
        fused_update(Target::Updates, p, u, [], rule).map_err(at(i))?;
    }
    Ok(())
}

/// `u <- u + c p` (the product in f64, rounded once): an L2 penalty or decoupled weight decay.
struct AddScaledParam(f64);

impl ElementRule<0> for AddScaledParam {
    const NAME: &'static str = "add_scaled_param";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, p: T, u: T, _: [&mut T; 0]) -> T {
        u + T::from_f64(self.0 * p.to_f64())
    }
}

/// `u <- u + c sign(p)`: an L1 penalty's subgradient.
struct AddSignParam(f64);

impl ElementRule<0> for AddSignParam {
    const NAME: &'static str = "add_sign_param";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, p: T, u: T, _: [&mut T; 0]) -> T {
        let p = p.to_f64();
        let s = if p > 0.0 {
            self.0
        } else if p < 0.0 {
            -self.0
        } else {
            0.0
        };
        u + T::from_f64(s)
    }
}

/// L2 penalty `0.5 c |p|^2` added to the loss: `g <- g + c p` (torch's coupled `weight_decay`).
///
/// ```
/// use gradus_optim::{GradientTransformation, L2Penalty};
/// use gradus_tensor::Tensor;
/// let p = vec![Tensor::from_vec(vec![2.0f64], &[1]).unwrap()];
/// let mut u = vec![Tensor::from_vec(vec![1.0f64], &[1]).unwrap()];
/// let t = L2Penalty::new(0.5);
/// let mut s = t.init(&p).unwrap();
/// t.update(&mut u, &mut s, &p).unwrap();
/// assert_eq!(u[0].item().unwrap(), 2.0);
/// ```
#[derive(Clone, Debug)]
pub struct L2Penalty(f64);

impl L2Penalty {
    /// Penalty coefficient `c`.
    pub fn new(c: f64) -> L2Penalty {
        L2Penalty(c)
    }
}

impl GradientTransformation for L2Penalty {
    fn init(&self, _params: &[Tensor]) -> Result<State> {
        check_nonneg("weight_decay", self.0)?;
        Ok(State::default())
    }
    fn update(&self, updates: &mut [Tensor], state: &mut State, params: &[Tensor]) -> Result<()> {
        state.count += 1;
        add_elementwise(updates, params, &AddScaledParam(self.0))
    }
}

/// L1 penalty `c |p|_1` added to the loss: `g <- g + c sign(p)`.
///
/// ```
/// use gradus_optim::{GradientTransformation, L1Penalty};
/// use gradus_tensor::Tensor;
/// let p = vec![Tensor::from_vec(vec![-2.0f64, 0.0], &[2]).unwrap()];
/// let mut u = vec![Tensor::from_vec(vec![1.0f64, 1.0], &[2]).unwrap()];
/// let t = L1Penalty::new(0.5);
/// let mut s = t.init(&p).unwrap();
/// t.update(&mut u, &mut s, &p).unwrap();
/// assert_eq!(u[0].to_vec::<f64>().unwrap(), vec![0.5, 1.0]);
/// ```
#[derive(Clone, Debug)]
pub struct L1Penalty(f64);

impl L1Penalty {
    /// Penalty coefficient `c`.
    pub fn new(c: f64) -> L1Penalty {
        L1Penalty(c)
    }
}

impl GradientTransformation for L1Penalty {
    fn init(&self, _params: &[Tensor]) -> Result<State> {
        check_nonneg("l1", self.0)?;
        Ok(State::default())
    }
    fn update(&self, updates: &mut [Tensor], state: &mut State, params: &[Tensor]) -> Result<()> {
        state.count += 1;
        add_elementwise(updates, params, &AddSignParam(self.0))
    }
}

/// Decoupled weight decay as a final transform: `u <- u - lr(t) lambda p` (put it after an
/// optimizer without weight decay to get AdamW-style decay on any optimizer).
///
/// ```
/// use gradus_optim::{DecoupledWeightDecay, GradientTransformation};
/// use gradus_tensor::Tensor;
/// let p = vec![Tensor::from_vec(vec![2.0f64], &[1]).unwrap()];
/// let mut u = vec![Tensor::from_vec(vec![0.0f64], &[1]).unwrap()];
/// let t = DecoupledWeightDecay::new(0.1, 0.5);
/// let mut s = t.init(&p).unwrap();
/// t.update(&mut u, &mut s, &p).unwrap();
/// assert_eq!(u[0].item().unwrap(), -0.1);
/// ```
#[derive(Clone, Debug)]
pub struct DecoupledWeightDecay {
    lr: Schedule,
    weight_decay: f64,
}

impl DecoupledWeightDecay {
    /// Decay `lr(t) * weight_decay * p` per step.
    pub fn new(lr: impl Into<Schedule>, weight_decay: f64) -> DecoupledWeightDecay {
        DecoupledWeightDecay {
            lr: lr.into(),
            weight_decay,
        }
    }
}

impl GradientTransformation for DecoupledWeightDecay {
    fn init(&self, _params: &[Tensor]) -> Result<State> {
        check_nonneg("weight_decay", self.weight_decay)?;
        self.lr.validate()?;
        Ok(State::default())
    }
    fn update(&self, updates: &mut [Tensor], state: &mut State, params: &[Tensor]) -> Result<()> {
        let c = -self.lr.value(state.count) * self.weight_decay;
        state.count += 1;
        add_elementwise(updates, params, &AddScaledParam(c))
    }
}
