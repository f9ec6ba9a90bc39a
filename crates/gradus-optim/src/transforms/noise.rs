//! Annealed Gaussian gradient noise (Neelakantan et al. 2015; optax `add_noise`).

use crate::error::check_nonneg;
use crate::{GradientTransformation, Result, State};
use gradus_tensor::{Rng, Tensor};

/// Adds `N(0, eta / (1 + t)^gamma)` noise to every update, drawn from a generator seeded by
/// `(seed, t)`, so a run (and a restored checkpoint) is reproducible.
///
/// ```
/// use gradus_optim::{GradientNoise, GradientTransformation};
/// use gradus_tensor::{DType, Tensor};
/// let noise = GradientNoise::new(0.01, 0.55, 42);
/// let run = || {
///     let mut u = vec![Tensor::zeros(&[3], DType::F64)];
///     let mut s = noise.init(&u).unwrap();
///     noise.update(&mut u, &mut s, &[]).unwrap();
///     u[0].to_vec::<f64>().unwrap()
/// };
/// assert_eq!(run(), run());
/// assert!(run().iter().all(|x| *x != 0.0));
/// ```
#[derive(Clone, Debug)]
pub struct GradientNoise {
    eta: f64,
    gamma: f64,
    seed: u64,
}

impl GradientNoise {
    /// Noise of variance `eta / (1 + t)^gamma` from `seed`.
    pub fn new(eta: f64, gamma: f64, seed: u64) -> GradientNoise {
        GradientNoise { eta, gamma, seed }
    }
}

impl GradientTransformation for GradientNoise {
    fn init(&self, _params: &[Tensor]) -> Result<State> {
        check_nonneg("eta", self.eta)?;
        Ok(State::default())
    }
    fn update(&self, updates: &mut [Tensor], state: &mut State, _params: &[Tensor]) -> Result<()> {
        let t = state.count;
        state.count += 1;
        let std = (self.eta / (1.0 + t as f64).powf(self.gamma)).sqrt();
        let mut rng = Rng::seed(self.seed ^ t.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for u in updates.iter_mut() {
            *u = u.add(&rng.normal(u.shape(), 0.0, std, u.dtype()))?;
        }
        Ok(())
    }
}
