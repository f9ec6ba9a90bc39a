//! `WordVectors`: trained embeddings with their vocabulary; cosine nearest neighbours and
//! analogies (`king - man + woman`).

use crate::{EmbedError, Result, Vocab};

/// One vector per vocabulary word, `[vocab, dim]` row-major.
#[derive(Clone, Debug)]
pub struct WordVectors {
    vocab: Vocab,
    /// `[vocab, dim]`, each row scaled to unit length (zero rows stay zero)
    unit: Vec<f32>,
    dim: usize,
}

impl WordVectors {
    /// Vectors `[vocab.len(), dim]` for `vocab`.
    ///
    /// # Errors
    /// [`EmbedError::Invalid`] (key `vectors`) when the length is not `vocab.len() · dim`.
    ///
    /// ```
    /// use gradus_embed::{Vocab, WordVectors};
    /// let vocab = Vocab::build(&["a", "b", "c"], 1).unwrap();
    /// let wv = WordVectors::new(vocab, vec![1.0, 0.0, 0.9, 0.1, 0.0, 1.0], 2).unwrap();
    /// assert_eq!(wv.nearest("a", 1).unwrap()[0].0, "b");
    /// ```
    pub fn new(vocab: Vocab, vectors: Vec<f32>, dim: usize) -> Result<WordVectors> {
        if vectors.len() != vocab.len() * dim {
            return Err(EmbedError::Invalid {
                key: "vectors",
                detail: format!(
                    "has {} numbers, expected {} words × {dim}",
                    vectors.len(),
                    vocab.len()
                ),
            });
        }
        let mut unit = vectors;
        for row in unit.chunks_mut(dim.max(1)) {
            let n = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            if n > 0.0 {
                row.iter_mut().for_each(|x| *x /= n);
            }
        }
        Ok(WordVectors { vocab, unit, dim })
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The unit-length vector of `word`.
    ///
    /// # Errors
    /// [`EmbedError::UnknownWord`].
    pub fn vector(&self, word: &str) -> Result<&[f32]> {
        let i = self
            .vocab
            .id(word)
            .ok_or_else(|| EmbedError::UnknownWord(word.to_string()))?;
        Ok(&self.unit[i * self.dim..(i + 1) * self.dim])
    }

    /// Cosine similarity of two words.
    ///
    /// # Errors
    /// [`EmbedError::UnknownWord`].
    pub fn similarity(&self, a: &str, b: &str) -> Result<f64> {
        Ok(dot(self.vector(a)?, self.vector(b)?))
    }

    /// The `k` words most cosine-similar to `word` (itself excluded), most similar first.
    ///
    /// # Errors
    /// [`EmbedError::UnknownWord`].
    pub fn nearest(&self, word: &str, k: usize) -> Result<Vec<(String, f64)>> {
        let q = self.vector(word)?.to_vec();
        Ok(self.rank(&q, &[word], k))
    }

    /// The `k` words closest to `b - a + c` ("a is to b as c is to ?", gensim's
    /// `most_similar(positive=[b, c], negative=[a])` on unit vectors), the three excluded.
    ///
    /// # Errors
    /// [`EmbedError::UnknownWord`].
    pub fn analogy(&self, a: &str, b: &str, c: &str, k: usize) -> Result<Vec<(String, f64)>> {
        let (va, vb, vc) = (self.vector(a)?, self.vector(b)?, self.vector(c)?);
        let q: Vec<f32> = (0..self.dim).map(|j| vb[j] - va[j] + vc[j]).collect();
        Ok(self.rank(&q, &[a, b, c], k))
    }

    fn rank(&self, q: &[f32], skip: &[&str], k: usize) -> Vec<(String, f64)> {
        let qn = dot(q, q).sqrt().max(1e-12);
        let mut scored: Vec<(usize, f64)> = (0..self.vocab.len())
            .filter(|&i| !skip.contains(&self.vocab.word(i)))
            .map(|i| (i, dot(q, &self.unit[i * self.dim..(i + 1) * self.dim]) / qn))
            .collect();
        scored.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        scored
            .into_iter()
            .take(k)
            .map(|(i, s)| (self.vocab.word(i).to_string(), s))
            .collect()
    }
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}
