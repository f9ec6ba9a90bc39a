//! The per-coordinate inputs of the learned optimizer: gradient momenta at three decay rates,
//! each divided by the root of a second-moment average (Adam's normalization), after Metz et
//! al. 2020 ("Tasks, stability, architecture, and compute", §3) and Wichrowska et al. 2017.
//!
//! For a parameter with gradient `g` at step `t` (1-based), with `m_b` the EMA of `g` at decay
//! `b` in [`MOMENTUM_DECAYS`] and `v` the EMA of `g^2` at [`SECOND_MOMENT_DECAY`], both bias
//! corrected as in Adam (`m̂ = m / (1 - b^t)`), and `r = 1 / (sqrt(v̂) + eps)`:
//! ```text
//! x = [g r, m̂_0.5 r, m̂_0.9 r, m̂_0.99 r]        (n, 4), one row per coordinate
//! ```
//! The features are scale-free (multiplying the loss by a constant leaves them unchanged), which
//! is what lets one network serve parameters of very different gradient scales.

use gradus_tensor::{Result, Tensor};

/// Decay rates of the gradient momenta (features 1 to 3).
pub const MOMENTUM_DECAYS: [f64; 3] = [0.5, 0.9, 0.99];
/// Decay rate of the squared-gradient average used to normalize every feature.
pub const SECOND_MOMENT_DECAY: f64 = 0.999;
/// Added to `sqrt(v̂)` before dividing (Adam's `eps`).
pub const EPS: f64 = 1e-8;
/// Number of features per coordinate.
pub const NUM_FEATURES: usize = 4;
/// The column of the Adam-like feature `m̂_0.9 r` that the direction output is added to.
pub const ADAM_FEATURE: usize = 2;
/// Names of the per-parameter state buffers, in slot order: the three momenta and `v`.
pub const SLOT_NAMES: [&str; 4] = ["exp_avg_0.5", "exp_avg_0.9", "exp_avg_0.99", "exp_avg_sq"];

/// The moving averages after one more gradient: `[m_0.5, m_0.9, m_0.99, v]`, each of `g`'s
/// shape (the inputs `ema` are those before the step).
///
/// # Errors
/// When shapes or dtypes of `g` and `ema` differ.
pub fn advance(g: &Tensor, ema: [&Tensor; 4]) -> Result<[Tensor; 4]> {
    let avg =
        |old: &Tensor, new: &Tensor, b: f64| old.mul_scalar(b)?.add(&new.mul_scalar(1.0 - b)?);
    let [b0, b1, b2] = MOMENTUM_DECAYS;
    Ok([
        avg(ema[0], g, b0)?,
        avg(ema[1], g, b1)?,
        avg(ema[2], g, b2)?,
        avg(ema[3], &g.mul(g)?, SECOND_MOMENT_DECAY)?,
    ])
}

/// The `(n, 4)` feature rows of `n = g.numel()` coordinates at step `t >= 1`, from the averages
/// returned by [`advance`] for this step.
///
/// # Errors
/// When shapes or dtypes differ.
pub fn features(g: &Tensor, ema: &[Tensor; 4], t: u64) -> Result<Tensor> {
    let n = g.numel();
    let t = t.max(1) as i32;
    let correct = |b: f64| 1.0 / (1.0 - b.powi(t));
    let v_hat = ema[3].mul_scalar(correct(SECOND_MOMENT_DECAY))?;
    let r = v_hat.sqrt()?.add_scalar(EPS)?;
    let col = |x: &Tensor, c: f64| x.mul_scalar(c)?.div(&r)?.reshape(&[n, 1]);
    let cols = [
        col(g, 1.0)?,
        col(&ema[0], correct(MOMENTUM_DECAYS[0]))?,
        col(&ema[1], correct(MOMENTUM_DECAYS[1]))?,
        col(&ema[2], correct(MOMENTUM_DECAYS[2]))?,
    ];
    Tensor::concat(&cols.iter().collect::<Vec<_>>(), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At the first step every bias-corrected average is `g` itself, so each feature is
    /// `g / (|g| + eps)`: the sign of the gradient.
    #[test]
    fn first_step_features_are_the_gradient_sign() {
        let g = Tensor::from_vec(vec![0.3f64, -2.0, 5e-3], &[3]).unwrap();
        let z = g.zeros_like();
        let ema = advance(&g, [&z, &z, &z, &z]).unwrap();
        let x = features(&g, &ema, 1).unwrap();
        assert_eq!(x.shape(), &[3, NUM_FEATURES]);
        for (i, row) in x.to_vec::<f64>().unwrap().chunks(4).enumerate() {
            let s = [1.0, -1.0, 1.0][i];
            assert!(row.iter().all(|f| (f - s).abs() < 1e-5), "{row:?}");
        }
    }

    /// Scaling the gradients by a constant leaves the features unchanged (up to eps).
    #[test]
    fn features_are_scale_free() {
        let run = |scale: f64| {
            let z = Tensor::zeros(&[2], gradus_tensor::DType::F64);
            let mut ema = [z.clone(), z.clone(), z.clone(), z];
            let mut x = None;
            for (t, gv) in [[1.0, -0.5], [0.25, 0.75], [-1.0, 2.0]].iter().enumerate() {
                let g = Tensor::from_vec(vec![gv[0] * scale, gv[1] * scale], &[2]).unwrap();
                ema = advance(&g, [&ema[0], &ema[1], &ema[2], &ema[3]]).unwrap();
                x = Some(
                    features(&g, &ema, t as u64 + 1)
                        .unwrap()
                        .to_vec::<f64>()
                        .unwrap(),
                );
            }
            x.unwrap()
        };
        for (a, b) in run(1.0).iter().zip(run(1e3)) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }
}
