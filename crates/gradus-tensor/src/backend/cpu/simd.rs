//! Compiling a hot loop once per vector instruction level and picking the widest this CPU has.
//!
//! The build targets baseline x86-64, where loops auto-vectorize to 4-lane SSE. A loop wrapped in a
//! [`SimdKernel`] and run through [`with_widest_simd`] is also compiled for AVX2 + FMA and for
//! AVX-512, and runs the best level available at run time. Rust never contracts `a * b + c` into
//! an FMA, so every level computes bit-identical results. A loop that fuses its multiply-adds on
//! purpose (an `FmaKernel`: `exp` and `Φ` in GELU, attention, softmax and cross-entropy)
//! computes the same bits on every CPU with FMA, and differs in the last bits on the baseline,
//! where it does not fuse.

/// A loop to compile once per instruction level. `run` must be `#[inline(always)]`, so that it
/// (and what it inlines) is compiled inside each level's wrapper.
///
/// ```
/// use gradus_tensor::simd::{with_widest_simd, SimdKernel};
/// struct Scale<'a>(&'a mut [f32], f32);
/// impl SimdKernel for Scale<'_> {
///     #[inline(always)]
///     fn run(self) {
///         self.0.iter_mut().for_each(|x| *x *= self.1);
///     }
/// }
/// let mut v = vec![1.0f32; 100];
/// with_widest_simd(Scale(&mut v, 3.0));
/// assert!(v.iter().all(|&x| x == 3.0));
/// ```
pub trait SimdKernel {
    /// The loop.
    fn run(self);
}

/// Runs `kernel` compiled for the widest vector instructions this CPU has: AVX-512, else AVX2 +
/// FMA, else the baseline.
///
/// ```
/// use gradus_tensor::simd::{with_widest_simd, SimdKernel};
/// struct Sum<'a>(&'a [f64], &'a mut f64);
/// impl SimdKernel for Sum<'_> {
///     #[inline(always)]
///     fn run(self) {
///         *self.1 = self.0.iter().sum();
///     }
/// }
/// let mut total = 0.0;
/// with_widest_simd(Sum(&[1.0, 2.0, 3.0], &mut total));
/// assert_eq!(total, 6.0);
/// ```
#[inline(always)]
pub fn with_widest_simd(kernel: impl SimdKernel) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { levels::avx512(kernel) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            return unsafe { levels::avx2(kernel) };
        }
    }
    kernel.run()
}

/// A loop whose multiply-adds round once where the CPU has fused multiply-add instructions:
/// `run::<true>` computes each `a * b + c` as `a.mul_add(b, c)` (one instruction on the AVX2 +
/// FMA and AVX-512 levels), `run::<false>` as a product and a sum. Polynomials and range
/// reductions (`exp`, `Φ`) take half the instructions fused.
pub(crate) trait FmaKernel {
    /// The loop, with `FMA` telling whether to fuse.
    fn run<const FMA: bool>(self);
}

/// An [`FmaKernel`] run fused, as a [`SimdKernel`] for the FMA levels.
struct Fused<K>(K);

impl<K: FmaKernel> SimdKernel for Fused<K> {
    #[inline(always)]
    fn run(self) {
        self.0.run::<true>()
    }
}

/// Runs `kernel` as [`with_widest_simd`] does: fused on the AVX-512 and AVX2 + FMA levels, unfused
/// on the baseline (where `mul_add` would be a library call). So every CPU with FMA computes the
/// same bits, and a CPU without it differs in the last bits of what fused multiply-adds round.
#[inline(always)]
pub(crate) fn with_widest_simd_fma(kernel: impl FmaKernel) {
    if widest_level().has_fma() {
        // an FMA level is AVX2 + FMA or AVX-512, which `with_widest_simd` picks
        with_widest_simd(Fused(kernel))
    } else {
        kernel.run::<false>()
    }
}

/// The instruction level [`with_widest_simd`] runs on this CPU. Kernels pick their register
/// blocking by it, and whether to multiply-add with one rounding (`mul_add`, a single
/// instruction on the AVX2 + FMA and AVX-512 levels, a slow library call on the baseline).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// Baseline x86-64 (SSE2), or a non-x86 target.
    Baseline,
    /// AVX2 and FMA: 16 vector registers of 8 f32.
    Avx2,
    /// AVX-512F: 32 vector registers of 16 f32.
    Avx512,
}

impl Level {
    /// Whether this level has fused multiply-add instructions.
    pub(crate) fn has_fma(self) -> bool {
        self != Level::Baseline
    }
}

/// The level [`with_widest_simd`] picks on this CPU (the same tests, in the same order).
pub(crate) fn widest_level() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Level::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Level::Avx2;
        }
    }
    Level::Baseline
}

#[cfg(target_arch = "x86_64")]
mod levels {
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
