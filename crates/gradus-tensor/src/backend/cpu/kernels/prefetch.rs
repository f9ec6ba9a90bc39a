//! Software prefetch: a loop busy enough with arithmetic that the hardware prefetcher falls
//! behind (the fused logistic pass, with its per-row reductions) asks for the data of its next
//! block while it computes the current one. Not a general cure: blocks of 512 elements with
//! the next block prefetched made the fused Adam update of 1e7 f32 slower (0.76x), not faster.

/// Asks the CPU to bring the cache lines of `x` into cache (`prefetcht0` on x86-64; nothing
/// elsewhere). Changes no values.
#[inline(always)]
pub(crate) fn prefetch<T>(x: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = x.as_ptr().cast::<i8>();
        for offset in (0..std::mem::size_of_val(x)).step_by(64) {
            // SAFETY: the address lies inside `x`, and a prefetch changes no architectural state
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}
