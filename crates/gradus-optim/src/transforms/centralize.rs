//! Gradient centralization (Yong et al. 2020).

use crate::{GradientTransformation, Result, State};
use gradus_tensor::Tensor;

/// Gradient centralization: for every update of rank >= 2 (weights of shape `[out, ...]`),
/// subtracts the mean over all axes but the first, so each output row's update sums to zero.
/// Rank-0/1 updates (biases) are left alone.
///
/// ```
/// use gradus_optim::{Centralize, GradientTransformation};
/// use gradus_tensor::Tensor;
/// let mut u = vec![Tensor::from_vec(vec![1.0f64, 3.0, 0.0, 4.0], &[2, 2]).unwrap()];
/// let mut s = Centralize.init(&u).unwrap();
/// Centralize.update(&mut u, &mut s, &[]).unwrap();
/// assert_eq!(u[0].to_vec::<f64>().unwrap(), vec![-1.0, 1.0, -2.0, 2.0]);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Centralize;

impl GradientTransformation for Centralize {
    fn init(&self, _params: &[Tensor]) -> Result<State> {
        Ok(State::default())
    }
    fn update(&self, updates: &mut [Tensor], state: &mut State, _params: &[Tensor]) -> Result<()> {
        state.count += 1;
        for u in updates.iter_mut() {
            if u.rank() < 2 {
                continue;
            }
            let axes: Vec<isize> = (1..u.rank() as isize).collect();
            let t = u.detach();
            *u = t.sub(&t.mean(&axes, true)?)?;
        }
        Ok(())
    }
}
