//! Exponential moving average of the parameters (Polyak averaging) for evaluation.

use crate::error::at;
use crate::kernel::{fused_update_one, ElementRule, Keep, Target};
use crate::{Buffer, OptimError, Result};
use gradus_tensor::{Element, Tensor};
use serde::{Deserialize, Serialize};

/// An exponential moving average of parameters: after each optimizer step call
/// [`ParamEma::update`]; evaluate with [`ParamEma::averaged`] (or copy them into the model with
/// [`ParamEma::copy_to`]). Serializable for checkpoints.
///
/// `shadow <- decay shadow + (1 - decay) p`, starting from the parameters' initial values.
///
/// ```
/// use gradus_optim::ParamEma;
/// use gradus_tensor::{Element, Tensor};
/// let p = Tensor::from_vec(vec![0.0f64], &[1]).unwrap();
/// let mut ema = ParamEma::new(&[p.clone()], 0.9).unwrap();
/// p.copy_from(&Tensor::from_vec(vec![1.0f64], &[1]).unwrap()).unwrap();
/// ema.update(&[p.clone()]).unwrap();
/// assert!((ema.averaged().unwrap()[0].item().unwrap() - 0.1).abs() < 1e-15);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamEma {
    /// Weight of the past.
    pub decay: f64,
    /// Updates taken.
    pub count: u64,
    /// The averages, one per parameter.
    pub shadow: Vec<Buffer>,
}

impl ParamEma {
    /// Starts averaging from the current parameter values.
    ///
    /// # Errors
    /// When `decay` is outside `[0, 1]`.
    pub fn new(params: &[Tensor], decay: f64) -> Result<ParamEma> {
        crate::error::check((0.0..=1.0).contains(&decay), || {
            format!("Invalid decay value: {decay}")
        })?;
        let shadow = params
            .iter()
            .map(Buffer::copy_of)
            .collect::<Result<Vec<_>>>()?;
        Ok(ParamEma {
            decay,
            count: 0,
            shadow,
        })
    }

    /// Folds the current parameter values into the average.
    ///
    /// # Errors
    /// When the parameters do not match the ones the average was made from.
    pub fn update(&mut self, params: &[Tensor]) -> Result<()> {
        if params.len() != self.shadow.len() {
            return Err(OptimError::StateMismatch(format!(
                "{} averages, {} params",
                self.shadow.len(),
                params.len()
            )));
        }
        self.count += 1;
        let d = self.decay;
        for (i, (s, p)) in self.shadow.iter().zip(params).enumerate() {
            fused_update_one(Target::Params, p, [s.tensor()], &EmaRule(d)).map_err(at(i))?;
        }
        Ok(())
    }

    /// The averaged parameters as new tensors.
    ///
    /// # Errors
    /// On a corrupt state.
    pub fn averaged(&self) -> Result<Vec<Tensor>> {
        self.shadow.iter().map(Buffer::to_tensor).collect()
    }

    /// Overwrites `params` with the averages (keep a copy to swap back).
    ///
    /// # Errors
    /// On a shape or dtype mismatch.
    pub fn copy_to(&self, params: &[Tensor]) -> Result<()> {
        for (p, a) in params.iter().zip(self.averaged()?) {
            p.copy_from(&a)?;
        }
        Ok(())
    }
}
/// The average's per-element rule: `s <- d s + (1 - d) p`, the parameter unchanged.
struct EmaRule(f64);

impl ElementRule<1> for EmaRule {
    const NAME: &'static str = "param_ema";
    type Out<T: Element> = Keep;
    #[inline(always)]
    fn lane<T: Element>(&self, p: T, _g: T, [s]: [&mut T; 1]) -> Keep {
        let c = T::from_f64;
        *s = c(self.0) * *s + c(1.0 - self.0) * p;
        Keep
    }
}
