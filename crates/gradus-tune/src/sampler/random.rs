//! Random search: every parameter drawn independently from its distribution (Optuna's
//! `RandomSampler`; log ranges uniform in the logarithm, log ints over `[low - 0.5, high + 0.5]`
//! in the logarithm, then rounded).

use super::Sampler;
use crate::space::{Distribution, ParamValue, Params, SearchSpace};
use crate::spec::Direction;
use crate::trial::Trial;
use rand::Rng;
use rand_pcg::Pcg64Mcg;

/// Independent draws; seeded through the study's per-trial generator.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomSampler;

/// One draw from `d`.
pub fn draw(d: &Distribution, rng: &mut Pcg64Mcg) -> ParamValue {
    let u: f64 = rng.gen();
    match d {
        Distribution::Uniform { low, high } => ParamValue::Float(low + (high - low) * u),
        Distribution::LogUniform { low, high } => ParamValue::Float(
            (low.ln() + (high.ln() - low.ln()) * u)
                .exp()
                .clamp(*low, *high),
        ),
        Distribution::Int {
            low,
            high,
            log: true,
            ..
        } => {
            let (a, b) = ((*low as f64 - 0.5).ln(), (*high as f64 + 0.5).ln());
            ParamValue::Int(((a + (b - a) * u).exp().round() as i64).clamp(*low, *high))
        }
        Distribution::Int {
            low, high, step, ..
        } => ParamValue::Int(low + step * rng.gen_range(0..=(high - low) / step)),
        Distribution::Categorical { choices } => {
            ParamValue::Choice(rng.gen_range(0..choices.len()))
        }
    }
}

impl Sampler for RandomSampler {
    fn sample(
        &self,
        space: &SearchSpace,
        _trials: &[Trial],
        _direction: Direction,
        rng: &mut Pcg64Mcg,
    ) -> Option<Params> {
        Some(
            space
                .params
                .iter()
                .map(|p| (p.name.clone(), draw(&p.distribution, rng)))
                .collect(),
        )
    }
}
