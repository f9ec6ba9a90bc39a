//! Gradient centralization (Yong et al. 2020).

use crate::kernel::{dispatch, owned};
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
            let rows = u.shape()[0];
            let t = owned(u)?;
            dispatch!(t.dtype(), T => t.update_data(|v: &mut [T]| {
                let cols = v.len() / rows.max(1);
                for row in v.chunks_mut(cols.max(1)) {
                    let mean = row.iter().copied().sum::<T>() / <T as gradus_tensor::Element>::from_f64(cols as f64);
                    row.iter_mut().for_each(|x| *x -= mean);
                }
            })?);
            *u = t;
        }
        Ok(())
    }
}
