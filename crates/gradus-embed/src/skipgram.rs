//! Skip-gram with negative sampling (Mikolov et al. 2013): each word predicts the words around
//! it, scored against `negatives` words drawn from the unigram^0.75 distribution; trained with
//! row-sparse gradients and [`SparseAdam`].

use crate::hogwild::{train_hogwild, Text};
use crate::{
    keep_probability, sgns_grad, sgns_sgd, word2vec_lr, EmbedError, NegativeSampler, Result,
    SparseEmbedding, Vocab, WordVectors,
};
use gradus_nn::loss::{bce_with_logits, Reduction};
use gradus_optim::{SparseAdam, SparseGrad};
use gradus_tensor::{DType, Element, Rng, Tensor};

/// Hyperparameters of [`train_skipgram`]; defaults follow gensim's `Word2Vec(sg=1)` where they
/// apply.
#[derive(Clone, Debug)]
pub struct SkipGramConfig {
    /// Embedding size (gensim: 100).
    pub dim: usize,
    /// Largest distance to a context word; each center draws its window uniformly from
    /// `1..=window`, as word2vec does (gensim: 5).
    pub window: usize,
    /// Negative samples per (center, context) pair (gensim: 5).
    pub negatives: usize,
    /// Words seen fewer times are dropped (gensim: 5).
    pub min_count: u64,
    /// Subsampling threshold `t` of [`keep_probability`]; 0 keeps every word (gensim: 1e-3).
    pub subsample: f64,
    /// Passes over the text.
    pub epochs: usize,
    /// (center, context) pairs per step.
    pub batch: usize,
    /// Learning rate: SparseAdam's, or SGD's at the start (gensim's `alpha`: 0.025).
    pub lr: f64,
    /// How the tables learn.
    pub optimizer: SkipGramOptimizer,
    /// Seed of the init, subsampling, windows and negatives.
    pub seed: u64,
    /// Threads of [`SkipGramOptimizer::Sgd`] (word2vec's `-threads`, gensim's `workers`;
    /// default: all cores, [`std::thread::available_parallelism`]). 1 runs one deterministic
    /// pass over the text; more run Hogwild ([`crate::sgns_sgd_hogwild`]): pieces of 10,000
    /// tokens taken in turn, shared tables updated without locks, the rate falling with the
    /// words of all threads ([`crate::WordClock`]); not bitwise reproducible. SparseAdam
    /// ignores it (its fused step runs on rayon's pool: `RAYON_NUM_THREADS`).
    pub threads: usize,
}

/// The optimizer of [`train_skipgram`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SkipGramOptimizer {
    /// [`SparseAdam`] over each batch's mean loss from the fused gradient
    /// ([`SkipGram::step_fused`], equal to the autodiff graph of [`SkipGram::step`]).
    SparseAdam,
    /// word2vec's plain SGD on each pair's loss in turn ([`crate::sgns_sgd`]), the rate falling
    /// linearly from `lr` to `min_lr` over the training words (gensim's `alpha`, `min_alpha`:
    /// 0.025, 0.0001). On [`SkipGramConfig::threads`] threads: one is deterministic, more run
    /// Hogwild as gensim's workers.
    Sgd {
        /// The rate at the end.
        min_lr: f64,
    },
}

impl Default for SkipGramConfig {
    fn default() -> Self {
        SkipGramConfig {
            dim: 100,
            window: 5,
            negatives: 5,
            min_count: 5,
            subsample: 1e-3,
            epochs: 1,
            batch: 1024,
            lr: 0.01,
            optimizer: SkipGramOptimizer::SparseAdam,
            seed: 0,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// The two tables of skip-gram: `input [vocab, dim]` (the word vectors) and `output
/// [vocab, dim]` (context vectors, "syn1neg"). Init as word2vec: input `U(±0.5 / dim)`,
/// output 0.
#[derive(Clone, Debug)]
pub struct SkipGram {
    /// Center-word vectors.
    pub input: SparseEmbedding,
    /// Context-word vectors.
    pub output: SparseEmbedding,
}

impl SkipGram {
    /// Tables for `vocab` words of size `dim`.
    pub fn new(vocab: usize, dim: usize, rng: &mut Rng) -> SkipGram {
        let h = 0.5 / dim as f64;
        SkipGram {
            input: SparseEmbedding::new(rng.uniform(&[vocab, dim], -h, h, DType::F32)),
            output: SparseEmbedding::new(Tensor::zeros(&[vocab, dim], DType::F32)),
        }
    }

    /// One step's loss for `centers [B]`, `contexts [B]` and `negatives [B · K]`:
    /// `mean_b [ -log σ(u_c · v_o) - Σ_k log σ(-u_c · v_k) ]`, then backward and a
    /// [`SparseAdam`] step over the rows touched. Returns the loss.
    ///
    /// # Errors
    /// On ids outside the vocabulary or mismatched lengths.
    pub fn step(
        &self,
        opt: &mut SparseAdam,
        centers: &[usize],
        contexts: &[usize],
        negatives: &[usize],
    ) -> Result<f64> {
        let b = centers.len();
        if contexts.len() != b || b == 0 || !negatives.len().is_multiple_of(b) {
            return Err(EmbedError::Invalid {
                key: "batch",
                detail: format!(
                    "{b} centers, {} contexts and {} negatives do not fit",
                    contexts.len(),
                    negatives.len()
                ),
            });
        }
        let k = negatives.len() / b;
        let mut out_ids = Vec::with_capacity(b * (k + 1));
        let mut target = Vec::with_capacity(b * (k + 1));
        for i in 0..b {
            out_ids.push(contexts[i]);
            out_ids.extend_from_slice(&negatives[i * k..(i + 1) * k]);
            target.push(1.0f32);
            target.extend(std::iter::repeat_n(0.0f32, k));
        }
        let u = self.input.lookup(centers)?;
        let v = self.output.lookup(&out_ids)?;
        let dim = u.output.shape()[1];
        let scores = v
            .output
            .reshape(&[b, k + 1, dim])?
            .mul(&u.output.unsqueeze(1)?)?
            .sum(&[-1], false)?;
        let loss = bce_with_logits(
            &scores,
            &Tensor::from_vec(target, &[b, k + 1])?.to_dtype(scores.dtype())?,
            Reduction::Sum,
        )?
        .mul_scalar(1.0 / b as f64)?;
        loss.backward()?;
        opt.step(&[u.grad()?, v.grad()?])?;
        Ok(loss.item()?)
    }

    /// [`SkipGram::step`] without a graph: the loss and both gradients from [`sgns_grad`] in
    /// one pass over the pairs, then the same [`SparseAdam`] step over the same rows. Returns
    /// the loss. The training loop's fast path; the tables are read in host memory (CPU).
    ///
    /// # Errors
    /// On ids outside the vocabulary, mismatched lengths, or tables that are neither f32 nor
    /// f64.
    pub fn step_fused(
        &self,
        opt: &mut SparseAdam,
        centers: &[usize],
        contexts: &[usize],
        negatives: &[usize],
    ) -> Result<f64> {
        let (input, output) = (self.input.weight.tensor(), self.output.weight.tensor());
        match input.dtype() {
            DType::F32 => self.apply::<f32>(opt, &input, &output, centers, contexts, negatives),
            DType::F64 => self.apply::<f64>(opt, &input, &output, centers, contexts, negatives),
            other => Err(EmbedError::Invalid {
                key: "dtype",
                detail: format!("of the tables is {other:?}; the fused step takes f32 or f64"),
            }),
        }
    }

    /// word2vec's SGD step over the pairs in turn ([`crate::sgns_sgd`]) with learning rate
    /// `lr`, in place on the tables (host memory). Returns the sum of the pairs' losses.
    ///
    /// # Errors
    /// As [`SkipGram::step_fused`].
    pub fn step_sgd(
        &self,
        lr: f64,
        centers: &[usize],
        contexts: &[usize],
        negatives: &[usize],
    ) -> Result<f64> {
        let (input, output) = (self.input.weight.tensor(), self.output.weight.tensor());
        let dim = input.shape()[1];
        macro_rules! run {
            ($t:ty) => {
                input.update_data(|i: &mut [$t]| {
                    output.update_data(|o: &mut [$t]| {
                        sgns_sgd(i, o, dim, centers, contexts, negatives, lr)
                    })
                })???
            };
        }
        Ok(match input.dtype() {
            DType::F32 => run!(f32),
            DType::F64 => run!(f64),
            other => {
                return Err(EmbedError::Invalid {
                    key: "dtype",
                    detail: format!("of the tables is {other:?}; SGD takes f32 or f64"),
                })
            }
        })
    }

    fn apply<T: Element>(
        &self,
        opt: &mut SparseAdam,
        input: &Tensor,
        output: &Tensor,
        centers: &[usize],
        contexts: &[usize],
        negatives: &[usize],
    ) -> Result<f64> {
        let dim = input.shape()[1];
        let g = input.with_data(|i: &[T]| {
            output.with_data(|o: &[T]| sgns_grad(i, o, dim, centers, contexts, negatives))
        })???;
        let (ni, no) = (g.input_rows.len(), g.output_rows.len());
        opt.step(&[
            Some(SparseGrad::new(
                g.input_rows,
                Tensor::from_vec(g.input_grad, &[ni, dim])?,
            )?),
            Some(SparseGrad::new(
                g.output_rows,
                Tensor::from_vec(g.output_grad, &[no, dim])?,
            )?),
        ])?;
        Ok(g.loss)
    }
}

/// What [`train_skipgram`] returns.
#[derive(Debug)]
pub struct SkipGramReport {
    /// The input vectors with their vocabulary.
    pub vectors: WordVectors,
    /// Mean loss of each step.
    pub losses: Vec<f64>,
    /// Tokens of the text that were in the vocabulary, over all epochs (the "words" of
    /// words-per-second, as gensim counts them).
    pub words: u64,
    /// (center, context) pairs trained on.
    pub pairs: u64,
}

/// Trains skip-gram with negative sampling on `tokens` (e.g. [`crate::tokenize`]'s output).
///
/// # Errors
/// [`EmbedError::Invalid`] for a zero `dim`, `window`, `batch`, `epochs` or `threads`, or a
/// vocabulary that `min_count` leaves empty.
///
/// ```
/// use gradus_embed::{train_skipgram, SkipGramConfig};
/// let text: Vec<String> = "a b c a b c a b d".split(' ').map(String::from).collect();
/// let cfg = SkipGramConfig { dim: 4, min_count: 1, subsample: 0.0, batch: 4, ..Default::default() };
/// let r = train_skipgram(&text, &cfg).unwrap();
/// assert_eq!(r.vectors.vocab().len(), 4);
/// ```
pub fn train_skipgram<S: AsRef<str>>(tokens: &[S], cfg: &SkipGramConfig) -> Result<SkipGramReport> {
    for (key, v) in [
        ("dim", cfg.dim),
        ("window", cfg.window),
        ("batch", cfg.batch),
        ("epochs", cfg.epochs),
        ("threads", cfg.threads),
    ] {
        if v == 0 {
            return Err(EmbedError::Invalid {
                key,
                detail: "must be at least 1".into(),
            });
        }
    }
    if let SkipGramOptimizer::Sgd { min_lr } = cfg.optimizer {
        if !(cfg.lr > 0.0 && (0.0..=cfg.lr).contains(&min_lr)) {
            return Err(EmbedError::Invalid {
                key: "lr",
                detail: format!(
                    "{} and min_lr {min_lr} need 0 <= min_lr <= lr, lr > 0",
                    cfg.lr
                ),
            });
        }
    }
    let vocab = Vocab::build(tokens, cfg.min_count)?;
    let ids = vocab.encode(tokens);
    let total: u64 = vocab.counts().iter().sum();
    let keep: Vec<f64> = vocab
        .counts()
        .iter()
        .map(|&c| keep_probability(c, total, cfg.subsample))
        .collect();
    let sampler = NegativeSampler::new(vocab.counts(), 0.75);
    let mut rng = Rng::seed(cfg.seed);
    let model = SkipGram::new(vocab.len(), cfg.dim, &mut rng);
    if let SkipGramOptimizer::Sgd { min_lr } = cfg.optimizer {
        if cfg.threads > 1 {
            let text = Text {
                ids: &ids,
                keep: &keep,
                sampler: &sampler,
            };
            let report = train_hogwild(&model, &text, cfg, min_lr)?;
            return finish(&model, vocab, cfg, report);
        }
    }
    let mut opt = SparseAdam::new(
        &[model.input.weight.clone(), model.output.weight.clone()],
        cfg.lr,
    )?;
    let planned = (ids.len() * cfg.epochs).max(1);
    let (mut centers, mut contexts) = (Vec::new(), Vec::new());
    let mut report = Progress::default();
    let mut flush = |centers: &mut Vec<usize>,
                     contexts: &mut Vec<usize>,
                     rng: &mut Rng,
                     report: &mut Progress|
     -> Result<()> {
        if centers.is_empty() {
            return Ok(());
        }
        let negatives: Vec<usize> = (0..centers.len() * cfg.negatives)
            .map(|_| sampler.sample(rng))
            .collect();
        let loss = match cfg.optimizer {
            SkipGramOptimizer::SparseAdam => {
                model.step_fused(&mut opt, centers, contexts, &negatives)?
            }
            SkipGramOptimizer::Sgd { min_lr } => {
                let lr = word2vec_lr(cfg.lr, min_lr, report.words, planned as u64);
                model.step_sgd(lr, centers, contexts, &negatives)? / centers.len() as f64
            }
        };
        report.losses.push(loss);
        report.pairs += centers.len() as u64;
        centers.clear();
        contexts.clear();
        Ok(())
    };
    for _ in 0..cfg.epochs {
        let kept: Vec<usize> = ids
            .iter()
            .copied()
            .filter(|&w| rng.uniform_f64() < keep[w])
            .collect();
        let epoch_start = report.words;
        for (i, &center) in kept.iter().enumerate() {
            // the words of the epoch passed so far (kept ones scaled up), for SGD's rate
            report.words = epoch_start + (i * ids.len() / kept.len().max(1)) as u64;
            let reach = 1 + rng.below(cfg.window);
            let lo = i.saturating_sub(reach);
            let hi = (i + reach).min(kept.len() - 1);
            for (j, &ctx) in kept.iter().enumerate().take(hi + 1).skip(lo) {
                if j != i {
                    centers.push(center);
                    contexts.push(ctx);
                }
            }
            if centers.len() >= cfg.batch {
                flush(&mut centers, &mut contexts, &mut rng, &mut report)?;
            }
        }
        flush(&mut centers, &mut contexts, &mut rng, &mut report)?;
        report.words = epoch_start + ids.len() as u64;
    }
    finish(&model, vocab, cfg, report)
}

fn finish(
    model: &SkipGram,
    vocab: Vocab,
    cfg: &SkipGramConfig,
    report: Progress,
) -> Result<SkipGramReport> {
    let vectors = model.input.weight.tensor().to_vec::<f32>()?;
    Ok(SkipGramReport {
        vectors: WordVectors::new(vocab, vectors, cfg.dim)?,
        losses: report.losses,
        words: report.words,
        pairs: report.pairs,
    })
}

/// Losses per step, words passed and pairs trained, as training goes.
#[derive(Default)]
pub(crate) struct Progress {
    pub losses: Vec<f64>,
    pub words: u64,
    pub pairs: u64,
}
