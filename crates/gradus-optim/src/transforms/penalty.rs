//! Penalties added to the gradient (L1, L2) and decoupled weight decay.

use crate::error::check_nonneg;
use crate::kernel::{check_pairs, dispatch, elementwise, Target};
use crate::{GradientTransformation, Result, Schedule, State};
use gradus_tensor::{Element, Tensor};

fn add_elementwise(
    updates: &[Tensor],
    params: &[Tensor],
    f: impl Fn(f64) -> f64 + Sync + Copy,
) -> Result<()> {
    check_pairs(params, updates)?;
    for (p, u) in params.iter().zip(updates) {
        dispatch!(p.dtype(), T => elementwise::<T, 0, _>(Target::Updates, p, u, [], move |p: T, g: T, []| {
            g + T::from_f64(f(p.to_f64()))
        })?);
    }
    Ok(())
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
        let c = self.0;
        add_elementwise(updates, params, move |p| c * p)
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
        let c = self.0;
        add_elementwise(updates, params, move |p| {
            if p > 0.0 {
                c
            } else if p < 0.0 {
                -c
            } else {
                0.0
            }
        })
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
        add_elementwise(updates, params, move |p| c * p)
    }
}
