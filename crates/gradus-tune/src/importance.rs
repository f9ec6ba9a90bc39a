//! A documented, simple estimate of each parameter's importance: the correlation ratio η²
//! (Pearson 1905) of the objective on the parameter, over the completed trials. Each parameter's
//! values are grouped (a categorical by choice; a numerical one into up to 5 bins of equal count,
//! in its internal scale, so log ranges are binned in the logarithm); η² is the share of the
//! objective's variance between the groups' means. The estimates are scaled to sum to 1.
//!
//! Unlike fANOVA (Hutter et al. 2014, Optuna's default) it looks at one parameter at a time, so
//! interactions are not attributed, and with few trials the bins are coarse: read it as a ranking,
//! not as exact shares.

use crate::space::Distribution;
use crate::study::Study;

/// The fewest completed trials an estimate is made from: 4, so that a numerical parameter falls
/// into at least 2 bins of 2.
pub const MIN_TRIALS: usize = 4;

/// `(parameter, importance)` for every parameter, in the space's order, summing to 1; all 0
/// when fewer than [`MIN_TRIALS`] trials completed or the objective did not vary.
pub fn importances(study: &Study) -> Vec<(String, f64)> {
    let done: Vec<_> = study
        .trials()
        .iter()
        .filter(|t| t.value().is_some_and(f64::is_finite))
        .collect();
    let params = &study.spec().space.params;
    let raw: Vec<f64> = params
        .iter()
        .map(|p| {
            let pairs: Vec<(f64, f64)> = done
                .iter()
                .filter_map(|t| {
                    let v = t.params.get(&p.name)?;
                    Some((p.distribution.to_internal(*v), t.value()?))
                })
                .collect();
            if pairs.len() < MIN_TRIALS {
                return 0.0;
            }
            eta_squared(&groups(&p.distribution, pairs))
        })
        .collect();
    let total: f64 = raw.iter().sum();
    params
        .iter()
        .zip(raw)
        .map(|(p, r)| (p.name.clone(), if total > 0.0 { r / total } else { 0.0 }))
        .collect()
}

/// The objective values grouped by the parameter's choice or bin.
fn groups(d: &Distribution, mut pairs: Vec<(f64, f64)>) -> Vec<Vec<f64>> {
    if let Distribution::Categorical { choices } = d {
        let mut g = vec![Vec::new(); choices.len()];
        for (x, y) in pairs {
            g[x as usize].push(y);
        }
        return g;
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let bins = 5.min(pairs.len() / 2).max(1);
    let n = pairs.len();
    (0..bins)
        .map(|b| {
            pairs[b * n / bins..(b + 1) * n / bins]
                .iter()
                .map(|p| p.1)
                .collect()
        })
        .collect()
}

/// Between-group sum of squares over the total sum of squares.
fn eta_squared(groups: &[Vec<f64>]) -> f64 {
    let all: Vec<f64> = groups.iter().flatten().copied().collect();
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    let total: f64 = all.iter().map(|y| (y - mean).powi(2)).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let between: f64 = groups
        .iter()
        .filter(|g| !g.is_empty())
        .map(|g| {
            let m = g.iter().sum::<f64>() / g.len() as f64;
            g.len() as f64 * (m - mean).powi(2)
        })
        .sum();
    between / total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split_config;

    #[test]
    fn the_parameter_the_objective_depends_on_ranks_first() {
        let text = "[search]\nmetric = \"loss\"\nsampler = \"random\"\n[search.params]\na = { type = \"uniform\", low = 0.0, high = 1.0 }\nb = { type = \"log_uniform\", low = 1e-3, high = 1.0 }\nc = { type = \"categorical\", choices = [1, 2, 3] }\n";
        let mut s = Study::new(split_config(text, "t").unwrap().spec);
        for _ in 0..60 {
            let n = s.ask().unwrap().unwrap();
            let b = s.value_f64(n, "b").unwrap();
            let a = s.value_f64(n, "a").unwrap();
            s.complete(n, b.ln().powi(2) + 0.01 * a).unwrap();
        }
        let imp = importances(&s);
        assert_eq!(
            imp.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert!((imp.iter().map(|p| p.1).sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(imp[1].1 > 0.8, "{imp:?}");
        assert!(eta_squared(&[vec![1.0, 1.0], vec![3.0, 3.0]]) == 1.0);
        assert!(eta_squared(&[vec![1.0, 3.0], vec![1.0, 3.0]]) == 0.0);
    }
}
