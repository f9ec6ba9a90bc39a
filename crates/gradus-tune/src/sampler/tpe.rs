//! The tree-structured Parzen estimator (Bergstra, Bardenet, Bengio and Kégl, "Algorithms for
//! Hyper-Parameter Optimization", NeurIPS 2011), as Optuna's `TPESampler` with its defaults
//! (univariate; `n_startup_trials` 10, `n_ei_candidates` 24, `gamma(n) = min(ceil(0.1 n), 25)`,
//! `default_weights`, prior and magic clip).
//!
//! Finished trials (completed, then pruned ones: those that got further first, then by their
//! last value) are ranked; the best `gamma(n)` fit the density `l(x)`, the others `g(x)`. For each
//! parameter, `n_ei_candidates` draws of `l` are scored by `log l(x) - log g(x)` (the expected
//! improvement is monotone in `l/g`) and the best is taken. Until `n_startup_trials` trials have
//! finished, draws are random.

use super::parzen::{CategoricalEstimator, NumericalEstimator};
use super::random::RandomSampler;
use super::Sampler;
use crate::space::{Distribution, ParamValue, Params, SearchSpace};
use crate::spec::{Direction, TpeOptions};
use crate::trial::{Trial, TrialState};
use rand_pcg::Pcg64Mcg;

/// TPE with the given options.
#[derive(Clone, Debug, Default)]
pub struct TpeSampler {
    /// Startup trials, candidates, prior weight.
    pub options: TpeOptions,
}

/// Optuna's `default_gamma`: how many of `n` finished trials count as good.
pub fn gamma(n: usize) -> usize {
    n.div_ceil(10).min(25)
}

/// The finished trials split into the good `gamma(n)` and the rest, each in trial order.
pub fn split(trials: &[Trial], direction: Direction) -> (Vec<&Trial>, Vec<&Trial>) {
    let mut complete: Vec<(f64, &Trial)> = trials
        .iter()
        .filter_map(|t| t.value().map(|v| (direction.loss(v), t)))
        .collect();
    complete.sort_by(|a, b| a.0.total_cmp(&b.0));
    // pruned: those that got further first, then by their last value
    let mut pruned: Vec<(i64, f64, &Trial)> = trials
        .iter()
        .filter(|t| matches!(t.state, TrialState::Pruned(_)))
        .map(|t| match t.last() {
            Some((e, v)) => (-(e as i64), direction.loss(v), t),
            None => (1, f64::INFINITY, t),
        })
        .collect();
    pruned.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let ranked: Vec<&Trial> = complete
        .into_iter()
        .map(|c| c.1)
        .chain(pruned.into_iter().map(|p| p.2))
        .collect();
    let n_below = gamma(ranked.len());
    let mut below = ranked[..n_below].to_vec();
    let mut above = ranked[n_below..].to_vec();
    below.sort_by_key(|t| t.number);
    above.sort_by_key(|t| t.number);
    (below, above)
}

impl TpeSampler {
    /// The best of `n_ei_candidates` draws of `l` for one parameter.
    fn sample_param(
        &self,
        name: &str,
        d: &Distribution,
        below: &[&Trial],
        above: &[&Trial],
        rng: &mut Pcg64Mcg,
    ) -> ParamValue {
        let obs = |ts: &[&Trial]| -> Vec<f64> {
            ts.iter()
                .filter_map(|t| t.params.get(name).map(|v| d.to_internal(*v)))
                .collect()
        };
        let (ob, oa) = (obs(below), obs(above));
        let w = self.options.prior_weight;
        let n = self.options.n_ei_candidates.max(1);
        let best = |cands: Vec<f64>, score: &dyn Fn(f64) -> f64| -> f64 {
            let mut best = (f64::NEG_INFINITY, cands[0]);
            for c in cands {
                let s = score(c);
                if s > best.0 {
                    best = (s, c);
                }
            }
            best.1
        };
        match d {
            Distribution::Categorical { choices } => {
                let idx = |v: &[f64]| v.iter().map(|x| *x as usize).collect::<Vec<_>>();
                let l = CategoricalEstimator::new(&idx(&ob), choices.len(), w);
                let g = CategoricalEstimator::new(&idx(&oa), choices.len(), w);
                let cands = (0..n).map(|_| l.sample(rng) as f64).collect();
                let x = best(cands, &|c| l.log_pdf(c as usize) - g.log_pdf(c as usize));
                ParamValue::Choice(x as usize)
            }
            _ => {
                let (low, high) = d.internal_bounds().unwrap_or((0.0, 1.0));
                let step = match d {
                    Distribution::Int {
                        step, log: false, ..
                    } => *step as f64,
                    _ => 0.0,
                };
                let l = NumericalEstimator::new(&ob, low, high, step, w);
                let g = NumericalEstimator::new(&oa, low, high, step, w);
                let cands = (0..n).map(|_| l.sample(rng)).collect();
                d.from_internal(best(cands, &|c| l.log_pdf(c) - g.log_pdf(c)))
            }
        }
    }
}

impl Sampler for TpeSampler {
    fn sample(
        &self,
        space: &SearchSpace,
        trials: &[Trial],
        direction: Direction,
        rng: &mut Pcg64Mcg,
    ) -> Option<Params> {
        let finished = trials
            .iter()
            .filter(|t| matches!(t.state, TrialState::Completed(_) | TrialState::Pruned(_)))
            .count();
        if finished < self.options.n_startup_trials {
            return RandomSampler.sample(space, trials, direction, rng);
        }
        let (below, above) = split(trials, direction);
        Some(
            space
                .params
                .iter()
                .map(|p| {
                    let v = self.sample_param(&p.name, &p.distribution, &below, &above, rng);
                    (p.name.clone(), v)
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(number: usize, state: TrialState, intermediate: Vec<(usize, f64)>) -> Trial {
        Trial {
            number,
            params: Params::new(),
            intermediate,
            state,
        }
    }

    #[test]
    fn gamma_is_optunas() {
        assert_eq!(
            [1, 10, 11, 100, 250, 1000].map(gamma),
            [1, 1, 2, 10, 25, 25]
        );
    }

    #[test]
    fn split_ranks_completed_before_pruned_and_pruned_by_progress() {
        let ts: Vec<Trial> = vec![
            trial(0, TrialState::Completed(0.5), vec![]),
            trial(1, TrialState::Pruned(1), vec![(1, 0.1)]),
            trial(2, TrialState::Pruned(3), vec![(3, 0.9)]),
            trial(3, TrialState::Running, vec![(5, 0.0)]),
        ]
        .into_iter()
        .chain((4..14).map(|i| trial(i, TrialState::Completed(i as f64), vec![])))
        .collect();
        // 13 finished: gamma = 2 -> the best completed (0 with 0.5, then 4 with 4.0)
        let (below, above) = split(&ts, Direction::Minimize);
        assert_eq!(below.iter().map(|t| t.number).collect::<Vec<_>>(), [0, 4]);
        assert_eq!(above.len(), 11);
        assert!(
            !above.iter().any(|t| t.number == 3),
            "running trials are left out"
        );
        // maximizing: the largest completed first
        let (below, _) = split(&ts, Direction::Maximize);
        assert_eq!(below.iter().map(|t| t.number).collect::<Vec<_>>(), [12, 13]);
        // with only pruned trials, the one that got further is best
        let ts = vec![
            trial(0, TrialState::Pruned(1), vec![(1, 0.1)]),
            trial(1, TrialState::Pruned(3), vec![(3, 0.9)]),
        ];
        let (below, _) = split(&ts, Direction::Minimize);
        assert_eq!(below[0].number, 1);
    }
}
