//! Multi-head scaled dot-product self-attention on the packed projections `qkv [batch, seq, 3E]`
//! (query, key and value side by side, as `MultiheadAttention`'s `in_proj` writes them), one head
//! at a time and never materializing the `[seq, seq]` score matrix of more than one row: forward
//! `o_i = sum_j softmax_j(s_ij) v_j` with `s_ij = q_i·k_j / sqrt(D)` (`j <= i` when causal), and the
//! backward of FlashAttention (Dao et al. 2022, Algorithm 4) from the saved log-sum-exp per row.

use super::{Level, SimdKernel, VecMath};
use crate::backend::cpu::kernels::fast_math::{axpy, dot, max, sum};
use crate::ops::nn::AttentionDims;
use rayon::prelude::*;

/// Heads times `seq^2 D` below which the heads run on one thread.
const PARALLEL_WORK: usize = 1 << 16;

/// One head's `[seq, D]` block of part `which` (0 query, 1 key, 2 value) of the packed `qkv`.
fn gather<T: Copy>(qkv: &[T], d: &AttentionDims, bh: usize, which: usize) -> Vec<T> {
    let (b, h, e) = (bh / d.heads, bh % d.heads, d.heads * d.head_dim);
    let mut out = Vec::with_capacity(d.seq * d.head_dim);
    for t in 0..d.seq {
        let at = (b * d.seq + t) * 3 * e + which * e + h * d.head_dim;
        out.extend_from_slice(&qkv[at..at + d.head_dim]);
    }
    out
}

/// `[rows, cols]` to `[cols, rows]`.
fn transpose<T: Copy + Default>(x: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut t = vec![T::default(); x.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = x[r * cols + c];
        }
    }
    t
}

/// Runs `f` on every head `b * heads + h`, in parallel when the work is big; results in head order.
fn per_head<R: Send>(d: &AttentionDims, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
    let n = d.batch * d.heads;
    if n * d.seq * d.seq * d.head_dim >= PARALLEL_WORK {
        (0..n).into_par_iter().map(f).collect()
    } else {
        (0..n).map(f).collect()
    }
}

/// Writes one head's `[seq, D]` block into part `which` of a packed `[batch, seq, parts E]` buffer.
fn scatter<T: Copy>(
    dst: &mut [T],
    block: &[T],
    d: &AttentionDims,
    bh: usize,
    which: usize,
    parts: usize,
) {
    let (b, h, e, hd) = (bh / d.heads, bh % d.heads, d.heads * d.head_dim, d.head_dim);
    for t in 0..d.seq {
        let at = (b * d.seq + t) * parts * e + which * e + h * hd;
        dst[at..at + hd].copy_from_slice(&block[t * hd..(t + 1) * hd]);
    }
}

/// Input `qkv`; outputs the heads' outputs merged, `[batch, seq, E]`, and the log-sum-exp of every
/// score row, `[batch, heads, seq]`.
pub(super) fn forward<T: VecMath>(qkv: &[T], d: AttentionDims, level: Level) -> Vec<Vec<T>> {
    let (seq, hd) = (d.seq, d.head_dim);
    let heads = per_head(&d, |bh| {
        let (q, k, v) = (
            gather(qkv, &d, bh, 0),
            gather(qkv, &d, bh, 1),
            gather(qkv, &d, bh, 2),
        );
        let kt = transpose(&k, seq, hd);
        let (mut out, mut lse) = (vec![T::zero(); seq * hd], vec![T::zero(); seq]);
        level.run(HeadForward {
            q: &q,
            kt: &kt,
            v: &v,
            out: &mut out,
            lse: &mut lse,
            d,
        });
        (out, lse)
    });
    let mut out = vec![T::zero(); d.batch * seq * d.heads * hd];
    let mut lse = Vec::with_capacity(d.batch * d.heads * seq);
    for (bh, (o, l)) in heads.iter().enumerate() {
        scatter(&mut out, o, &d, bh, 0, 1);
        lse.extend_from_slice(l);
    }
    vec![out, lse]
}

/// Inputs `qkv`, the forward's `out` and `lse`, and `g`, the gradient of `out`; output the
/// gradient of `qkv`.
pub(super) fn backward<T: VecMath>(x: &[&[T]], d: AttentionDims, level: Level) -> Vec<T> {
    let (qkv, out, lse, g) = (x[0], x[1], x[2], x[3]);
    let (seq, hd) = (d.seq, d.head_dim);
    let merged = |src: &[T], bh: usize| {
        let (b, h, e) = (bh / d.heads, bh % d.heads, d.heads * hd);
        let mut block = Vec::with_capacity(seq * hd);
        for t in 0..seq {
            let at = (b * seq + t) * e + h * hd;
            block.extend_from_slice(&src[at..at + hd]);
        }
        block
    };
    let heads = per_head(&d, |bh| {
        let (q, k, v) = (
            gather(qkv, &d, bh, 0),
            gather(qkv, &d, bh, 1),
            gather(qkv, &d, bh, 2),
        );
        let (kt, vt) = (transpose(&k, seq, hd), transpose(&v, seq, hd));
        let (o, go) = (merged(out, bh), merged(g, bh));
        let mut grads = [0, 1, 2].map(|_| vec![T::zero(); seq * hd]);
        let [dq, dk, dv] = &mut grads;
        level.run(HeadBackward {
            q: &q,
            k: &k,
            kt: &kt,
            vt: &vt,
            out: &o,
            g: &go,
            lse: &lse[bh * seq..(bh + 1) * seq],
            dq,
            dk,
            dv,
            d,
        });
        grads
    });
    let mut dqkv = vec![T::zero(); qkv.len()];
    for (bh, grads) in heads.iter().enumerate() {
        for (which, block) in grads.iter().enumerate() {
            scatter(&mut dqkv, block, &d, bh, which, 3);
        }
    }
    dqkv
}

/// The scores of query row `i` against keys `0..len`: `s_j = scale sum_d q_id kt_dj`, summed over
/// `d` in order (a vector loop over `j`, no horizontal sums).
#[inline(always)]
fn scores<T: VecMath>(s: &mut [T], q_i: &[T], kt: &[T], seq: usize, scale: T) {
    s.fill(T::zero());
    let len = s.len();
    for (dd, &qd) in q_i.iter().enumerate() {
        axpy(s, qd, &kt[dd * seq..dd * seq + len]);
    }
    s.iter_mut().for_each(|s| *s = *s * scale);
}

#[inline(always)]
fn keys(d: &AttentionDims, i: usize) -> usize {
    if d.causal {
        i + 1
    } else {
        d.seq
    }
}

struct HeadForward<'a, T> {
    q: &'a [T],
    kt: &'a [T],
    v: &'a [T],
    out: &'a mut [T],
    lse: &'a mut [T],
    d: AttentionDims,
}

impl<T: VecMath> SimdKernel for HeadForward<'_, T> {
    #[inline(always)]
    fn run(self) {
        let (seq, hd) = (self.d.seq, self.d.head_dim);
        let scale = T::from_f64(self.d.scale());
        let mut s = vec![T::zero(); seq];
        for i in 0..seq {
            let s = &mut s[..keys(&self.d, i)];
            scores(s, &self.q[i * hd..(i + 1) * hd], self.kt, seq, scale);
            let m = max(s);
            s.iter_mut().for_each(|s| *s = (*s - m).exp_v());
            let l = sum(s);
            let o = &mut self.out[i * hd..(i + 1) * hd];
            for (j, &p) in s.iter().enumerate() {
                axpy(o, p, &self.v[j * hd..(j + 1) * hd]);
            }
            let inv = T::one() / l;
            o.iter_mut().for_each(|o| *o = *o * inv);
            self.lse[i] = m + l.ln();
        }
    }
}

struct HeadBackward<'a, T> {
    q: &'a [T],
    k: &'a [T],
    kt: &'a [T],
    vt: &'a [T],
    out: &'a [T],
    g: &'a [T],
    lse: &'a [T],
    dq: &'a mut [T],
    dk: &'a mut [T],
    dv: &'a mut [T],
    d: AttentionDims,
}

impl<T: VecMath> SimdKernel for HeadBackward<'_, T> {
    #[inline(always)]
    fn run(self) {
        let (seq, hd) = (self.d.seq, self.d.head_dim);
        let scale = T::from_f64(self.d.scale());
        let (mut p, mut dp) = (vec![T::zero(); seq], vec![T::zero(); seq]);
        for i in 0..seq {
            let len = keys(&self.d, i);
            let (p, dp) = (&mut p[..len], &mut dp[..len]);
            let row = i * hd..(i + 1) * hd;
            let (q_i, g_i) = (&self.q[row.clone()], &self.g[row.clone()]);
            // p_ij = e^(s_ij - lse_i): the forward's softmax, recomputed
            scores(p, q_i, self.kt, seq, scale);
            let lse = self.lse[i];
            p.iter_mut().for_each(|p| *p = (*p - lse).exp_v());
            // dp_ij = g_i·v_j; ds_ij = p_ij (dp_ij - g_i·o_i), times the scale of s
            let di = dot(g_i, &self.out[row.clone()]);
            dp.fill(T::zero());
            for (dd, &gd) in g_i.iter().enumerate() {
                axpy(dp, gd, &self.vt[dd * seq..dd * seq + len]);
            }
            for (dp, &p) in dp.iter_mut().zip(p.iter()) {
                *dp = p * (*dp - di) * scale;
            }
            let dq_i = &mut self.dq[row];
            for (j, (&ds, &p)) in dp.iter().zip(p.iter()).enumerate() {
                let key = j * hd..(j + 1) * hd;
                axpy(dq_i, ds, &self.k[key.clone()]);
                axpy(&mut self.dk[key.clone()], ds, q_i);
                axpy(&mut self.dv[key], p, g_i);
            }
        }
    }
}
