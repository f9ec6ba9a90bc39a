//! word2vec's learning rate: linear in the words trained so far, from `lr` to `min_lr` over the
//! planned words (gensim's `alpha` → `min_alpha`; the C tool's `alpha`), and [`WordClock`], the
//! count of words trained that Hogwild threads share so that the rate falls with the work of all
//! of them, as the C tool's `word_count_actual`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The rate after `words_done` of `planned` words: `lr - (lr - min_lr) · min(1, words_done /
/// planned)` (a pure function of the count, like an optax schedule of the step).
///
/// ```
/// use gradus_embed::word2vec_lr;
/// assert_eq!(word2vec_lr(0.025, 0.0001, 0, 100), 0.025);
/// assert!((word2vec_lr(0.025, 0.0005, 50, 100) - 0.01275).abs() < 1e-15);
/// assert!((word2vec_lr(0.025, 0.0001, 200, 100) - 0.0001).abs() < 1e-15); // held at the end
/// ```
pub fn word2vec_lr(lr: f64, min_lr: f64, words_done: u64, planned: u64) -> f64 {
    let progress = words_done as f64 / planned.max(1) as f64;
    lr - (lr - min_lr) * progress.min(1.0)
}

/// The words trained so far by all threads together and the rate they imply
/// ([`word2vec_lr`]). Threads advance it as they pass words, without locks.
///
/// ```
/// use gradus_embed::WordClock;
/// let clock = WordClock::new(0.025, 0.0001, 1000);
/// assert_eq!(clock.advance(500), 500);
/// assert_eq!(clock.advance(500), 1000);
/// assert!((clock.lr() - 0.0001).abs() < 1e-15);
/// ```
#[derive(Debug)]
pub struct WordClock {
    done: AtomicU64,
    lr: f64,
    min_lr: f64,
    planned: u64,
}

impl WordClock {
    /// A clock at 0 of `planned` words, the rate falling from `lr` to `min_lr`.
    pub fn new(lr: f64, min_lr: f64, planned: u64) -> WordClock {
        WordClock {
            done: AtomicU64::new(0),
            lr,
            min_lr,
            planned,
        }
    }

    /// Adds `words` to the shared count; returns the count after them.
    pub fn advance(&self, words: u64) -> u64 {
        self.done.fetch_add(words, Relaxed) + words
    }

    /// The count so far.
    pub fn words(&self) -> u64 {
        self.done.load(Relaxed)
    }

    /// The rate at the count so far.
    pub fn lr(&self) -> f64 {
        self.lr_at(self.words())
    }

    /// The rate at count `words_done`.
    pub fn lr_at(&self, words_done: u64) -> f64 {
        word2vec_lr(self.lr, self.min_lr, words_done, self.planned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_falls_with_the_words_of_every_thread() {
        // two threads advance one clock; each sees the rate of the shared count, and the rates
        // each sees never rise
        let clock = WordClock::new(0.025, 0.0001, 20_000);
        let seen: Vec<Vec<(u64, f64)>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        (0..100)
                            .map(|_| {
                                let done = clock.advance(100);
                                (done, clock.lr_at(done))
                            })
                            .collect()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(clock.words(), 20_000);
        assert!((clock.lr() - 0.0001).abs() < 1e-15);
        let mut all: Vec<u64> = seen.iter().flatten().map(|&(d, _)| d).collect();
        all.sort_unstable();
        // every count from 100 to 20,000 in steps of 100 was seen once, by one thread or the other
        assert_eq!(all, (1..=200).map(|i| i * 100).collect::<Vec<_>>());
        for s in &seen {
            assert!(s.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 >= w[1].1));
            for &(d, lr) in s {
                assert_eq!(lr, 0.025 - (0.025 - 0.0001) * (d as f64 / 20_000.0));
            }
        }
    }

    #[test]
    fn the_rate_is_linear_and_held_at_min_lr() {
        assert_eq!(word2vec_lr(0.1, 0.0, 0, 10), 0.1);
        assert!((word2vec_lr(0.1, 0.0, 3, 10) - 0.07).abs() < 1e-15);
        let end = word2vec_lr(0.1, 0.02, 10, 10);
        assert!((end - 0.02).abs() < 1e-15, "{end}");
        assert_eq!(word2vec_lr(0.1, 0.02, 11, 10), end);
        assert_eq!(word2vec_lr(0.1, 0.02, 1_000, 10), end);
        // a plan of 0 words is taken as 1, without a division by zero
        assert_eq!(word2vec_lr(0.1, 0.02, 0, 0), 0.1);
    }
}
