//! # gradus-embed
//!
//! Word embeddings with sparse updates: skip-gram with negative sampling (Mikolov et al. 2013,
//! word2vec), the way PyTorch users write it, `nn.Embedding(sparse=True)` plus
//! `torch.optim.SparseAdam`.
//!
//! - [`SparseEmbedding`]: lookups whose gradient covers only the rows looked up
//!   ([`gradus_optim::SparseGrad`]); [`gradus_optim::SparseAdam`] updates only those rows.
//! - [`tokenize`], [`Vocab`] (`min_count`), [`NegativeSampler`] (unigram^0.75) and
//!   [`keep_probability`] (subsampling of frequent words).
//! - [`sgns_grad`]: the loss and both tables' gradients in one pass without a graph (the
//!   training loop's fast path, tested equal to the composed one); [`sgns_sgd`]: word2vec's own
//!   per-pair SGD in place (sparse SGD), as gensim trains; [`sgns_sgd_hogwild`]: the same on
//!   [`SharedTable`]s that several threads update without locks (Hogwild, as word2vec's
//!   `-threads` and gensim's `workers`), the rate ([`word2vec_lr`]) falling with the words of all
//!   of them ([`WordClock`]).
//! - [`SkipGram`], [`train_skipgram`] and [`WordVectors`] (cosine neighbours, analogies).
//!
//! ```
//! use gradus_embed::{tokenize, train_skipgram, SkipGramConfig};
//! let text = tokenize(&"the cat sat on the mat. the dog sat on the log. ".repeat(20));
//! let cfg = SkipGramConfig { dim: 8, min_count: 1, batch: 64, ..Default::default() };
//! let r = train_skipgram(&text, &cfg).unwrap();
//! assert!(r.vectors.nearest("cat", 3).unwrap().len() == 3);
//! ```
#![warn(missing_docs)]

mod error;
mod hogwild;
mod sampling;
mod sgd_rate;
mod sgns;
mod sgns_sgd;
mod shared_table;
mod skipgram;
mod sparse_embedding;
mod vocab;
mod word_vectors;

pub use error::{EmbedError, Result};
pub use hogwild::sgns_sgd_hogwild;
pub use sampling::{keep_probability, NegativeSampler};
pub use sgd_rate::{word2vec_lr, WordClock};
pub use sgns::{sgns_grad, SgnsGrad};
pub use sgns_sgd::sgns_sgd;
pub use shared_table::{AtomicFloat, SharedTable};
pub use skipgram::{train_skipgram, SkipGram, SkipGramConfig, SkipGramOptimizer, SkipGramReport};
pub use sparse_embedding::{Lookup, SparseEmbedding};
pub use vocab::{tokenize, Vocab};
pub use word_vectors::WordVectors;
