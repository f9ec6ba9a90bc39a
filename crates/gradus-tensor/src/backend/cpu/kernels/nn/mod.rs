//! The fused kernels of the transformer path, forward and backward, one file per op: softmax and
//! log-softmax over the last axis, layer norm, exact GELU, cross-entropy on class indices and
//! multi-head scaled dot-product attention (and the linear layer's GEMM with its bias, which runs
//! on `faer`). Each runs in one pass over rows that sit in cache, compiled for the widest SIMD
//! level of the CPU ([`with_widest_simd`]), with the `exp` and `Φ` of [`super::fast_math`].
//! Results do not depend on the thread count, and are the same on every CPU with fused
//! multiply-add (AVX2 + FMA or AVX-512): reductions run in a fixed lane order and row blocks are
//! fixed. The `exp` and `Φ` of GELU, attention, softmax and cross-entropy fuse their
//! multiply-adds there (half the instructions); on an x86-64 CPU without FMA they round twice
//! and differ in the last bits.

mod attention;
mod cross_entropy;
mod gelu;
mod layer_norm;
mod linear;
mod softmax;

use super::fast_math::VecMath;
use super::{with_widest_simd, SimdKernel, CHUNK, PARALLEL_THRESHOLD};
use crate::backend::cpu::simd::{widest_level, with_widest_simd_fma, FmaKernel};
use crate::backend::cpu::CpuStorage;
use crate::backend::BackendStorage;
use crate::dtype::with_dtype;
use crate::layout::Layout;
use crate::ops::nn::NnKernel;
use crate::Result;
use rayon::prelude::*;
use std::borrow::Cow;

/// Runs `kernel` on the views `inputs` (all of one dtype); returns its outputs, contiguous.
pub(crate) fn run(kernel: &NnKernel, inputs: &[(&CpuStorage, &Layout)]) -> Result<Vec<CpuStorage>> {
    with_dtype!(inputs[0].0.dtype(), T => {
        let views: Vec<Cow<'_, [T]>> = inputs.iter().map(|(s, l)| s.view::<T>(l)).collect();
        let x: Vec<&[T]> = views.iter().map(|v| v.as_ref()).collect();
        let out = run_typed::<T>(kernel, &x, true)?;
        Ok(out.into_iter().map(CpuStorage::from_vec).collect())
    })
}

/// `kernel` on host slices; `simd: false` runs the baseline build of every loop (the scalar
/// reference the SIMD levels are tested against).
pub(crate) fn run_typed<T: VecMath>(
    kernel: &NnKernel,
    x: &[&[T]],
    simd: bool,
) -> Result<Vec<Vec<T>>> {
    let level = Level(simd);
    Ok(match *kernel {
        NnKernel::Softmax { rows, n, log } => {
            check_len(kernel, x, &[rows * n])?;
            vec![softmax::forward(x[0], n, log, level)]
        }
        NnKernel::SoftmaxBackward { rows, n, log } => {
            check_len(kernel, x, &[rows * n, rows * n])?;
            vec![softmax::backward(x[0], x[1], n, log, level)]
        }
        NnKernel::LayerNorm { rows, n, eps } => {
            check_len(kernel, x, &[rows * n, n, n])?;
            layer_norm::forward(x, n, eps, level)
        }
        NnKernel::LayerNormBackward { rows, n } => {
            check_len(kernel, x, &[rows * n, rows * n, n, rows, rows])?;
            layer_norm::backward(x, n, level)
        }
        NnKernel::Gelu => vec![gelu::forward(x[0], level)],
        NnKernel::GeluBackward => {
            check_len(kernel, x, &[x[0].len(), x[0].len()])?;
            vec![gelu::backward(x[0], x[1], level)]
        }
        NnKernel::CrossEntropy { rows, n, scale } => {
            check_len(kernel, x, &[rows * n, rows])?;
            cross_entropy::forward(x, n, scale, level)?
        }
        NnKernel::CrossEntropyBackward { rows, n, scale } => {
            check_len(kernel, x, &[rows * n, rows, rows, 1])?;
            vec![cross_entropy::backward(x, n, scale, level)]
        }
        NnKernel::Attention(d) => {
            check_len(kernel, x, &[3 * d.tokens() * d.heads * d.head_dim])?;
            attention::forward(x[0], d, level)
        }
        NnKernel::AttentionBackward(d) => {
            let (e, rows) = (d.heads * d.head_dim, d.tokens());
            check_len(
                kernel,
                x,
                &[3 * rows * e, rows * e, d.batch * d.heads * d.seq, rows * e],
            )?;
            vec![attention::backward(x, d, level)]
        }
        NnKernel::Linear(d) => {
            let mut want = vec![d.rows * d.inp, d.out * d.inp];
            want.extend(d.bias.then_some(d.out));
            check_len(kernel, x, &want)?;
            vec![linear::forward(x, d)]
        }
        NnKernel::LinearBackward { dims: d, want } => {
            check_len(kernel, x, &[d.rows * d.out, d.rows * d.inp, d.out * d.inp])?;
            linear::backward(x, d, want)
        }
    })
}

/// Refuses inputs whose lengths are not `want` (a bug in the op that built the kernel).
fn check_len<T>(kernel: &NnKernel, x: &[&[T]], want: &[usize]) -> Result<()> {
    let got: Vec<usize> = x.iter().map(|x| x.len()).collect();
    if got == want {
        return Ok(());
    }
    Err(crate::TensorError::InvalidArgument {
        op: "nn_kernel",
        detail: format!("{kernel:?} takes inputs of lengths {want:?}, got {got:?}"),
    })
}

/// Whether to run the widest SIMD level (true) or the baseline build (false).
#[derive(Clone, Copy)]
pub(crate) struct Level(bool);

impl Level {
    #[inline(always)]
    fn run(self, kernel: impl SimdKernel) {
        if self.0 {
            with_widest_simd(kernel)
        } else {
            kernel.run()
        }
    }

    /// Runs an [`FmaKernel`]: fused where the CPU has FMA ([`with_widest_simd_fma`]); the
    /// baseline build computes what the widest level does, fusing through `mul_add`'s library
    /// call (exactly rounded, so the same bits) where that level fuses.
    #[inline(always)]
    fn run_fma(self, kernel: impl FmaKernel) {
        if self.0 {
            with_widest_simd_fma(kernel)
        } else if widest_level().has_fma() {
            kernel.run::<true>()
        } else {
            kernel.run::<false>()
        }
    }
}

/// Rows of `n` elements per block of the row kernels: about [`CHUNK`] elements.
fn rows_per_block(n: usize) -> usize {
    (CHUNK / n.max(1)).max(1)
}

/// Element count above which the kernels that take an `exp` (or `Φ`) per element (softmax,
/// cross-entropy, GELU) split their rows across threads: each element costs about what eight
/// of an elementwise add do, so the split pays at an eighth of [`PARALLEL_THRESHOLD`]. The GPT
/// benchmark's cross-entropy forward (`2048 x 65` logits), 2 threads, Intel Xeon: 108 -> 65 us.
const EXP_PARALLEL_THRESHOLD: usize = PARALLEL_THRESHOLD / 8;

/// Splits `out`, which holds `per_row` elements for each row of `n` inputs (`n` for a row's
/// softmax, 1 for its log-sum-exp), into fixed blocks of whole rows and runs
/// `f(first_row, block)` on each, on rayon's threads from [`EXP_PARALLEL_THRESHOLD`] input
/// elements (its users take an `exp` or `Φ` per element). The blocks do not depend on the
/// thread count.
fn for_row_blocks<T: Send>(
    out: &mut [T],
    (per_row, n): (usize, usize),
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let per_row = per_row.max(1);
    let rows_per_block = rows_per_block(n);
    let block = rows_per_block * per_row;
    if out.len() / per_row * n >= EXP_PARALLEL_THRESHOLD {
        crate::threads::warm();
        out.par_chunks_mut(block)
            .enumerate()
            .for_each(|(i, c)| f(i * rows_per_block, c));
    } else {
        out.chunks_mut(block)
            .enumerate()
            .for_each(|(i, c)| f(i * rows_per_block, c));
    }
}

#[cfg(test)]
mod tests {
    use super::run_typed;
    use crate::ops::nn::{AttentionDims, NnKernel};

    fn data(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 6.0 - 3.0
            })
            .collect()
    }

    /// Softmax, log-softmax and cross-entropy, forward and backward, equal their definitions
    /// written row by row, bit for bit, on both builds, for rows shorter than, as long as and
    /// longer than a vector (the kernels run `exp` over whole blocks of rows), and over more
    /// rows than one block holds (`65 x 2048`: the GPT benchmark's logits). `exp` fuses its
    /// multiply-adds where the widest SIMD level has FMA, in both builds.
    #[test]
    fn row_kernels_equal_their_row_by_row_definitions() {
        use crate::backend::cpu::kernels::fast_math::{dot, max, sum, VecMath};
        let fma = crate::backend::cpu::simd::widest_level().has_fma();
        let exp = |v: f32| {
            if fma {
                v.exp_with::<true>()
            } else {
                v.exp_with::<false>()
            }
        };
        for (rows, n) in [
            (200, 10),
            (5, 1),
            (9, 3),
            (4, 16),
            (6, 17),
            (3, 67),
            (2048, 65),
        ] {
            let x = data(rows * n, 7);
            let g = data(rows * n, 8);
            let targets: Vec<f32> = (0..rows).map(|i| (i * 5 % n) as f32).collect();
            let (mut soft, mut log_soft, mut lse) = (vec![], vec![], vec![]);
            let (mut d_soft, mut d_log, mut d_ce) = (vec![], vec![], vec![]);
            let mut loss = 0.0f32;
            for (r, (x, g)) in x.chunks_exact(n).zip(g.chunks_exact(n)).enumerate() {
                let m = max(x);
                let e: Vec<f32> = x.iter().map(|&x| exp(x - m)).collect();
                let (s, inv) = (sum(&e), 1.0 / sum(&e));
                soft.extend(e.iter().map(|&e| e * inv));
                log_soft.extend(x.iter().map(|&x| (x - m) - s.ln()));
                let y = &soft[r * n..];
                let dy = dot(g, y);
                d_soft.extend(y.iter().zip(g).map(|(&y, &g)| y * (g - dy)));
                let ly = &log_soft[r * n..];
                let sg = sum(g);
                d_log.extend(ly.iter().zip(g).map(|(&y, &g)| g - exp(y) * sg));
                lse.push(m + s.ln());
                loss += lse[r] - x[targets[r] as usize];
                let row: Vec<f32> = x.iter().map(|&x| exp(x - lse[r]) * 1.5).collect();
                d_ce.extend(row.iter().enumerate().map(|(j, &v)| {
                    if j == targets[r] as usize {
                        v - 1.5
                    } else {
                        v
                    }
                }));
            }
            for simd in [true, false] {
                let run =
                    |k: NnKernel, inputs: &[&[f32]]| run_typed::<f32>(&k, inputs, simd).unwrap();
                let y = run(
                    NnKernel::Softmax {
                        rows,
                        n,
                        log: false,
                    },
                    &[&x],
                );
                assert_eq!(y[0], soft, "softmax {rows}x{n}");
                let ly = run(NnKernel::Softmax { rows, n, log: true }, &[&x]);
                assert_eq!(ly[0], log_soft, "log_softmax {rows}x{n}");
                let back = |log, y: &[f32]| {
                    run(NnKernel::SoftmaxBackward { rows, n, log }, &[y, &g]).remove(0)
                };
                assert_eq!(back(false, &soft), d_soft, "softmax backward {rows}x{n}");
                assert_eq!(
                    back(true, &log_soft),
                    d_log,
                    "log_softmax backward {rows}x{n}"
                );
                let (scale, dims) = (0.5, (rows, n));
                let ce = run(
                    NnKernel::CrossEntropy {
                        rows: dims.0,
                        n: dims.1,
                        scale,
                    },
                    &[&x, &targets],
                );
                assert_eq!(ce[1], lse, "cross-entropy lse {rows}x{n}");
                assert_eq!(ce[0], vec![loss * 0.5], "cross-entropy {rows}x{n}");
                let d = run(
                    NnKernel::CrossEntropyBackward { rows, n, scale },
                    &[&x, &targets, &ce[1], &[3.0]],
                );
                assert_eq!(d[0], d_ce, "cross-entropy backward {rows}x{n}");
            }
        }
    }

    /// Every kernel compiled for the widest SIMD level of this CPU gives the same bits as the
    /// baseline build.
    #[test]
    fn simd_levels_match_the_baseline_bit_for_bit() {
        let (rows, n) = (37, 67);
        let x = data(rows * n, 1);
        let g = data(rows * n, 2);
        let w = data(n, 3);
        let b = data(n, 4);
        let targets: Vec<f32> = (0..rows).map(|i| (i * 7 % n) as f32).collect();
        let d = AttentionDims {
            batch: 2,
            seq: 9,
            heads: 3,
            head_dim: 5,
            causal: true,
        };
        let qkv = data(2 * 9 * 45, 5);
        let g_att = data(2 * 9 * 15, 6);
        let check = |k: NnKernel, inputs: &[&[f32]]| {
            let fast = run_typed::<f32>(&k, inputs, true).unwrap();
            let slow = run_typed::<f32>(&k, inputs, false).unwrap();
            assert_eq!(fast, slow, "{k:?}");
            fast
        };
        for log in [false, true] {
            let y = check(NnKernel::Softmax { rows, n, log }, &[&x]);
            check(NnKernel::SoftmaxBackward { rows, n, log }, &[&y[0], &g]);
        }
        let ln = check(NnKernel::LayerNorm { rows, n, eps: 1e-5 }, &[&x, &w, &b]);
        check(
            NnKernel::LayerNormBackward { rows, n },
            &[&g, &x, &w, &ln[1], &ln[2]],
        );
        check(NnKernel::Gelu, &[&x]);
        check(NnKernel::GeluBackward, &[&x, &g]);
        let ce = check(
            NnKernel::CrossEntropy {
                rows,
                n,
                scale: 0.5,
            },
            &[&x, &targets],
        );
        check(
            NnKernel::CrossEntropyBackward {
                rows,
                n,
                scale: 0.5,
            },
            &[&x, &targets, &ce[1], &[2.0]],
        );
        let att = check(NnKernel::Attention(d), &[&qkv]);
        check(
            NnKernel::AttentionBackward(d),
            &[&qkv, &att[0], &att[1], &g_att],
        );
    }
}
