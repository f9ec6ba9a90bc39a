//! Skip-gram negative sampling trained the way word2vec and gensim train it: plain SGD, one
//! pair after another, updating the rows in place as it goes (gensim's `train_batch_sg` and
//! `fast_sentence_sg_neg`; the C tool's inner loop).

use crate::sgns::{axpy, check_pairs, dot, logistic};
use crate::Result;
use gradus_tensor::Element;

/// SGD with learning rate `lr` over the pairs `(centers[b], contexts[b])` in order, in place on
/// the tables `input`/`output` `[vocab, dim]` (row-major, host memory). For each pair, with
/// `u = input[c]`, targets `v_0 = output[ctx]` (label 1) and `v_k = output[negatives[b·K + k -
/// 1]]` (label 0):
/// ```text
/// s_k = u · v_k,   g_k = σ(s_k) - y_k
/// v_k <- v_k - lr · g_k · u                 (each target in turn)
/// u   <- u   - lr · Σ_k g_k · v_k           (after the targets, with the v_k read before their update)
/// ```
/// which is one SGD step on the pair's loss `softplus(-s_0) + Σ_{k≥1} softplus(s_k)` when its
/// targets are distinct (a repeated target sees its first update, as in word2vec). Only the
/// rows looked up change (sparse SGD). Returns the sum of the pairs' losses before their step.
///
/// # Errors
/// [`crate::EmbedError::Invalid`] (key `batch`) when the lengths do not fit or an id is outside a
/// table.
///
/// ```
/// use gradus_embed::sgns_sgd;
/// let (mut input, mut output) = (vec![1.0f64, 0.0, 0.0, 1.0], vec![0.0f64; 4]);
/// let loss = sgns_sgd(&mut input, &mut output, 2, &[0], &[1], &[0], 0.1).unwrap();
/// assert!((loss - 2.0 * 2f64.ln()).abs() < 1e-12);
/// // u = [1, 0]; both scores 0: the context row 1 moves to u / 20, the negative row 0 away
/// assert_eq!(output, vec![-0.05, 0.0, 0.05, 0.0]);
/// assert_eq!(input, vec![1.0, 0.0, 0.0, 1.0]); // the targets were 0: u did not move
/// ```
pub fn sgns_sgd<T: Element>(
    input: &mut [T],
    output: &mut [T],
    dim: usize,
    centers: &[usize],
    contexts: &[usize],
    negatives: &[usize],
    lr: f64,
) -> Result<f64> {
    let b = centers.len();
    let k = check_pairs(
        (input.len(), output.len()),
        dim,
        centers,
        contexts,
        negatives,
    )?;
    let lr = T::from_f64(lr);
    let mut neu1e = vec![T::zero(); dim];
    let mut loss = 0.0;
    for p in 0..b {
        let c = centers[p];
        let u = &input[c * dim..(c + 1) * dim];
        neu1e.iter_mut().for_each(|x| *x = T::zero());
        let targets =
            std::iter::once(contexts[p]).chain(negatives[p * k..(p + 1) * k].iter().copied());
        for (j, t) in targets.enumerate() {
            let v = &mut output[t * dim..(t + 1) * dim];
            let (sig, l) = logistic(dot(u, v), j == 0);
            loss += l.to_f64();
            let y = if j == 0 { T::one() } else { T::zero() };
            let g = (sig - y) * lr;
            axpy(g, v, &mut neu1e);
            axpy(-g, u, v);
        }
        let u = &mut input[c * dim..(c + 1) * dim];
        u.iter_mut().zip(&neu1e).for_each(|(u, &e)| *u = *u - e);
    }
    Ok(loss)
}
