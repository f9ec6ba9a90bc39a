//! Adam and AdamW (PyTorch `torch.optim.Adam`, `torch.optim.AdamW`).

use super::fused_transformation;
use crate::error::at;
use crate::error::check_adam_hyperparameters;
use crate::kernel::{fused_update, ElementRule, Target};
use crate::{Result, Schedule, State};
use gradus_tensor::{Element, Tensor};

/// Adam, optionally with AMSGrad and decoupled weight decay (AdamW), as in PyTorch.
///
/// Update rule at step `t` (`lambda` = weight decay):
/// ```text
/// g <- -g if maximize
/// if decoupled: p <- p (1 - lr lambda)   (AdamW)   else: g <- g + lambda p   (Adam)
/// m <- b1 m + (1 - b1) g
/// v <- b2 v + (1 - b2) g^2
/// v_max <- max(v_max, v) if amsgrad (and use v_max below)
/// p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
/// ```
/// The step is one fused pass over `p, g, m, v` (28 bytes per f32 parameter), parallel for big
/// buffers.
///
/// ```
/// use gradus_optim::{Adam, Optimizer};
/// use gradus_tensor::Tensor;
/// # fn main() -> gradus_optim::Result<()> {
/// let w = Tensor::from_vec(vec![1.0f64], &[1])?.requires_grad_(true);
/// let mut opt = Optimizer::new(Adam::new(0.1), &[w.clone()])?;
/// w.mul(&w)?.sum_all()?.backward()?;
/// opt.step()?; // the first Adam step moves by lr (up to eps) in the direction of -sign(g)
/// assert!((w.item()? - 0.9).abs() < 1e-7);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Adam {
    lr: Schedule,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    decoupled: bool,
    maximize: bool,
}

/// AdamW: [`Adam`] with decoupled weight decay (default 0.01), as `torch.optim.AdamW`.
///
/// ```
/// use gradus_optim::{AdamW, GradientTransformation};
/// use gradus_tensor::{DType, Tensor};
/// let opt = AdamW::new(1e-3).weight_decay(0.1);
/// assert!(opt.init(&[Tensor::zeros(&[4], DType::F32)]).is_ok());
/// ```
pub struct AdamW;

impl AdamW {
    /// AdamW with torch's defaults (betas (0.9, 0.999), eps 1e-8, weight decay 0.01).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(lr: impl Into<Schedule>) -> Adam {
        Adam {
            decoupled: true,
            weight_decay: 1e-2,
            ..Adam::new(lr)
        }
    }
}

impl Adam {
    /// Adam with torch's defaults (betas (0.9, 0.999), eps 1e-8, no weight decay).
    pub fn new(lr: impl Into<Schedule>) -> Adam {
        Adam {
            lr: lr.into(),
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            decoupled: false,
            maximize: false,
        }
    }
    /// Moment decay rates.
    pub fn betas(mut self, b1: f64, b2: f64) -> Adam {
        self.betas = (b1, b2);
        self
    }
    /// Denominator epsilon.
    pub fn eps(mut self, eps: f64) -> Adam {
        self.eps = eps;
        self
    }
    /// Weight decay (L2 for Adam, decoupled for AdamW).
    pub fn weight_decay(mut self, weight_decay: f64) -> Adam {
        self.weight_decay = weight_decay;
        self
    }
    /// Use the running maximum of `v` (AMSGrad).
    pub fn amsgrad(mut self, amsgrad: bool) -> Adam {
        self.amsgrad = amsgrad;
        self
    }
    /// Decoupled weight decay (AdamW).
    pub fn decoupled_weight_decay(mut self, decoupled: bool) -> Adam {
        self.decoupled = decoupled;
        self
    }
    /// Maximize the objective.
    pub fn maximize(mut self, maximize: bool) -> Adam {
        self.maximize = maximize;
        self
    }

    fn init_state(&self, params: &[Tensor]) -> Result<State> {
        check_adam_hyperparameters(&self.lr, self.eps, self.betas, self.weight_decay)?;
        let mut slots = vec![("exp_avg", 0.0), ("exp_avg_sq", 0.0)];
        if self.amsgrad {
            slots.push(("max_exp_avg_sq", 0.0));
        }
        Ok(State::with_slots(params, &slots))
    }

    fn run(
        &self,
        target: Target,
        params: &[Tensor],
        grads: &[Tensor],
        state: &mut State,
    ) -> Result<()> {
        state.count += 1;
        let t = state.count as i32;
        let lr = self.lr.value(state.count - 1);
        let (b1, b2) = self.betas;
        let step_size = lr / (1.0 - b1.powi(t));
        let bc2_sqrt = (1.0 - b2.powi(t)).sqrt();
        let (l2, decay) = if self.decoupled {
            (0.0, lr * self.weight_decay)
        } else {
            (self.weight_decay, 0.0)
        };
        let rule = AdamRule {
            b1,
            b2,
            step: step_size,
            inv_bc2: 1.0 / bc2_sqrt,
            eps: self.eps,
            l2,
            decay,
            sign: if self.maximize { -1.0 } else { 1.0 },
        };
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            if self.amsgrad {
                let slots = state.param_slots::<3>(i, p)?;
                fused_update(target, p, g, slots, &rule).map_err(at(i))?;
            } else {
                let slots = state.param_slots::<2>(i, p)?;
                fused_update(target, p, g, slots, &rule).map_err(at(i))?;
            }
        }
        Ok(())
    }
}

/// Adam's per-element rule at one step (bias corrections folded into `step` and `inv_bc2`).
struct AdamRule {
    b1: f64,
    b2: f64,
    step: f64,
    inv_bc2: f64,
    eps: f64,
    l2: f64,
    decay: f64,
    sign: f64,
}

impl ElementRule<2> for AdamRule {
    const NAME: &'static str = "adam";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, p: T, g: T, [m, v]: [&mut T; 2]) -> T {
        let c = T::from_f64;
        let g = c(self.sign) * g + c(self.l2) * p;
        *m = c(self.b1) * *m + c(1.0 - self.b1) * g;
        *v = c(self.b2) * *v + c(1.0 - self.b2) * g * g;
        -c(self.decay) * p - c(self.step) * *m / (v.sqrt() * c(self.inv_bc2) + c(self.eps))
    }
}

impl ElementRule<3> for AdamRule {
    const NAME: &'static str = "adam_amsgrad";
    type Out<T: Element> = T;
    #[inline(always)]
    fn lane<T: Element>(&self, p: T, g: T, [m, v, vmax]: [&mut T; 3]) -> T {
        let c = T::from_f64;
        let g = c(self.sign) * g + c(self.l2) * p;
        *m = c(self.b1) * *m + c(1.0 - self.b1) * g;
        *v = c(self.b2) * *v + c(1.0 - self.b2) * g * g;
        *vmax = vmax.max(*v);
        -c(self.decay) * p - c(self.step) * *m / (vmax.sqrt() * c(self.inv_bc2) + c(self.eps))
    }
}

fused_transformation!(Adam);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GradientTransformation;
    use gradus_tensor::{DType, Rng};

    /// The plain reference: Adam/AdamW written with tensor ops, one op per line of the rule.
    #[allow(clippy::too_many_arguments)]
    fn reference_step(
        p: &Tensor,
        g: &Tensor,
        m: &mut Tensor,
        v: &mut Tensor,
        t: i32,
        lr: f64,
        wd: f64,
        decoupled: bool,
    ) -> Tensor {
        let (b1, b2, eps) = (0.9, 0.999, 1e-8);
        let (mut p, mut g) = (p.clone(), g.clone());
        if decoupled {
            p = p.mul_scalar(1.0 - lr * wd).unwrap();
        } else {
            g = g.add(&p.mul_scalar(wd).unwrap()).unwrap();
        }
        *m = m
            .mul_scalar(b1)
            .unwrap()
            .add(&g.mul_scalar(1.0 - b1).unwrap())
            .unwrap();
        *v = v
            .mul_scalar(b2)
            .unwrap()
            .add(&g.mul(&g).unwrap().mul_scalar(1.0 - b2).unwrap())
            .unwrap();
        let denom = v
            .sqrt()
            .unwrap()
            .mul_scalar(1.0 / (1.0 - b2.powi(t)).sqrt())
            .unwrap()
            .add_scalar(eps)
            .unwrap();
        p.sub(
            &m.div(&denom)
                .unwrap()
                .mul_scalar(lr / (1.0 - b1.powi(t)))
                .unwrap(),
        )
        .unwrap()
    }

    /// The fused (parallel, f32) path equals the tensor-op reference, for Adam and AdamW, on a
    /// buffer big enough to be split across threads.
    #[test]
    fn fused_matches_reference() {
        for decoupled in [false, true] {
            let n = 3 * (1 << 16) + 17; // several parallel chunks of the CPU driver and a tail
            let mut rng = Rng::seed(3);
            let p = rng.normal(&[n], 0.0, 1.0, DType::F32);
            let expected_p = p.mul_scalar(1.0).unwrap();
            let opt = Adam::new(1e-2)
                .weight_decay(0.1)
                .decoupled_weight_decay(decoupled);
            let mut state = opt.init(std::slice::from_ref(&p)).unwrap();
            let (mut m, mut v, mut expected) = (p.zeros_like(), p.zeros_like(), expected_p);
            for t in 1..=3 {
                let g = rng.normal(&[n], 0.0, 1.0, DType::F32);
                opt.apply(
                    std::slice::from_ref(&p),
                    std::slice::from_ref(&g),
                    &mut state,
                )
                .unwrap();
                expected = reference_step(&expected, &g, &mut m, &mut v, t, 1e-2, 0.1, decoupled);
            }
            let (a, b) = (
                p.to_vec::<f32>().unwrap(),
                expected.to_vec::<f32>().unwrap(),
            );
            let worst = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst <= 1e-6,
                "decoupled={decoupled}: max |fused - reference| = {worst}"
            );
        }
    }

    /// Adam's rule run by the backend (parallel chunks, widest SIMD) is bit for bit the same
    /// rule in a plain scalar loop, special values included.
    #[test]
    fn the_rule_through_the_parallel_simd_driver_matches_a_scalar_loop_bit_for_bit() {
        use gradus_tensor::fused::ElementRule;
        let n = 3 * (1 << 16) + 17;
        let mut rng = Rng::seed(5);
        let special = [
            0.0f32,
            -0.0,
            1e-40,
            -1e-40,
            1e30,
            -1e30,
            f32::INFINITY,
            f32::NAN,
        ];
        let mut values = |scale: f32| -> Vec<f32> {
            let normal = rng
                .normal(&[n], 0.0, 1.0, DType::F32)
                .to_vec::<f32>()
                .unwrap();
            (0..n)
                .map(|i| special.get(i % 89).map_or(normal[i] * scale, |&s| s))
                .collect()
        };
        let (p0, g) = (values(1.0), values(1e-2));
        let rule = AdamRule {
            b1: 0.9,
            b2: 0.999,
            step: 1e-3 / 0.1,
            inv_bc2: 1.0 / 0.001f64.sqrt(),
            eps: 1e-8,
            l2: 0.01,
            decay: 1e-4,
            sign: 1.0,
        };
        let p = Tensor::from_vec(p0.clone(), &[n]).unwrap();
        let (m, v) = (p.zeros_like(), p.zeros_like());
        let grad = Tensor::from_vec(g.clone(), &[n]).unwrap();
        fused_update(Target::Params, &p, &grad, [&m, &v], &rule).unwrap();
        let (mut p1, mut m1, mut v1) = (p0, vec![0.0f32; n], vec![0.0f32; n]);
        for i in 0..n {
            let d: f32 = std::hint::black_box(rule.lane(p1[i], g[i], [&mut m1[i], &mut v1[i]]));
            p1[i] += d;
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&p.to_vec::<f32>().unwrap()), bits(&p1));
        assert_eq!(bits(&m.to_vec::<f32>().unwrap()), bits(&m1));
        assert_eq!(bits(&v.to_vec::<f32>().unwrap()), bits(&v1));
    }

    #[test]
    fn update_then_add_equals_fused_apply() {
        let p1 = Tensor::from_vec(vec![0.5f64, -1.0, 2.0], &[3]).unwrap();
        let p2 = p1.mul_scalar(1.0).unwrap();
        let g = Tensor::from_vec(vec![0.1f64, 0.2, -0.3], &[3]).unwrap();
        let opt = Adam::new(0.01).amsgrad(true).weight_decay(0.01);
        let (mut s1, mut s2) = (
            opt.init(std::slice::from_ref(&p1)).unwrap(),
            opt.init(std::slice::from_ref(&p2)).unwrap(),
        );
        for _ in 0..3 {
            opt.apply(std::slice::from_ref(&p1), std::slice::from_ref(&g), &mut s1)
                .unwrap();
            let mut u = vec![g.mul_scalar(1.0).unwrap()];
            opt.update(&mut u, &mut s2, std::slice::from_ref(&p2))
                .unwrap();
            crate::apply_updates(std::slice::from_ref(&p2), &u).unwrap();
        }
        for (a, b) in p1
            .to_vec::<f64>()
            .unwrap()
            .iter()
            .zip(p2.to_vec::<f64>().unwrap())
        {
            assert!((a - b).abs() < 1e-15, "{a} vs {b}");
        }
        assert_eq!(s1, s2);
    }

    #[test]
    fn rejects_bad_hyperparameters() {
        let p = [Tensor::zeros(&[1], DType::F32)];
        let msg = |o: Adam| o.init(&p).unwrap_err().to_string();
        assert_eq!(msg(Adam::new(-1.0)), "Invalid learning rate: -1");
        assert_eq!(
            msg(Adam::new(1e-3).betas(0.9, 1.0)),
            "Invalid beta parameter at index 1: 1"
        );
        assert_eq!(
            msg(Adam::new(1e-3).eps(-1e-8)),
            "Invalid epsilon value: -0.00000001"
        );
    }
}
