//! CPU kernels on plain slices. Ops in `crate::ops` call these; a GPU backend would provide the
//! same set.

use std::mem::MaybeUninit;

pub(crate) mod conv_direct;
#[cfg(target_arch = "x86_64")]
mod conv_direct_avx512;
pub(crate) mod conv_input_grad;
pub(crate) mod conv_weight_grad;
pub(crate) mod elementwise;
pub(crate) mod fast_math;
pub(crate) mod gemm;
#[cfg(target_arch = "x86_64")]
mod gemm_avx512;
pub mod gemm_bf16;
pub mod gemm_i8;
pub(crate) mod im2col;
pub(crate) mod math;
pub(crate) mod max_pool;
pub(crate) mod nn;
pub mod packed_gemm;
pub(crate) mod reduce;
pub(crate) mod squares;
pub(crate) mod stream;
pub(crate) mod transpose;

/// Element count above which elementwise kernels and reductions split work across threads.
/// Below it (1 MiB of f32, in cache) the op ends about as soon as another thread could be woken:
/// measured on the MLP training step, 2^18 ran it ~20% faster than 2^15.
pub(crate) const PARALLEL_THRESHOLD: usize = 1 << 18;

/// Elements per parallel task.
pub(crate) const CHUNK: usize = 1 << 13;

pub(crate) use crate::backend::cpu::simd::{with_widest_simd, SimdKernel};

/// A vector of `n` elements written by `fill`, which is given them uninitialized (no zero fill
/// before a kernel that writes every element anyway).
///
/// # Safety
/// `fill` must write every one of the `n` elements.
pub(crate) unsafe fn filled<T>(n: usize, fill: impl FnOnce(&mut [MaybeUninit<T>])) -> Vec<T> {
    let mut out = Vec::with_capacity(n);
    fill(&mut out.spare_capacity_mut()[..n]);
    // SAFETY: the caller's `fill` wrote all `n` elements.
    unsafe { out.set_len(n) };
    out
}
