//! Hogwild SGD for skip-gram (Recht et al. 2011, "Hogwild!"; what word2vec's C tool and
//! gensim's `workers` do): threads take pieces of the text in turn and update the shared input
//! and output tables without locks, the rate falling with the words all of them have passed.
//!
//! Sound in Rust: the tables are [`SharedTable`]s (atomic cells, `Relaxed` loads and stores), so
//! threads race on values, never into undefined behaviour. With more than one thread, which
//! update of a row lands first depends on timing: results are not bitwise reproducible (each
//! piece's subsampling, windows and negatives still come from its own seeded generator).

use crate::sgns::{axpy, check_pairs, dot, logistic};
use crate::skipgram::Progress;
use crate::{
    AtomicFloat, EmbedError, NegativeSampler, Result, SharedTable, SkipGram, SkipGramConfig,
    WordClock,
};
use gradus_tensor::Rng;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Tokens per piece of text a thread takes at a time (gensim's 10,000-word jobs); windows do not
/// cross pieces, as they do not cross gensim's sentences.
pub(crate) const PIECE: usize = 10_000;

/// [`crate::sgns_sgd`] on tables shared with other threads: the same per-pair SGD, each row copied
/// out of its table, updated and written back. On one thread, the same bits as `sgns_sgd`.
/// Returns the sum of the pairs' losses before their step.
///
/// # Errors
/// [`EmbedError::Invalid`] (key `batch`) when the lengths do not fit, an id is outside a table
/// or the tables' rows differ in length.
///
/// ```
/// use gradus_embed::{sgns_sgd_hogwild, SharedTable};
/// let (input, output) = (SharedTable::new(&[1.0f64, 0.0, 0.0, 1.0], 2), SharedTable::new(&[0.0f64; 4], 2));
/// let loss = sgns_sgd_hogwild(&input, &output, &[0], &[1], &[0], 0.1).unwrap();
/// assert!((loss - 2.0 * 2f64.ln()).abs() < 1e-12);
/// assert_eq!(output.to_vec(), vec![-0.05, 0.0, 0.05, 0.0]);
/// ```
pub fn sgns_sgd_hogwild<T: AtomicFloat>(
    input: &SharedTable<T>,
    output: &SharedTable<T>,
    centers: &[usize],
    contexts: &[usize],
    negatives: &[usize],
    lr: f64,
) -> Result<f64> {
    let dim = input.dim();
    if output.dim() != dim {
        return Err(EmbedError::Invalid {
            key: "batch",
            detail: format!(
                "tables of rows {dim} (input) and {} (output) differ",
                output.dim()
            ),
        });
    }
    let k = check_pairs(
        (input.len(), output.len()),
        dim,
        centers,
        contexts,
        negatives,
    )?;
    let lr = T::from_f64(lr);
    let (mut u, mut v, mut neu1e) = (
        vec![T::zero(); dim],
        vec![T::zero(); dim],
        vec![T::zero(); dim],
    );
    let mut loss = 0.0;
    for p in 0..centers.len() {
        let c = centers[p];
        input.load_row(c, &mut u);
        neu1e.iter_mut().for_each(|x| *x = T::zero());
        let targets =
            std::iter::once(contexts[p]).chain(negatives[p * k..(p + 1) * k].iter().copied());
        for (j, t) in targets.enumerate() {
            output.load_row(t, &mut v);
            let (sig, l) = logistic(dot(&u, &v), j == 0);
            loss += l.to_f64();
            let y = if j == 0 { T::one() } else { T::zero() };
            let g = (sig - y) * lr;
            axpy(g, &v, &mut neu1e);
            axpy(-g, &u, &mut v);
            output.store_row(t, &v);
        }
        // read again: another thread may have moved the center's row meanwhile
        input.load_row(c, &mut u);
        u.iter_mut().zip(&neu1e).for_each(|(u, &e)| *u = *u - e);
        input.store_row(c, &u);
    }
    Ok(loss)
}

/// What the pieces of text share: the token ids, keep probabilities and the negatives.
pub(crate) struct Text<'a> {
    pub ids: &'a [usize],
    pub keep: &'a [f64],
    pub sampler: &'a NegativeSampler,
}

/// Trains `model` with word2vec's SGD on `cfg.threads` threads (Hogwild), `cfg.epochs` passes of
/// pieces of [`PIECE`] tokens, the rate from `cfg.lr` to `min_lr` over the shared word count.
pub(crate) fn train_hogwild(
    model: &SkipGram,
    text: &Text,
    cfg: &SkipGramConfig,
    min_lr: f64,
) -> Result<Progress> {
    let (dim, n) = (cfg.dim, text.ids.len());
    let input = SharedTable::new(&model.input.weight.tensor().to_vec::<f32>()?, dim);
    let output = SharedTable::new(&model.output.weight.tensor().to_vec::<f32>()?, dim);
    let per_epoch = n.div_ceil(PIECE).max(1);
    let pieces = per_epoch * cfg.epochs;
    let clock = WordClock::new(cfg.lr, min_lr, (n * cfg.epochs).max(1) as u64);
    let next = AtomicUsize::new(0);
    let work = || -> Result<Vec<(usize, Progress)>> {
        let mut done = Vec::new();
        loop {
            let j = next.fetch_add(1, Relaxed);
            if j >= pieces {
                return Ok(done);
            }
            let part = j % per_epoch;
            let range = (part * PIECE, ((part + 1) * PIECE).min(n));
            let shared = (&input, &output, &clock);
            let seed = cfg.seed ^ (j as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            done.push((j, piece(shared, text, cfg, range, seed)?));
        }
    };
    let results: Vec<Result<Vec<(usize, Progress)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..cfg.threads).map(|_| s.spawn(work)).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut parts = Vec::with_capacity(pieces);
    for r in results {
        parts.extend(r?);
    }
    parts.sort_by_key(|&(j, _)| j);
    let mut report = Progress::default();
    for (_, p) in parts {
        report.losses.extend(p.losses);
        report.pairs += p.pairs;
    }
    report.words = (n * cfg.epochs) as u64;
    model
        .input
        .weight
        .tensor()
        .update_data(|d: &mut [f32]| d.copy_from_slice(&input.to_vec()))?;
    model
        .output
        .weight
        .tensor()
        .update_data(|d: &mut [f32]| d.copy_from_slice(&output.to_vec()))?;
    Ok(report)
}

/// One piece: tokens `range` of the text (its pass is the clock's business).
fn piece(
    (input, output, clock): (&SharedTable<f32>, &SharedTable<f32>, &WordClock),
    text: &Text,
    cfg: &SkipGramConfig,
    range: (usize, usize),
    seed: u64,
) -> Result<Progress> {
    let mut rng = Rng::seed(seed);
    let kept: Vec<(usize, usize)> = (range.0..range.1)
        .filter(|&p| rng.uniform_f64() < text.keep[text.ids[p]])
        .map(|p| (p, text.ids[p]))
        .collect();
    let mut out = Progress::default();
    let (mut centers, mut contexts) = (Vec::new(), Vec::new());
    let mut counted = range.0;
    let mut flush =
        |centers: &mut Vec<usize>, contexts: &mut Vec<usize>, at: usize, rng: &mut Rng| {
            // the words passed since the last flush join the shared count; the rate follows it
            let done = clock.advance((at - counted) as u64);
            counted = at;
            if centers.is_empty() {
                return Ok(());
            }
            let negatives: Vec<usize> = (0..centers.len() * cfg.negatives)
                .map(|_| text.sampler.sample(rng))
                .collect();
            let lr = clock.lr_at(done);
            let loss = sgns_sgd_hogwild(input, output, centers, contexts, &negatives, lr)?;
            out.losses.push(loss / centers.len() as f64);
            out.pairs += centers.len() as u64;
            centers.clear();
            contexts.clear();
            Ok::<(), EmbedError>(())
        };
    for (i, &(pos, center)) in kept.iter().enumerate() {
        let reach = 1 + rng.below(cfg.window);
        let lo = i.saturating_sub(reach);
        let hi = (i + reach).min(kept.len() - 1);
        for (j, &(_, ctx)) in kept.iter().enumerate().take(hi + 1).skip(lo) {
            if j != i {
                centers.push(center);
                contexts.push(ctx);
            }
        }
        if centers.len() >= cfg.batch {
            flush(&mut centers, &mut contexts, pos, &mut rng)?;
        }
    }
    flush(&mut centers, &mut contexts, range.1, &mut rng)?;
    Ok(out)
}
