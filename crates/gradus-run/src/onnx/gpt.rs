//! The GPT as an ONNX graph: token ids (int64, `[batch, block_size]`) through the token and
//! position embeddings (`Gather`, `Add`), each pre-norm transformer block
//! (`LayerNormalization`, the attention's heads by `Split`/`Reshape`/`Transpose`, `MatMul`,
//! the causal mask added before `Softmax`, the exact-GELU feed-forward, the residual `Add`s),
//! the final layer norm and the head (tied to the token embedding or not): logits
//! `[batch, block_size, vocab]`, as `Gpt::forward` computes them.

use super::export::{activation, Weights};
use super::graph::{int, GraphBuilder};
use crate::error::Result;
use gradus_tensor::Tensor;

/// gradus's `LayerNorm::new` epsilon, which `Gpt` uses for every layer norm.
const LAYER_NORM_EPS: f32 = 1e-5;

/// `x W^T (+ b)` for `x` of any rank: `MatMul` with the transposed weight (an initializer
/// named `<prefix>weight.T`), then `Add` of the bias when the layer has one.
fn linear_nd(g: &mut GraphBuilder, w: &Weights, prefix: &str, x: &str) -> Result<String> {
    let weight = w.get(&format!("{prefix}weight"))?;
    let wt = transposed(g, &format!("{prefix}weight.T"), weight)?;
    let y = g.node("MatMul", &[x, &wt], vec![]);
    Ok(match w.0.get(&format!("{prefix}bias")) {
        Some(b) => {
            let b = g.weight(&format!("{prefix}bias"), b);
            g.node("Add", &[&y, &b], vec![])
        }
        None => y,
    })
}

/// A `[rows, cols]` weight as a `[cols, rows]` initializer.
fn transposed(g: &mut GraphBuilder, name: &str, t: &Tensor) -> Result<String> {
    let tt = t
        .t()
        .and_then(|x| x.contiguous())
        .map_err(|e| e.to_string())?;
    Ok(g.weight(name, &tt))
}

/// `LayerNormalization` over the last axis with the layer `prefix`'s weight and bias.
fn layer_norm(g: &mut GraphBuilder, w: &Weights, prefix: &str, x: &str) -> Result<String> {
    let scale = g.weight(
        &format!("{prefix}.weight"),
        w.get(&format!("{prefix}.weight"))?,
    );
    let bias = g.weight(&format!("{prefix}.bias"), w.get(&format!("{prefix}.bias"))?);
    Ok(g.node(
        "LayerNormalization",
        &[x, &scale, &bias],
        vec![
            int("axis", -1),
            super::graph::float("epsilon", LAYER_NORM_EPS),
        ],
    ))
}

/// Causal self-attention of block `prefix` (`blocks.i.self_attn`) on `x` `[batch, t, e]`.
fn attention(
    g: &mut GraphBuilder,
    w: &Weights,
    prefix: &str,
    x: &str,
    (t, e, heads): (usize, usize, usize),
) -> Result<String> {
    let d = e / heads;
    let wt = transposed(
        g,
        &format!("{prefix}.in_proj_weight.T"),
        w.get(&format!("{prefix}.in_proj_weight"))?,
    )?;
    let b = g.weight(
        &format!("{prefix}.in_proj_bias"),
        w.get(&format!("{prefix}.in_proj_bias"))?,
    );
    let qkv = g.node("MatMul", &[x, &wt], vec![]);
    let qkv = g.node("Add", &[&qkv, &b], vec![]);
    let split = g.int64s("attn_split", &[e as i64, e as i64, e as i64]);
    let parts = g.node_n("Split", &[&qkv, &split], vec![int("axis", 2)], 3);
    // [b, t, e] -> [b, t, h, d] (0: the batch, copied from the input)
    let heads_shape = g.int64s("attn_heads_shape", &[0, t as i64, heads as i64, d as i64]);
    let mut split_heads = |part: &str, perm: &[i64]| {
        let r = g.node("Reshape", &[part, &heads_shape], vec![]);
        g.node("Transpose", &[&r], vec![super::graph::ints("perm", perm)])
    };
    let q = split_heads(&parts[0], &[0, 2, 1, 3]); // [b, h, t, d]
    let kt = split_heads(&parts[1], &[0, 2, 3, 1]); // [b, h, d, t]
    let v = split_heads(&parts[2], &[0, 2, 1, 3]);
    let scale = g.scalar("attn_scale", 1.0 / (d as f64).sqrt());
    // 0 on and below the diagonal, -inf above: position i sees positions j <= i
    let mask: Vec<f64> = (0..t * t)
        .map(|idx| {
            if idx % t > idx / t {
                f64::NEG_INFINITY
            } else {
                0.0
            }
        })
        .collect();
    let mask = if g.has("attn_causal_mask") {
        "attn_causal_mask".to_string()
    } else {
        g.values("attn_causal_mask", &[t, t], &mask)
    };
    let scores = g.node("MatMul", &[&q, &kt], vec![]);
    let scores = g.node("Mul", &[&scores, &scale], vec![]);
    let scores = g.node("Add", &[&scores, &mask], vec![]);
    let p = g.node("Softmax", &[&scores], vec![int("axis", -1)]);
    let ctx = g.node("MatMul", &[&p, &v], vec![]); // [b, h, t, d]
    let ctx = g.node(
        "Transpose",
        &[&ctx],
        vec![super::graph::ints("perm", &[0, 2, 1, 3])],
    );
    let merged_shape = g.int64s("attn_merged_shape", &[0, t as i64, e as i64]);
    let merged = g.node("Reshape", &[&ctx, &merged_shape], vec![]);
    linear_nd(g, w, &format!("{prefix}.out_proj."), &merged)
}

/// The GPT's graph on `ids` (int64 `[batch, t]`), for `t = block_size`, width `e` and `heads`.
/// `tied`: the head is the token embedding (`model.tie_weights`), written once.
pub(super) fn gpt(
    g: &mut GraphBuilder,
    w: &Weights,
    t: usize,
    heads: usize,
    tied: bool,
) -> Result<()> {
    let tok_w = w.get("tok_emb.weight")?;
    let e = tok_w.shape()[1];
    let tok_emb = g.weight("tok_emb.weight", tok_w);
    let h = g.node("Gather", &[&tok_emb, "input"], vec![int("axis", 0)]);
    // the first t rows of the position table ([t, e], broadcast over the batch)
    let pos = w.get("pos_emb.weight")?;
    let pos = pos.narrow(0, 0, t).map_err(|e| e.to_string())?;
    let pos = g.weight("pos_emb.weight", &pos);
    let mut h = g.node("Add", &[&h, &pos], vec![]);
    let layers = (0..)
        .take_while(|i| w.0.contains_key(&format!("blocks.{i}.norm1.weight")))
        .count();
    for i in 0..layers {
        let p = format!("blocks.{i}");
        let n1 = layer_norm(g, w, &format!("{p}.norm1"), &h)?;
        let a = attention(g, w, &format!("{p}.self_attn"), &n1, (t, e, heads))?;
        h = g.node("Add", &[&h, &a], vec![]);
        let n2 = layer_norm(g, w, &format!("{p}.norm2"), &h)?;
        let f = linear_nd(g, w, &format!("{p}.linear1."), &n2)?;
        let f = activation(g, Some("gelu"), &f)?;
        let f = linear_nd(g, w, &format!("{p}.linear2."), &f)?;
        h = g.node("Add", &[&h, &f], vec![]);
    }
    let h = layer_norm(g, w, "ln_f", &h)?;
    // a tied head shares the token embedding's storage: its transpose is the one copy written
    let head = if tied { "tok_emb." } else { "head." };
    linear_nd(g, w, head, &h)?;
    Ok(())
}
