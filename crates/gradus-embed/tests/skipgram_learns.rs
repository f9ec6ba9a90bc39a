//! Skip-gram learns from context: on a synthetic corpus whose sentences each draw their words
//! from one of several topics, words of one topic end up closer (cosine) than words of
//! different topics, and the loss falls.

use gradus_embed::{train_skipgram, SkipGramConfig, SkipGramOptimizer};
use gradus_tensor::Rng;

#[test]
fn words_sharing_contexts_are_closer_than_random_pairs_with_sparse_adam() {
    learns(SkipGramOptimizer::SparseAdam, 0.02, 1);
}

#[test]
fn words_sharing_contexts_are_closer_than_random_pairs_with_word2vec_sgd() {
    learns(SkipGramOptimizer::Sgd { min_lr: 1e-4 }, 0.025, 1);
}

#[test]
fn words_sharing_contexts_are_closer_than_random_pairs_with_hogwild_sgd_on_two_threads() {
    learns(SkipGramOptimizer::Sgd { min_lr: 1e-4 }, 0.025, 2);
}

fn learns(optimizer: SkipGramOptimizer, lr: f64, threads: usize) {
    let (topics, per_topic) = (6, 8);
    let word = |t: usize, w: usize| format!("t{t}w{w}");
    let mut rng = Rng::seed(11);
    let mut text = Vec::new();
    for _ in 0..1500 {
        let t = rng.below(topics);
        for _ in 0..10 {
            text.push(word(t, rng.below(per_topic)));
        }
    }
    let cfg = SkipGramConfig {
        dim: 16,
        window: 3,
        min_count: 1,
        subsample: 0.0,
        epochs: 2,
        batch: 256,
        lr,
        optimizer,
        threads,
        ..Default::default()
    };
    let r = train_skipgram(&text, &cfg).unwrap();
    let (first, last) = (
        r.losses[..10].iter().sum::<f64>(),
        r.losses[r.losses.len() - 10..].iter().sum::<f64>(),
    );
    assert!(last < 0.8 * first, "loss {first} -> {last}");
    let (mut same, mut other) = (Vec::new(), Vec::new());
    for t in 0..topics {
        for u in 0..topics {
            for a in 0..per_topic {
                let b = (a + 1 + t) % per_topic;
                let s = r.vectors.similarity(&word(t, a), &word(u, b)).unwrap();
                if t == u {
                    same.push(s)
                } else {
                    other.push(s)
                }
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (ms, mo) = (mean(&same), mean(&other));
    assert!(ms > mo + 0.3, "same topic {ms}, different topics {mo}");
    // every word's nearest neighbour shares its topic
    for t in 0..topics {
        let nn = r.vectors.nearest(&word(t, 0), 1).unwrap();
        assert!(
            nn[0].0.starts_with(&format!("t{t}w")),
            "{} -> {:?}",
            word(t, 0),
            nn
        );
    }
    assert_eq!(r.words, 2 * 15_000);
}
