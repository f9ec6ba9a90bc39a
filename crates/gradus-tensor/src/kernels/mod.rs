//! CPU kernels on plain slices. Ops in `crate::ops` call these; a GPU backend would provide the
//! same set.

pub(crate) mod elementwise;
pub(crate) mod gemm;
pub(crate) mod im2col;
pub(crate) mod math;
pub(crate) mod reduce;

/// Element count above which elementwise kernels and reductions split work across threads.
/// Below it, thread hand-off costs more than it saves.
pub(crate) const PARALLEL_THRESHOLD: usize = 1 << 15;

/// Elements per parallel task.
pub(crate) const CHUNK: usize = 1 << 13;

/// A loop to compile once per vector instruction level: see [`with_widest_simd`]. `run` must be
/// `#[inline(always)]` so that it is compiled inside each level's wrapper.
pub(crate) trait SimdKernel {
    fn run(self);
}

/// Runs `kernel` compiled for the widest vector instructions this CPU has (AVX-512, else AVX2 +
/// FMA, else the baseline). The build targets baseline x86-64, where loops auto-vectorize to
/// 4-lane SSE. Rust never contracts `a * b + c` into an FMA, so every level computes
/// bit-identical results.
#[inline(always)]
pub(crate) fn with_widest_simd(kernel: impl SimdKernel) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { simd::avx512(kernel) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            return unsafe { simd::avx2(kernel) };
        }
    }
    kernel.run()
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::SimdKernel;

    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    pub(super) unsafe fn avx512(kernel: impl SimdKernel) {
        kernel.run()
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2(kernel: impl SimdKernel) {
        kernel.run()
    }
}
