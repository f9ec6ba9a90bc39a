//! Multi-head scaled dot-product self-attention on the packed projections `qkv [batch, seq, 3E]`
//! (query, key and value side by side, as `MultiheadAttention`'s `in_proj` writes them), one head
//! at a time: forward `o_i = sum_j softmax_j(s_ij) v_j` with `s_ij = q_i·k_j / sqrt(D)` (`j <= i`
//! when causal), and the backward of FlashAttention (Dao et al. 2022, Algorithm 4) from the saved
//! log-sum-exp per row. The products of a head (`q k^T`, `p v`, and backward `g v^T`, `p^T g`,
//! `ds k`, `ds^T q`) are `faer` GEMMs on strided views of the packed buffers, so no head is
//! gathered or transposed in memory; only the head's `[seq, seq]` scores are its own, and each
//! head writes its output (and its query, key and value gradients) straight into its view of the
//! result, in parallel with the other heads.

use super::{FmaKernel, Level, VecMath};
use crate::backend::cpu::kernels::fast_math::{dot, max, sum};
use crate::backend::cpu::kernels::filled;
use crate::backend::cpu::kernels::gemm::{gemm_new, gemm_to_ptr, MatView};
use crate::ops::nn::AttentionDims;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Heads times `seq^2 D` below which the heads run on one thread.
const PARALLEL_WORK: usize = 1 << 16;

/// Where one head's blocks sit in the packed buffers.
struct HeadViews {
    /// Part `which` (0 query, 1 key, 2 value) of `qkv`, `[seq, D]`.
    parts: [MatView; 3],
    /// The head's `[seq, D]` block of a merged `[batch, seq, E]` buffer (the output, its gradient).
    merged: MatView,
}

impl HeadViews {
    fn new(d: &AttentionDims, bh: usize) -> HeadViews {
        let (b, h, e) = (bh / d.heads, bh % d.heads, d.heads * d.head_dim);
        let part = |which: usize| MatView {
            offset: b * d.seq * 3 * e + which * e + h * d.head_dim,
            rs: 3 * e,
            cs: 1,
        };
        HeadViews {
            parts: [part(0), part(1), part(2)],
            merged: MatView {
                offset: b * d.seq * e + h * d.head_dim,
                rs: e,
                cs: 1,
            },
        }
    }
}

/// The transpose of a view.
fn t(v: MatView) -> MatView {
    MatView {
        offset: v.offset,
        rs: v.cs,
        cs: v.rs,
    }
}

/// A row-major `[_, cols]` buffer of its own.
fn rows(cols: usize) -> MatView {
    MatView {
        offset: 0,
        rs: cols,
        cs: 1,
    }
}

/// Runs `f` on every head `b * heads + h`, in parallel when the work is big; results in head order.
fn per_head<R: Send>(d: &AttentionDims, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
    let n = d.batch * d.heads;
    if n * d.seq * d.seq * d.head_dim >= PARALLEL_WORK {
        crate::threads::warm();
        (0..n).into_par_iter().map(f).collect()
    } else {
        (0..n).map(f).collect()
    }
}

/// A buffer the heads write disjoint views of, shared across threads.
#[derive(Clone, Copy)]
struct Shared<T>(*mut MaybeUninit<T>);

// SAFETY: each head writes only its own view of the buffer (see `forward` and `backward`), and
// the buffer outlives the parallel loop.
unsafe impl<T> Send for Shared<T> {}
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    /// The pointer (a method, so that closures capture the `Sync` wrapper, not its field).
    fn ptr(self) -> *mut MaybeUninit<T> {
        self.0
    }
}

/// The raw scores `q k^T` of one head, `[seq, seq]` row-major (unscaled, unmasked).
fn raw_scores<T: VecMath>(qkv: &[T], v: &HeadViews, d: &AttentionDims) -> Vec<T> {
    let [q, k, _] = v.parts;
    gemm_new((d.seq, d.seq, d.head_dim), (qkv, q), (qkv, t(k)))
}

/// Input `qkv`; outputs the heads' outputs merged, `[batch, seq, E]`, and the log-sum-exp of every
/// score row, `[batch, heads, seq]`. Each head writes its `[seq, D]` block of the output in place.
pub(super) fn forward<T: VecMath>(qkv: &[T], d: AttentionDims, level: Level) -> Vec<Vec<T>> {
    let (seq, hd) = (d.seq, d.head_dim);
    let mut lse = Vec::with_capacity(d.batch * d.heads * seq);
    // SAFETY: the heads' merged views tile the `[batch, seq, E]` output, so the products write
    // every element; each head writes only its own view.
    let out = unsafe {
        filled(d.batch * seq * d.heads * hd, |out| {
            let out = Shared(out.as_mut_ptr());
            let heads = per_head(&d, |bh| {
                let views = HeadViews::new(&d, bh);
                let mut p = raw_scores(qkv, &views, &d);
                let mut lse = vec![T::zero(); seq];
                level.run_fma(Softmax {
                    s: &mut p,
                    lse: &mut lse,
                    d,
                });
                let dims = (seq, hd, seq);
                let value = (qkv, views.parts[2]);
                gemm_to_ptr(dims, (&p, rows(seq)), value, (out.ptr(), views.merged));
                lse
            });
            heads.iter().for_each(|l| lse.extend_from_slice(l));
        })
    };
    vec![out, lse]
}

/// Inputs `qkv`, the forward's `out` and `lse`, and `g`, the gradient of `out`; output the
/// gradient of `qkv`, each head writing its query, key and value blocks in place.
pub(super) fn backward<T: VecMath>(x: &[&[T]], d: AttentionDims, level: Level) -> Vec<T> {
    let (qkv, out, lse, g) = (x[0], x[1], x[2], x[3]);
    let (seq, hd) = (d.seq, d.head_dim);
    // SAFETY: the heads' query, key and value views tile the `[batch, seq, 3E]` gradient, so the
    // products write every element; each head writes only its own views.
    unsafe {
        filled(qkv.len(), |dqkv| {
            let dqkv = Shared(dqkv.as_mut_ptr());
            per_head(&d, |bh| {
                let views = HeadViews::new(&d, bh);
                let [q, k, v] = views.parts.map(|p| (qkv, p));
                let go = (g, views.merged);
                // p_ij = e^(s_ij - lse_i): the forward's softmax, recomputed
                let mut p = raw_scores(qkv, &views, &d);
                // dp = g v^T
                let mut ds = gemm_new((seq, seq, hd), go, (v.0, t(v.1)));
                level.run_fma(ScoreGrad {
                    p: &mut p,
                    ds: &mut ds,
                    lse: &lse[bh * seq..(bh + 1) * seq],
                    out,
                    g,
                    merged: views.merged,
                    d,
                });
                let dims = (seq, hd, seq);
                let [dq, dk, dv] = views.parts.map(|view| (dqkv.ptr(), view));
                // dq = ds k, dk = ds^T q, dv = p^T g
                gemm_to_ptr(dims, (&ds, rows(seq)), k, dq);
                gemm_to_ptr(dims, (&ds, t(rows(seq))), q, dk);
                gemm_to_ptr(dims, (&p, t(rows(seq))), go, dv);
            });
        })
    }
}

/// Keys row `i` attends to.
#[inline(always)]
fn keys(d: &AttentionDims, i: usize) -> usize {
    if d.causal {
        i + 1
    } else {
        d.seq
    }
}

/// Raw scores to probabilities in place, row by row: `p_ij = softmax_j(s_ij / sqrt(D))` over the
/// keys the row sees (0 elsewhere), and `lse_i` the log-sum-exp of the scaled row.
struct Softmax<'a, T> {
    s: &'a mut [T],
    lse: &'a mut [T],
    d: AttentionDims,
}

impl<T: VecMath> FmaKernel for Softmax<'_, T> {
    #[inline(always)]
    fn run<const FMA: bool>(self) {
        let scale = T::from_f64(self.d.scale());
        for (i, row) in self.s.chunks_exact_mut(self.d.seq).enumerate() {
            let (live, masked) = row.split_at_mut(keys(&self.d, i));
            live.iter_mut().for_each(|s| *s = *s * scale);
            let m = max(live);
            live.iter_mut()
                .for_each(|s| *s = (*s - m).exp_with::<FMA>());
            let l = sum(live);
            let inv = T::one() / l;
            live.iter_mut().for_each(|p| *p = *p * inv);
            masked.fill(T::zero());
            self.lse[i] = m + l.ln();
        }
    }
}

/// From the raw scores `p` and `ds = g v^T`, in place: `p_ij = e^(s_ij / sqrt(D) - lse_i)` (0 on
/// masked keys) and `ds_ij = p_ij (ds_ij - g_i·o_i) / sqrt(D)`, the gradient of the raw scores.
struct ScoreGrad<'a, T> {
    p: &'a mut [T],
    ds: &'a mut [T],
    lse: &'a [T],
    out: &'a [T],
    g: &'a [T],
    merged: MatView,
    d: AttentionDims,
}

impl<T: VecMath> FmaKernel for ScoreGrad<'_, T> {
    #[inline(always)]
    fn run<const FMA: bool>(self) {
        let (seq, hd) = (self.d.seq, self.d.head_dim);
        let scale = T::from_f64(self.d.scale());
        let rows = self
            .p
            .chunks_exact_mut(seq)
            .zip(self.ds.chunks_exact_mut(seq));
        for (i, (p, ds)) in rows.enumerate() {
            let at = self.merged.offset + i * self.merged.rs;
            let di = dot(&self.g[at..at + hd], &self.out[at..at + hd]);
            let lse = self.lse[i];
            let len = keys(&self.d, i);
            let (p_live, p_masked) = p.split_at_mut(len);
            let (ds_live, ds_masked) = ds.split_at_mut(len);
            for (p, ds) in p_live.iter_mut().zip(ds_live.iter_mut()) {
                *p = p.mad::<FMA>(scale, -lse).exp_with::<FMA>();
                *ds = *p * (*ds - di) * scale;
            }
            p_masked.fill(T::zero());
            ds_masked.fill(T::zero());
        }
    }
}
