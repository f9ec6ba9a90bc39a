//! The fused skip-gram negative-sampling gradient: what [`crate::SkipGram::step`] computes with
//! lookups, products, `bce_with_logits` and autodiff, in one pass over the pairs without a graph
//! (gensim's `train_batch_sg` does the same per pair, in Cython).

use crate::{EmbedError, Result};
use gradus_tensor::Element;
use rayon::prelude::*;

/// Pairs per parallel block (fixed, so that results do not depend on the number of threads).
const BLOCK: usize = 64;

/// One batch's loss and the row-sparse gradients of both tables, from [`sgns_grad`].
#[derive(Clone, Debug, PartialEq)]
pub struct SgnsGrad<T> {
    /// `mean_b [ -log σ(u_b · v_ctx) - Σ_k log σ(-u_b · v_neg_k) ]`, summed in f64.
    pub loss: f64,
    /// Distinct input rows (centers) in order of first appearance.
    pub input_rows: Vec<usize>,
    /// `[input_rows.len(), dim]`: the gradient of each, duplicates summed.
    pub input_grad: Vec<T>,
    /// Distinct output rows (contexts and negatives) in order of first appearance (pair by pair,
    /// context first).
    pub output_rows: Vec<usize>,
    /// `[output_rows.len(), dim]`.
    pub output_grad: Vec<T>,
}

/// The loss of skip-gram with negative sampling over `B` pairs and its gradient with respect to
/// both tables, fused: for pair `b` with center row `u = input[centers[b]]` and targets `v_0 =
/// output[contexts[b]]` (label 1), `v_k = output[negatives[b·K + k - 1]]` (label 0),
/// ```text
/// s_k = u · v_k,  loss += softplus(-s_0) + Σ_{k≥1} softplus(s_k)      (then / B)
/// g_k = (σ(s_k) - y_k) / B
/// ∂loss/∂u   += Σ_k g_k v_k,   ∂loss/∂v_k += g_k u
/// ```
/// The products and `∂/∂u` run in parallel over fixed blocks of pairs; each row's sum then
/// adds its terms in pair order, so the result does not depend on the number of threads.
/// `input` and `output` are the tables `[vocab, dim]` row-major in host memory.
///
/// # Errors
/// [`EmbedError::Invalid`] (key `batch`) when the lengths do not fit (`B` centers, `B`
/// contexts, `B · K` negatives, `B ≥ 1`) or an id is outside a table.
///
/// ```
/// use gradus_embed::sgns_grad;
/// let (input, output) = (vec![1.0f64, 0.0, 0.0, 1.0], vec![0.0f64; 4]); // 2 words, dim 2
/// let g = sgns_grad(&input, &output, 2, &[0], &[1], &[0]).unwrap();
/// assert!((g.loss - 2.0 * 2f64.ln()).abs() < 1e-12); // two scores of 0
/// assert_eq!((g.input_rows, g.output_rows), (vec![0], vec![1, 0]));
/// assert_eq!(g.output_grad, vec![-0.5, 0.0, 0.5, 0.0]); // (σ(0) - y) · u
/// ```
pub fn sgns_grad<T: Element>(
    input: &[T],
    output: &[T],
    dim: usize,
    centers: &[usize],
    contexts: &[usize],
    negatives: &[usize],
) -> Result<SgnsGrad<T>> {
    let b = centers.len();
    let k1 = check_pairs(
        (input.len(), output.len()),
        dim,
        centers,
        contexts,
        negatives,
    )? + 1;
    let (n_in, n_out) = (input.len() / dim, output.len() / dim);
    let targets: Vec<usize> = (0..b)
        .flat_map(|i| {
            std::iter::once(contexts[i])
                .chain(negatives[i * (k1 - 1)..(i + 1) * (k1 - 1)].iter().copied())
        })
        .collect();
    // per pair: the coefficients g_k [K+1], ∂/∂u [dim] and the loss
    let mut coef = vec![T::zero(); b * k1];
    let mut du = vec![T::zero(); b * dim];
    let mut losses = vec![0.0f64; b.div_ceil(BLOCK)];
    let scale = T::from_f64(1.0 / b as f64);
    gradus_tensor::threads::warm();
    coef.par_chunks_mut(BLOCK * k1)
        .zip(du.par_chunks_mut(BLOCK * dim))
        .zip(losses.par_iter_mut())
        .enumerate()
        .for_each(|(blk, ((coef, du), loss))| {
            for (j, (g, d)) in coef.chunks_mut(k1).zip(du.chunks_mut(dim)).enumerate() {
                let p = blk * BLOCK + j;
                let u = row(input, centers[p], dim);
                for (k, gk) in g.iter_mut().enumerate() {
                    let v = row(output, targets[p * k1 + k], dim);
                    let (sig, l) = logistic(dot(u, v), k == 0);
                    *loss += l.to_f64();
                    let y = if k == 0 { T::one() } else { T::zero() };
                    *gk = (sig - y) * scale;
                    axpy(*gk, v, d);
                }
            }
        });
    let mut out = SgnsGrad {
        loss: losses.iter().sum::<f64>() / b as f64,
        input_rows: Vec::new(),
        input_grad: Vec::new(),
        output_rows: Vec::new(),
        output_grad: Vec::new(),
    };
    let slots = distinct(centers, n_in, &mut out.input_rows);
    out.input_grad = vec![T::zero(); out.input_rows.len() * dim];
    for (p, &s) in slots.iter().enumerate() {
        add(
            &du[p * dim..(p + 1) * dim],
            &mut out.input_grad[s * dim..(s + 1) * dim],
        );
    }
    let slots = distinct(&targets, n_out, &mut out.output_rows);
    out.output_grad = vec![T::zero(); out.output_rows.len() * dim];
    for (i, &s) in slots.iter().enumerate() {
        let u = row(input, centers[i / k1], dim);
        axpy(coef[i], u, &mut out.output_grad[s * dim..(s + 1) * dim]);
    }
    Ok(out)
}

fn row<T>(table: &[T], r: usize, dim: usize) -> &[T] {
    &table[r * dim..(r + 1) * dim]
}

/// Checks a batch of pairs against tables of `lens` (input, output) values of `dim` columns:
/// one context per center, the same number of negatives per pair, every id a row. Returns the
/// negatives per pair.
pub(crate) fn check_pairs(
    lens: (usize, usize),
    dim: usize,
    centers: &[usize],
    contexts: &[usize],
    negatives: &[usize],
) -> Result<usize> {
    let b = centers.len();
    if contexts.len() != b || b == 0 || dim == 0 || !negatives.len().is_multiple_of(b) {
        return Err(EmbedError::Invalid {
            key: "batch",
            detail: format!(
                "{b} centers, {} contexts and {} negatives do not fit (dim {dim})",
                contexts.len(),
                negatives.len()
            ),
        });
    }
    let (n_in, n_out) = (lens.0 / dim, lens.1 / dim);
    if let Some(&bad) = centers.iter().find(|&&c| c >= n_in) {
        return Err(out_of_range("centers", bad, n_in));
    }
    if let Some(&bad) = contexts.iter().chain(negatives).find(|&&c| c >= n_out) {
        return Err(out_of_range("contexts or negatives", bad, n_out));
    }
    Ok(negatives.len() / b)
}

fn out_of_range(what: &str, id: usize, rows: usize) -> EmbedError {
    EmbedError::Invalid {
        key: "batch",
        detail: format!("{what}: id {id} is outside a table of {rows} rows"),
    }
}

/// The slot of each id among the distinct ids (pushed to `rows` in order of first appearance).
fn distinct(ids: &[usize], n: usize, rows: &mut Vec<usize>) -> Vec<usize> {
    let mut slot = vec![usize::MAX; n];
    ids.iter()
        .map(|&id| {
            if slot[id] == usize::MAX {
                slot[id] = rows.len();
                rows.push(id);
            }
            slot[id]
        })
        .collect()
}

/// `a · b` with 8 partial sums (so that it vectorizes), added in a fixed order.
pub(crate) fn dot<T: Element>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .fold(T::zero(), |s, (&x, &y)| s + x * y);
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] = acc[l] + x[l] * y[l];
        }
    }
    acc.iter().fold(tail, |s, &x| s + x)
}

/// `y += a · x`
pub(crate) fn axpy<T: Element>(a: T, x: &[T], y: &mut [T]) {
    y.iter_mut().zip(x).for_each(|(y, &x)| *y = *y + a * x);
}

fn add<T: Element>(x: &[T], y: &mut [T]) {
    y.iter_mut().zip(x).for_each(|(y, &x)| *y = *y + x);
}

/// `(σ(s), loss)` of a score `s` with label `y` (1 for the context, else 0): `σ(s) - y` is the
/// score's gradient and the loss is `softplus(-s)` for label 1, `softplus(s)` for 0, both from one
/// `exp(-|s|)`, without overflow.
pub(crate) fn logistic<T: Element>(s: T, positive: bool) -> (T, T) {
    let e = (-s.abs()).exp();
    let sig = if s >= T::zero() { T::one() } else { e } / (T::one() + e);
    let z = if positive { -s } else { s };
    (sig, z.max(T::zero()) + e.ln_1p())
}
