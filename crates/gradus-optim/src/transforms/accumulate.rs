//! Gradient accumulation over micro-batches (optax `MultiSteps`).

use crate::error::at;
use crate::error::check;
use crate::kernel::{check_pairs, fused_update, ElementRule, Keep, Target};
use crate::{Buffer, GradientTransformation, OptimError, Result, State};
use gradus_tensor::{Element, Tensor};

/// Accumulates gradients over `k` micro-batches and runs the inner transformation once on their
/// mean; the other `k - 1` calls produce zero updates (and leave the parameters unchanged).
///
/// ```
/// use gradus_optim::{Accumulate, GradientTransformation, Sgd};
/// use gradus_tensor::Tensor;
/// let p = Tensor::from_vec(vec![0.0f64], &[1]).unwrap();
/// let opt = Accumulate::new(Sgd::new(1.0), 2);
/// let mut s = opt.init(&[p.clone()]).unwrap();
/// opt.apply(&[p.clone()], &[Tensor::from_vec(vec![1.0f64], &[1]).unwrap()], &mut s).unwrap();
/// assert_eq!(p.item().unwrap(), 0.0);
/// opt.apply(&[p.clone()], &[Tensor::from_vec(vec![3.0f64], &[1]).unwrap()], &mut s).unwrap();
/// assert_eq!(p.item().unwrap(), -2.0); // mean gradient 2
/// ```
pub struct Accumulate<G> {
    inner: G,
    k: u64,
}

impl<G: GradientTransformation> Accumulate<G> {
    /// Wraps `inner`, stepping it every `k` calls.
    pub fn new(inner: G, k: u64) -> Accumulate<G> {
        Accumulate { inner, k }
    }

    /// Adds `grads` to the accumulators; returns the mean when `k` have been gathered.
    fn gather(
        &self,
        grads: &[Tensor],
        state: &mut State,
        params: &[Tensor],
    ) -> Result<Option<Vec<Tensor>>> {
        check_pairs(params, grads)?;
        state.count += 1;
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            let acc = state.param_slots::<1>(i, p)?;
            fused_update(Target::Params, p, g, acc, &AccumulateRule).map_err(at(i))?;
        }
        if !state.count.is_multiple_of(self.k) {
            return Ok(None);
        }
        let k = self.k as f64;
        let mut means = Vec::with_capacity(params.len());
        for (row, p) in state.slots.iter_mut().zip(params) {
            let mean = row[0]
                .to_tensor()?
                .mul_scalar(1.0 / k)?
                .to_dtype(p.dtype())?;
            row[0] = Buffer::full(row[0].shape(), 0.0, row[0].dtype());
            means.push(mean);
        }
        Ok(Some(means))
    }

    fn inner_state(state: &mut State) -> Result<&mut State> {
        state
            .inner
            .first_mut()
            .ok_or_else(|| OptimError::StateMismatch("accumulate state has no inner state".into()))
    }
}

impl<G: GradientTransformation> GradientTransformation for Accumulate<G> {
    fn init(&self, params: &[Tensor]) -> Result<State> {
        check(self.k >= 1, || {
            format!("Invalid accumulation steps: {}", self.k)
        })?;
        let mut s = State::with_slots(params, &[("acc", 0.0)]);
        s.inner.push(self.inner.init(params)?);
        Ok(s)
    }

    fn update(&self, updates: &mut [Tensor], state: &mut State, params: &[Tensor]) -> Result<()> {
        match self.gather(updates, state, params)? {
            None => updates.iter_mut().for_each(|u| *u = u.zeros_like()),
            Some(mut means) => {
                self.inner
                    .update(&mut means, Self::inner_state(state)?, params)?;
                updates.clone_from_slice(&means);
            }
        }
        Ok(())
    }

    fn apply(&self, params: &[Tensor], grads: &[Tensor], state: &mut State) -> Result<()> {
        if let Some(means) = self.gather(grads, state, params)? {
            self.inner
                .apply(params, &means, Self::inner_state(state)?)?;
        }
        Ok(())
    }
}
/// Accumulation's per-element rule: `a <- a + g`, the parameter unchanged.
struct AccumulateRule;

impl ElementRule<1> for AccumulateRule {
    const NAME: &'static str = "accumulate";
    type Out<T: Element> = Keep;
    #[inline(always)]
    fn lane<T: Element>(&self, _p: T, g: T, [a]: [&mut T; 1]) -> Keep {
        *a = *a + g;
        Keep
    }
}
