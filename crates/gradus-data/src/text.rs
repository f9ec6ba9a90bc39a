//! Plain text for character-level language models.
//!
//! [`CharVocab`] maps each distinct character to an id (ids follow sorted
//! character order, so the same text always gives the same vocabulary) and is
//! serde-serializable to be stored with a model. [`TextDataset`] cuts a token
//! stream into windows: the input is `block_size` tokens and the target is the
//! same window shifted by one (the next token at every position).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::DataError;

/// Reads a UTF-8 text file, without a leading byte-order mark (see [`crate::utf8::decode`]).
///
/// # Errors
/// When the file cannot be read, or at the line and column of the first invalid UTF-8.
///
/// ```
/// let text = gradus_data::text::read_text("../../data/tinyshakespeare/input.txt")?;
/// assert!(text.starts_with("First Citizen:"));
/// # Ok::<(), gradus_data::DataError>(())
/// ```
pub fn read_text(path: impl AsRef<Path>) -> Result<String, DataError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    crate::utf8::decode(bytes, path)
}

/// The sorted distinct characters of a text; a character's id is its rank.
///
/// Serializes as `{"chars": "<the characters in order>"}`; deserializing
/// checks that they are strictly increasing.
///
/// ```
/// use gradus_data::text::CharVocab;
/// let v = CharVocab::from_text("hello");
/// assert_eq!(v.chars(), &['e', 'h', 'l', 'o']);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "VocabRepr", into = "VocabRepr")]
pub struct CharVocab {
    chars: Vec<char>,
}

/// The serialized form of [`CharVocab`].
#[derive(Serialize, Deserialize)]
struct VocabRepr {
    chars: String,
}

impl TryFrom<VocabRepr> for CharVocab {
    type Error = DataError;
    fn try_from(repr: VocabRepr) -> Result<Self, DataError> {
        let chars: Vec<char> = repr.chars.chars().collect();
        if chars.windows(2).any(|w| w[0] >= w[1]) {
            return Err(DataError::invalid(
                "vocabulary characters must be sorted and distinct",
            ));
        }
        Ok(CharVocab { chars })
    }
}

impl From<CharVocab> for VocabRepr {
    fn from(vocab: CharVocab) -> Self {
        VocabRepr {
            chars: vocab.chars.into_iter().collect(),
        }
    }
}

impl CharVocab {
    /// The vocabulary of all characters occurring in `text`.
    ///
    /// ```
    /// use gradus_data::text::CharVocab;
    /// assert_eq!(CharVocab::from_text("abba").len(), 2);
    /// ```
    pub fn from_text(text: &str) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        CharVocab { chars }
    }

    /// Number of distinct characters.
    ///
    /// ```
    /// use gradus_data::text::CharVocab;
    /// assert_eq!(CharVocab::from_text("abc").len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// True for the vocabulary of an empty text.
    ///
    /// ```
    /// use gradus_data::text::CharVocab;
    /// assert!(CharVocab::from_text("").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The characters, in id order.
    ///
    /// ```
    /// use gradus_data::text::CharVocab;
    /// assert_eq!(CharVocab::from_text("ba").chars(), &['a', 'b']);
    /// ```
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// The id of `c`, if it is in the vocabulary.
    ///
    /// ```
    /// use gradus_data::text::CharVocab;
    /// let v = CharVocab::from_text("ba");
    /// assert_eq!((v.id('b'), v.id('z')), (Some(1), None));
    /// ```
    pub fn id(&self, c: char) -> Option<u32> {
        self.chars.binary_search(&c).ok().map(|i| i as u32)
    }

    /// The character with id `id`, if any.
    ///
    /// ```
    /// use gradus_data::text::CharVocab;
    /// assert_eq!(CharVocab::from_text("ba").char(0), Some('a'));
    /// ```
    pub fn char(&self, id: u32) -> Option<char> {
        self.chars.get(id as usize).copied()
    }

    /// Encodes text to ids; fails on the first character not in the vocabulary.
    ///
    /// ```
    /// use gradus_data::text::CharVocab;
    /// let v = CharVocab::from_text("abc");
    /// assert_eq!(v.encode("cab")?, vec![2, 0, 1]);
    /// assert!(v.encode("d").is_err());
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, DataError> {
        text.chars()
            .enumerate()
            .map(|(offset, ch)| self.id(ch).ok_or(DataError::UnknownChar { ch, offset }))
            .collect()
    }

    /// Encodes the text of file `path` (a model's validation, test or evaluation text, read with
    /// the vocabulary of its training text); a character outside the vocabulary is an error
    /// naming the file, the line and the column.
    ///
    /// ```
    /// use gradus_data::text::CharVocab;
    /// let v = CharVocab::from_text("ab\n");
    /// assert_eq!(v.encode_file("ab\nba", "val.txt")?, vec![1, 2, 0, 2, 1]);
    /// let err = v.encode_file("ab\nbza", "val.txt").unwrap_err();
    /// assert_eq!(err.to_string(), "val.txt:2: column 2: character 'z' is not in the vocabulary of the training text");
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn encode_file(&self, text: &str, path: impl AsRef<Path>) -> Result<Vec<u32>, DataError> {
        self.encode(text).map_err(|e| match e {
            DataError::UnknownChar { ch, offset } => {
                let before: String = text.chars().take(offset).collect();
                let line = before.matches('\n').count() as u64 + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                DataError::Parse {
                    path: path.as_ref().to_path_buf(),
                    line,
                    message: format!(
                        "column {column}: character {ch:?} is not in the vocabulary of the training text"
                    ),
                }
            }
            other => other,
        })
    }

    /// Decodes ids back to text; fails on an id outside the vocabulary.
    ///
    /// ```
    /// use gradus_data::text::CharVocab;
    /// let v = CharVocab::from_text("abc");
    /// assert_eq!(v.decode(&[2, 0, 1])?, "cab");
    /// assert!(v.decode(&[3]).is_err());
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn decode(&self, ids: &[u32]) -> Result<String, DataError> {
        ids.iter()
            .map(|&id| {
                self.char(id).ok_or(DataError::UnknownToken {
                    id,
                    vocab_size: self.len(),
                })
            })
            .collect()
    }
}

/// A batch of token windows: `inputs` and `targets` are both
/// `batch_size x block_size`, row-major; `targets` is `inputs` shifted by one.
///
/// ```
/// use gradus_data::text::TextDataset;
/// let ds = TextDataset::new(vec![0, 1, 2, 3, 4], 2)?;
/// let b = ds.batch(&[1]);
/// assert_eq!((b.inputs, b.targets), (vec![2, 3], vec![3, 4]));
/// # Ok::<(), gradus_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBatch {
    /// Input token ids, `batch_size * block_size`.
    pub inputs: Vec<u32>,
    /// Next-token ids, `batch_size * block_size`.
    pub targets: Vec<u32>,
    /// Number of windows.
    pub batch_size: usize,
    /// Tokens per window.
    pub block_size: usize,
}

/// A token stream cut into `(input, next-token target)` windows of `block_size`.
///
/// Window `i` starts at token `i * stride`; the default stride is `block_size`
/// (non-overlapping windows), and stride 1 gives every offset.
///
/// ```
/// use gradus_data::text::TextDataset;
/// let ds = TextDataset::new((0..10).collect(), 3)?;
/// assert_eq!(ds.len(), 3); // windows at 0, 3, 6 (each needs block_size + 1 tokens)
/// # Ok::<(), gradus_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextDataset {
    tokens: Vec<u32>,
    block_size: usize,
    stride: usize,
}

impl TextDataset {
    /// Non-overlapping windows; needs `block_size >= 1` and more than
    /// `block_size` tokens.
    ///
    /// ```
    /// use gradus_data::text::TextDataset;
    /// assert!(TextDataset::new(vec![0, 1, 2], 2).is_ok());
    /// assert!(TextDataset::new(vec![0, 1], 2).is_err());
    /// ```
    pub fn new(tokens: Vec<u32>, block_size: usize) -> Result<Self, DataError> {
        if block_size == 0 || tokens.len() <= block_size {
            return Err(DataError::invalid(format!(
                "{} tokens cannot make a window of block_size {block_size} plus one target",
                tokens.len()
            )));
        }
        Ok(TextDataset {
            tokens,
            block_size,
            stride: block_size,
        })
    }

    /// Sets the distance between window starts (at least 1).
    ///
    /// ```
    /// use gradus_data::text::TextDataset;
    /// let ds = TextDataset::new((0..10).collect(), 3)?.with_stride(1)?;
    /// assert_eq!(ds.len(), 7);
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn with_stride(mut self, stride: usize) -> Result<Self, DataError> {
        if stride == 0 {
            return Err(DataError::invalid("stride must be at least 1"));
        }
        self.stride = stride;
        Ok(self)
    }

    /// Number of windows.
    ///
    /// ```
    /// # let ds = gradus_data::text::TextDataset::new(vec![0; 9], 4).unwrap();
    /// assert_eq!(ds.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        (self.tokens.len() - self.block_size - 1) / self.stride + 1
    }

    /// Always false: a `TextDataset` has at least one window.
    ///
    /// ```
    /// # let ds = gradus_data::text::TextDataset::new(vec![0; 9], 4).unwrap();
    /// assert!(!ds.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tokens per window.
    ///
    /// ```
    /// # let ds = gradus_data::text::TextDataset::new(vec![0; 9], 4).unwrap();
    /// assert_eq!(ds.block_size(), 4);
    /// ```
    pub fn block_size(&self) -> usize {
        self.block_size
    }

    /// The whole token stream.
    ///
    /// ```
    /// # let ds = gradus_data::text::TextDataset::new(vec![5; 3], 2).unwrap();
    /// assert_eq!(ds.tokens(), &[5, 5, 5]);
    /// ```
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Window `i` as `(input, target)` slices.
    ///
    /// # Panics
    /// If `i >= len()`.
    ///
    /// ```
    /// # let ds = gradus_data::text::TextDataset::new((0..5).collect(), 2).unwrap();
    /// assert_eq!(ds.window(1), (&[2, 3][..], &[3, 4][..]));
    /// ```
    pub fn window(&self, i: usize) -> (&[u32], &[u32]) {
        assert!(
            i < self.len(),
            "window {i} out of range ({} windows)",
            self.len()
        );
        let start = i * self.stride;
        (
            &self.tokens[start..start + self.block_size],
            &self.tokens[start + 1..start + 1 + self.block_size],
        )
    }

    /// Gathers windows into one [`TokenBatch`].
    ///
    /// # Panics
    /// If an index is `>= len()`.
    ///
    /// ```
    /// # let ds = gradus_data::text::TextDataset::new((0..5).collect(), 2).unwrap();
    /// let b = ds.batch(&[1, 0]);
    /// assert_eq!((b.inputs, b.targets), (vec![2, 3, 0, 1], vec![3, 4, 1, 2]));
    /// ```
    pub fn batch(&self, indices: &[usize]) -> TokenBatch {
        let mut inputs = Vec::with_capacity(indices.len() * self.block_size);
        let mut targets = Vec::with_capacity(indices.len() * self.block_size);
        for &i in indices {
            let (x, y) = self.window(i);
            inputs.extend_from_slice(x);
            targets.extend_from_slice(y);
        }
        TokenBatch {
            inputs,
            targets,
            batch_size: indices.len(),
            block_size: self.block_size,
        }
    }
}
