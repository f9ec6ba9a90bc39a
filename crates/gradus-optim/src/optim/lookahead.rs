//! Lookahead (Zhang et al. 2019), wrapping any optimizer.

use crate::error::at;
use crate::error::check;
use crate::kernel::{check_pairs, fused_update, owned_all, ElementRule, Set, Target};
use crate::{Buffer, GradientTransformation, OptimError, Result, State};
use gradus_tensor::{Element, Tensor};

/// Lookahead: the inner ("fast") optimizer takes `k` steps, then the slow weights move a
/// fraction `alpha` towards the fast ones and the fast weights restart from them.
///
/// Update rule (`phi` = slow weights, initially the parameters):
/// ```text
/// p <- inner step(p, g)
/// every k-th step:  phi <- phi + alpha (p - phi);   p <- phi
/// ```
///
/// ```
/// use gradus_optim::{GradientTransformation, Lookahead, Sgd};
/// use gradus_tensor::Tensor;
/// let p = Tensor::from_vec(vec![1.0f64], &[1]).unwrap();
/// let opt = Lookahead::new(Sgd::new(0.1), 2, 0.5);
/// let mut s = opt.init(&[p.clone()]).unwrap();
/// let g = Tensor::from_vec(vec![1.0f64], &[1]).unwrap();
/// opt.apply(&[p.clone()], &[g.clone()], &mut s).unwrap(); // fast: 0.9
/// opt.apply(&[p.clone()], &[g], &mut s).unwrap();         // fast: 0.8, slow: 1 + 0.5 (0.8 - 1)
/// assert!((p.item().unwrap() - 0.9).abs() < 1e-15);
/// ```
pub struct Lookahead<G> {
    inner: G,
    k: u64,
    alpha: f64,
}

impl<G: GradientTransformation> Lookahead<G> {
    /// Wraps `inner` with sync period `k` and slow step size `alpha` (paper defaults 5, 0.5).
    pub fn new(inner: G, k: u64, alpha: f64) -> Lookahead<G> {
        Lookahead { inner, k, alpha }
    }

    fn sync(&self, params: &[Tensor], state: &mut State) -> Result<()> {
        if !state.count.is_multiple_of(self.k) {
            return Ok(());
        }
        for (i, p) in params.iter().enumerate() {
            let slots = state.param_slots::<1>(i, p)?;
            // the rule reads no gradient; zeros stand in for it (every `k` steps only)
            let unused = Tensor::zeros(p.shape(), p.dtype());
            fused_update(Target::Params, p, &unused, slots, &SyncRule(self.alpha))
                .map_err(at(i))?;
        }
        Ok(())
    }

    fn inner_state(state: &mut State) -> Result<&mut State> {
        state
            .inner
            .first_mut()
            .ok_or_else(|| OptimError::StateMismatch("lookahead state has no inner state".into()))
    }
}

impl<G: GradientTransformation> GradientTransformation for Lookahead<G> {
    fn init(&self, params: &[Tensor]) -> Result<State> {
        check(self.k >= 1, || {
            format!("Invalid lookahead steps: {}", self.k)
        })?;
        check((0.0..=1.0).contains(&self.alpha), || {
            format!("Invalid slow update rate: {}", self.alpha)
        })?;
        let mut s = State {
            slot_names: vec!["slow".into()],
            slots: params
                .iter()
                .map(|p| Buffer::copy_of(p).map(|b| vec![b]))
                .collect::<Result<_>>()?,
            ..State::default()
        };
        s.inner.push(self.inner.init(params)?);
        Ok(s)
    }

    fn apply(&self, params: &[Tensor], grads: &[Tensor], state: &mut State) -> Result<()> {
        self.inner.apply(params, grads, Self::inner_state(state)?)?;
        state.count += 1;
        self.sync(params, state)
    }

    /// Updates without touching `params`: the fast step, or on sync steps the move to the new
    /// slow weights.
    fn update(&self, updates: &mut [Tensor], state: &mut State, params: &[Tensor]) -> Result<()> {
        check_pairs(params, updates)?;
        self.inner
            .update(updates, Self::inner_state(state)?, params)?;
        state.count += 1;
        if state.count.is_multiple_of(self.k) {
            let fast: Vec<Tensor> = params
                .iter()
                .zip(updates.iter())
                .map(|(p, u)| p.add(u))
                .collect::<gradus_tensor::Result<_>>()?;
            let fast = owned_all(&fast)?;
            self.sync(&fast, state)?;
            for (u, (f, p)) in updates.iter_mut().zip(fast.iter().zip(params)) {
                *u = f.sub(p)?;
            }
        }
        Ok(())
    }
}
/// Lookahead's sync: `slow <- slow + alpha (fast - slow)`, then `fast <- slow`.
struct SyncRule(f64);

impl ElementRule<1> for SyncRule {
    const NAME: &'static str = "lookahead_sync";
    type Out<T: Element> = Set<T>;
    #[inline(always)]
    fn lane<T: Element>(&self, p: T, _g: T, [s]: [&mut T; 1]) -> Set<T> {
        *s = *s + T::from_f64(self.0) * (p - *s);
        Set { new: *s, old: p }
    }
}
