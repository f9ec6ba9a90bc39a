//! [`LearnedOptimizer`]: the meta-trained per-coordinate MLP used as a gradient transformation.

use super::features::{advance, features, SLOT_NAMES};
use super::net::LearnedOptimizerNet;
use crate::error::{at, check_lr_schedule};
use crate::{GradientTransformation, Result, Schedule, State};
use gradus_tensor::{autodiff::no_grad, DType, Tensor};
use std::path::Path;

/// A learned optimizer: a small MLP applied to every coordinate of every parameter, from
/// gradient features to an update (Metz et al. 2020; Wichrowska et al. 2017; see
/// [`LearnedOptimizerNet`] for the network and [`features`](super::features) for its inputs):
/// ```text
/// m_b <- b m_b + (1 - b) g      for b in 0.5, 0.9, 0.99
/// v   <- 0.999 v + 0.001 g^2
/// x   =  [g, m̂_0.5, m̂_0.9, m̂_0.99] / (sqrt(v̂) + 1e-8)       (bias-corrected, per coordinate)
/// p   <- p - lr · (x[2] + tanh o_0(x)) · exp(3 tanh(o_1(x) / 3))   o = MLP(x)
/// ```
/// Its state is four buffers per parameter (`exp_avg_0.5`, `exp_avg_0.9`, `exp_avg_0.99`,
/// `exp_avg_sq`) and the step count, so checkpoints and resume work as for [`Adam`](crate::Adam).
/// The network's weights come from a safetensors file ([`LearnedOptimizer::from_file`]),
/// written by [`meta_train`](crate::learned::meta_train).
///
/// ```
/// use gradus_optim::{LearnedOptimizer, LearnedOptimizerNet, Optimizer};
/// use gradus_tensor::Tensor;
/// # fn main() -> gradus_optim::Result<()> {
/// let w = Tensor::from_vec(vec![1.0f32, -2.0], &[2])?.requires_grad_(true);
/// let mut opt = Optimizer::new(LearnedOptimizer::new(LearnedOptimizerNet::new(16, 0), 0.1), &[w.clone()])?;
/// for _ in 0..60 {
///     opt.zero_grad();
///     w.mul(&w)?.sum_all()?.backward()?;
///     opt.step()?;
/// }
/// assert!(w.to_vec::<f32>()?.iter().all(|x| x.abs() < 0.3));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct LearnedOptimizer {
    lr: Schedule,
    net_f32: LearnedOptimizerNet,
    net_f64: LearnedOptimizerNet,
}

impl LearnedOptimizer {
    /// The learned optimizer with network `net` and base learning rate `lr` (the `lr` of
    /// `Δθ = -lr · d · exp(s)`; use the rate the network was meta-trained at, which
    /// [`meta_train`](crate::learned::meta_train) writes into the file's metadata as `lr`).
    ///
    /// # Panics
    /// Never: the casts of a network's f32 or f64 weights cannot fail.
    pub fn new(net: LearnedOptimizerNet, lr: impl Into<Schedule>) -> LearnedOptimizer {
        LearnedOptimizer {
            lr: lr.into(),
            net_f32: net.to_dtype(DType::F32).expect("f32 copy of the weights"),
            net_f64: net.to_dtype(DType::F64).expect("f64 copy of the weights"),
        }
    }

    /// The learned optimizer with the network read from a safetensors file.
    ///
    /// # Errors
    /// [`OptimError::Weights`](crate::OptimError::Weights) naming the file (and the tensor and
    /// shape at fault) when it cannot be read (see [`LearnedOptimizerNet::load`]).
    pub fn from_file(path: impl AsRef<Path>, lr: impl Into<Schedule>) -> Result<LearnedOptimizer> {
        let (net, _) = LearnedOptimizerNet::load(path.as_ref())?;
        Ok(LearnedOptimizer::new(net, lr))
    }

    /// The network (f32 weights).
    pub fn net(&self) -> &LearnedOptimizerNet {
        &self.net_f32
    }

    /// The update of one parameter from its gradient `g`, advancing its buffers in place.
    fn update_one(
        &self,
        p: &Tensor,
        g: &Tensor,
        slots: [&Tensor; 4],
        t: u64,
        lr: f64,
    ) -> Result<Tensor> {
        let dtype = slots[0].dtype();
        let net = if dtype == DType::F64 {
            &self.net_f64
        } else {
            &self.net_f32
        };
        let n = p.numel();
        let g = g.to_dtype(dtype)?.reshape(&[n])?;
        let flat = slots.map(|s| s.reshape(&[n]));
        let [a, b, c, d] = flat;
        let ema = advance(&g, [&a?, &b?, &c?, &d?])?;
        for (slot, new) in slots.iter().zip(&ema) {
            slot.copy_from(&new.reshape(slot.shape())?)?;
        }
        let x = features(&g, &ema, t)?;
        Ok(net.step(&x, lr)?.reshape(p.shape())?.to_dtype(p.dtype())?)
    }
}

impl GradientTransformation for LearnedOptimizer {
    fn init(&self, params: &[Tensor]) -> Result<State> {
        check_lr_schedule(&self.lr)?;
        let slots: Vec<(&str, f64)> = SLOT_NAMES.iter().map(|n| (*n, 0.0)).collect();
        Ok(State::with_slots(params, &slots))
    }

    fn update(&self, updates: &mut [Tensor], state: &mut State, params: &[Tensor]) -> Result<()> {
        crate::kernel::check_pairs(params, updates)?;
        state.check_params(params.len())?;
        state.count += 1;
        let (t, lr) = (state.count, self.lr.value(state.count - 1));
        no_grad(|| {
            for (i, (u, p)) in updates.iter_mut().zip(params).enumerate() {
                let slots = state.param_slots::<4>(i, p)?;
                *u = self.update_one(p, u, slots, t, lr).map_err(at(i))?;
            }
            Ok(())
        })
    }
}
