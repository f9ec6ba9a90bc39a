//! `Vocab`: words, their counts and ids, from a tokenized text (word2vec's `min_count`).

use crate::{EmbedError, Result};
use std::collections::HashMap;

/// Lower-cased runs of ASCII letters and apostrophes inside words (`"King's"` -> `"king's"`);
/// everything else separates words.
///
/// ```
/// assert_eq!(gradus_embed::tokenize("The KING's men, 3 of them."), ["the", "king's", "men", "of", "them"]);
/// ```
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphabetic() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_ascii_lowercase())
        .collect()
}

/// The words seen at least `min_count` times, most frequent first (ties alphabetical), with
/// their counts.
#[derive(Clone, Debug)]
pub struct Vocab {
    words: Vec<String>,
    counts: Vec<u64>,
    ids: HashMap<String, usize>,
}

impl Vocab {
    /// Counts `tokens` and keeps the words with at least `min_count` occurrences.
    ///
    /// # Errors
    /// [`EmbedError::Invalid`] (key `min_count`) when no word is left.
    ///
    /// ```
    /// use gradus_embed::Vocab;
    /// let v = Vocab::build(&["a", "b", "a", "c", "a", "b"], 2).unwrap();
    /// assert_eq!((v.len(), v.word(0), v.count(0), v.id("c")), (2, "a", 3, None));
    /// ```
    pub fn build<S: AsRef<str>>(tokens: &[S], min_count: u64) -> Result<Vocab> {
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for t in tokens {
            *counts.entry(t.as_ref()).or_default() += 1;
        }
        let mut kept: Vec<(&str, u64)> = counts
            .into_iter()
            .filter(|&(_, c)| c >= min_count)
            .collect();
        if kept.is_empty() {
            return Err(EmbedError::Invalid {
                key: "min_count",
                detail: format!("{min_count} leaves no word of {} tokens", tokens.len()),
            });
        }
        kept.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let words: Vec<String> = kept.iter().map(|(w, _)| w.to_string()).collect();
        let ids = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i))
            .collect();
        Ok(Vocab {
            counts: kept.iter().map(|&(_, c)| c).collect(),
            words,
            ids,
        })
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// True when there are no words (never, for a built vocabulary).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The word with id `i`.
    ///
    /// # Panics
    /// When `i >= len()`.
    pub fn word(&self, i: usize) -> &str {
        &self.words[i]
    }

    /// The count of word `i`.
    ///
    /// # Panics
    /// When `i >= len()`.
    pub fn count(&self, i: usize) -> u64 {
        self.counts[i]
    }

    /// All counts, by id.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The id of `word`, if kept.
    pub fn id(&self, word: &str) -> Option<usize> {
        self.ids.get(word).copied()
    }

    /// The ids of the kept tokens, in order (dropped words are skipped, as word2vec does).
    pub fn encode<S: AsRef<str>>(&self, tokens: &[S]) -> Vec<usize> {
        tokens.iter().filter_map(|t| self.id(t.as_ref())).collect()
    }
}
