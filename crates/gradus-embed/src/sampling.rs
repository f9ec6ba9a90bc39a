//! The two samplers of word2vec (Mikolov et al. 2013, "Distributed Representations of Words and
//! Phrases and their Compositionality"): negatives from the unigram distribution raised to 3/4,
//! and subsampling of frequent words.

use gradus_tensor::Rng;

/// Draws word ids with probability proportional to `count^power` (word2vec: `power` = 0.75), in
/// O(1) per draw by Walker's alias method (Vose's construction): one uniform picks a column and
/// either its own id or its alias.
///
/// ```
/// use gradus_embed::NegativeSampler;
/// use gradus_tensor::Rng;
/// let s = NegativeSampler::new(&[81, 16, 1], 0.75);
/// assert!((s.probability(0) - 27.0 / 36.0).abs() < 1e-12); // 81^.75 = 27, 16^.75 = 8, 1
/// assert!(s.sample(&mut Rng::seed(0)) < 3);
/// ```
#[derive(Clone, Debug)]
pub struct NegativeSampler {
    /// the probability of each id
    p: Vec<f64>,
    /// column `i` keeps id `i` with probability `keep[i]`, else gives `alias[i]`
    keep: Vec<f64>,
    alias: Vec<usize>,
}

impl NegativeSampler {
    /// A sampler over `counts.len()` ids (at least one).
    pub fn new(counts: &[u64], power: f64) -> NegativeSampler {
        let w: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(power)).collect();
        let total: f64 = w.iter().sum();
        let p: Vec<f64> = w.iter().map(|x| x / total).collect();
        let n = p.len();
        let mut keep: Vec<f64> = p.iter().map(|x| x * n as f64).collect();
        let mut alias: Vec<usize> = (0..n).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| keep[i] < 1.0);
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            alias[s] = l;
            keep[l] -= 1.0 - keep[s];
            if keep[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // what is left is 1 up to rounding
        small.into_iter().chain(large).for_each(|i| keep[i] = 1.0);
        NegativeSampler { p, keep, alias }
    }

    /// The probability of drawing `id`.
    pub fn probability(&self, id: usize) -> f64 {
        self.p[id]
    }

    /// One draw.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let x = rng.uniform_f64() * self.keep.len() as f64;
        let i = (x as usize).min(self.keep.len() - 1);
        if x - (i as f64) < self.keep[i] {
            i
        } else {
            self.alias[i]
        }
    }
}

/// The probability that word2vec keeps an occurrence of a word of frequency `count / total`,
/// with threshold `t` (1e-3 in gensim and the C tool): `(sqrt(f / t) + 1) · t / f`, capped at 1
/// (the C tool's formula; the paper writes the discard probability as `1 - sqrt(t / f)`).
///
/// ```
/// use gradus_embed::keep_probability;
/// assert_eq!(keep_probability(1, 1_000_000, 1e-3), 1.0); // rare words are always kept
/// assert!(keep_probability(100_000, 1_000_000, 1e-3) < 0.2); // a word of 10% is mostly dropped
/// ```
pub fn keep_probability(count: u64, total: u64, t: f64) -> f64 {
    if t <= 0.0 {
        return 1.0;
    }
    let f = count as f64 / total as f64;
    (((f / t).sqrt() + 1.0) * t / f).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_the_smoothed_unigram_distribution() {
        let s = NegativeSampler::new(&[1000, 100, 10, 1, 1000, 3], 0.75);
        let mut rng = Rng::seed(4);
        let mut hist = [0usize; 6];
        let n = 200_000;
        for _ in 0..n {
            hist[s.sample(&mut rng)] += 1;
        }
        for (id, &h) in hist.iter().enumerate() {
            let p = s.probability(id);
            assert!((p - [177.83, 31.62, 5.62, 1.0, 177.83, 2.28][id] / 396.18).abs() < 1e-3);
            let sd = (p * (1.0 - p) / n as f64).sqrt();
            assert!(
                (h as f64 / n as f64 - p).abs() < 5.0 * sd,
                "id {id}: {h} vs {p}"
            );
        }
    }
}
