//! Grid search: the combinations of each parameter's grid values, in order (the last parameter
//! varying fastest), skipping those a trial already holds. A failed combination stays tried (a
//! run that diverges at a learning rate of 1 would diverge again); an interrupted one is run
//! again (by [`crate::Study::ask`], which retries interrupted trials first).
//!
//! Grid values: a categorical's choices; an int range's values, or `points` of them evenly spread
//! (log-spread for a log range) when it has more; a float range `points` values from `low` to
//! `high` inclusive, log-spaced for a log range.

use super::Sampler;
use crate::space::{Distribution, ParamValue, Params, SearchSpace};
use crate::spec::Direction;
use crate::trial::Trial;
use rand_pcg::Pcg64Mcg;

/// Grid search with `points` values per float range.
#[derive(Clone, Copy, Debug)]
pub struct GridSampler {
    /// Values per float range (and per int range with more values than this).
    pub points: usize,
}

/// The grid values of `d`.
pub fn values(d: &Distribution, points: usize) -> Vec<ParamValue> {
    let spread = |a: f64, b: f64| -> Vec<f64> {
        (0..points)
            .map(|i| a + (b - a) * i as f64 / (points - 1) as f64)
            .collect()
    };
    match d {
        Distribution::Categorical { choices } => {
            (0..choices.len()).map(ParamValue::Choice).collect()
        }
        Distribution::Int {
            low, high, step, ..
        } if ((high - low) / step + 1) as usize <= points => (0..=(high - low) / step)
            .map(|k| ParamValue::Int(low + k * step))
            .collect(),
        _ => {
            let (a, b) = d.internal_bounds().unwrap_or((0.0, 1.0));
            let mut out: Vec<ParamValue> = Vec::new();
            for x in spread(a, b) {
                let v = match d {
                    // exact ends, not exp(ln(x))
                    Distribution::LogUniform { low, high } if x == a || x == b => {
                        ParamValue::Float(if x == a { *low } else { *high })
                    }
                    _ => d.from_internal(x),
                };
                if !out.contains(&v) {
                    out.push(v);
                }
            }
            out
        }
    }
}

impl GridSampler {
    /// Every combination, in order.
    pub fn grid(&self, space: &SearchSpace) -> Vec<Params> {
        let mut all = vec![Params::new()];
        for p in &space.params {
            let vals = values(&p.distribution, self.points);
            all = all
                .into_iter()
                .flat_map(|base| {
                    vals.iter().map(move |v| {
                        let mut b = base.clone();
                        b.insert(p.name.clone(), *v);
                        b
                    })
                })
                .collect();
        }
        all
    }
}

impl Sampler for GridSampler {
    fn sample(
        &self,
        space: &SearchSpace,
        trials: &[Trial],
        _direction: Direction,
        _rng: &mut Pcg64Mcg,
    ) -> Option<Params> {
        let held = |g: &Params| trials.iter().any(|t| !t.interrupted() && &t.params == g);
        self.grid(space).into_iter().find(|g| !held(g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cover_each_range() {
        let lr = Distribution::LogUniform {
            low: 1e-3,
            high: 1e-1,
        };
        let v = values(&lr, 3);
        assert_eq!(v[0], ParamValue::Float(1e-3));
        assert_eq!(v[2], ParamValue::Float(1e-1));
        match v[1] {
            ParamValue::Float(x) => assert!((x - 1e-2).abs() < 1e-15, "{x}"),
            other => panic!("{other:?}"),
        }
        let small = Distribution::Int {
            low: 1,
            high: 3,
            step: 1,
            log: false,
        };
        assert_eq!(values(&small, 5), [1, 2, 3].map(ParamValue::Int));
        let big = Distribution::Int {
            low: 0,
            high: 100,
            step: 10,
            log: false,
        };
        assert_eq!(values(&big, 3), [0, 50, 100].map(ParamValue::Int));
    }

    #[test]
    fn a_failed_combination_is_not_tried_again_an_interrupted_one_is() {
        use crate::trial::TrialState;
        let space = crate::split_config(
            "[search]\nmetric = \"loss\"\n[search.params]\nc = { type = \"categorical\", choices = [1, 2, 3] }\n",
            "t",
        )
        .unwrap()
        .spec
        .space;
        let g = GridSampler { points: 2 };
        let grid = g.grid(&space);
        let trial = |number: usize, interrupted: bool| Trial {
            number,
            params: grid[number].clone(),
            intermediate: Vec::new(),
            state: TrialState::Failed {
                reason: "diverged".into(),
                interrupted,
            },
        };
        let mut rng = rand::SeedableRng::seed_from_u64(0);
        let next = |trials: &[Trial], rng: &mut Pcg64Mcg| {
            g.sample(&space, trials, Direction::Minimize, rng)
        };
        // combination 0 failed: the grid moves on to 1
        assert_eq!(next(&[trial(0, false)], &mut rng), Some(grid[1].clone()));
        // combination 0 was interrupted: it is still open
        assert_eq!(next(&[trial(0, true)], &mut rng), Some(grid[0].clone()));
        // all three failed: the grid is covered
        let all = [trial(0, false), trial(1, false), trial(2, false)];
        assert_eq!(next(&all, &mut rng), None);
    }
}
