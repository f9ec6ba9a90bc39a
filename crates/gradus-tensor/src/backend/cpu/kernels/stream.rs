//! Non-temporal ("streaming") stores for outputs too big to stay in cache.
//!
//! An ordinary store first reads the destination's cache line from memory (the read for
//! ownership), so an op writing a new buffer that does not fit in cache moves its output twice.
//! A non-temporal store writes whole lines straight to memory through write-combining buffers,
//! without that read and without evicting the inputs, as `memcpy` does for large copies and
//! STREAM's compilers do for its kernels. `a * b + c` over 1e7 f32 (40 MB each) on the Intel
//! Xeon of BENCHMARKS.md, 2 threads: 6-7 ms with ordinary stores, 4-5 ms streamed.
//!
//! Kernels compute each block of a big output into a small buffer in L1 ([`BLOCK`] elements) and
//! [`stream_copy`] it out; the copy from L1 costs little next to the memory traffic.
//! [`stream_fence`] must follow a task's last copy: non-temporal stores are weakly ordered, and
//! the fence makes them visible before the task reports that it is done.

use std::mem::MaybeUninit;

/// Outputs of at least this many bytes are written with non-temporal stores: past the L3 of a
/// Zen 4/5 CCD (32 MiB), and where the data would rather go to memory even on a CPU with a bigger
/// shared L3. On the Intel Xeon of BENCHMARKS.md (260 MiB of L3 shared with other tenants), two
/// chained `mul_add`s and a `relu` over 5e6 f32 (20 MB outputs, which the next op read back
/// from L3) were 16% slower streamed, over 1e7 (40 MB) 6% faster.
pub(crate) const STREAM_BYTES: usize = 32 << 20;

/// Elements of a block computed in L1 before it is streamed out (4 KiB of f32).
pub(crate) const BLOCK: usize = 1024;

/// Copies `src` to `dst` (equal lengths) with non-temporal stores of the widest registers the
/// CPU has (AVX-512: whole 64-byte lines; AVX; SSE2, on every x86-64 CPU) for the aligned part of
/// `dst`, ordinary copies for the ends; a plain copy on other architectures.
/// Follow the last copy of a task with [`stream_fence`].
pub(crate) fn stream_copy<T: Copy>(dst: &mut [MaybeUninit<T>], src: &[MaybeUninit<T>]) {
    assert_eq!(dst.len(), src.len(), "stream_copy of unequal lengths");
    let bytes = std::mem::size_of_val(src);
    let (d, s) = (dst.as_mut_ptr().cast::<u8>(), src.as_ptr().cast::<u8>());
    // SAFETY: both regions are `bytes` long, in distinct borrows (so they do not overlap), and
    // every byte pattern of `MaybeUninit<T>` is valid.
    unsafe { copy_bytes(d, s, bytes) }
}

#[cfg(target_arch = "x86_64")]
unsafe fn copy_bytes(d: *mut u8, s: *const u8, bytes: usize) {
    if std::arch::is_x86_feature_detected!("avx512f") {
        copy_bytes_avx512(d, s, bytes)
    } else if std::arch::is_x86_feature_detected!("avx") {
        copy_bytes_avx(d, s, bytes)
    } else {
        copy_bytes_sse2(d, s, bytes)
    }
}

/// Whole 64-byte lines, one store each.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn copy_bytes_avx512(d: *mut u8, s: *const u8, bytes: usize) {
    use std::arch::x86_64::{__m512i, _mm512_loadu_si512, _mm512_stream_si512};
    let head = d.align_offset(64).min(bytes);
    std::ptr::copy_nonoverlapping(s, d, head);
    let mut i = head;
    while i + 64 <= bytes {
        let v = _mm512_loadu_si512(s.add(i).cast::<__m512i>());
        _mm512_stream_si512(d.add(i).cast::<__m512i>(), v);
        i += 64;
    }
    std::ptr::copy_nonoverlapping(s.add(i), d.add(i), bytes - i);
}

/// 32-byte stores, two per line.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn copy_bytes_avx(d: *mut u8, s: *const u8, bytes: usize) {
    use std::arch::x86_64::{__m256i, _mm256_loadu_si256, _mm256_stream_si256};
    let head = d.align_offset(32).min(bytes);
    std::ptr::copy_nonoverlapping(s, d, head);
    let mut i = head;
    while i + 32 <= bytes {
        let v = _mm256_loadu_si256(s.add(i).cast::<__m256i>());
        _mm256_stream_si256(d.add(i).cast::<__m256i>(), v);
        i += 32;
    }
    std::ptr::copy_nonoverlapping(s.add(i), d.add(i), bytes - i);
}

#[cfg(target_arch = "x86_64")]
unsafe fn copy_bytes_sse2(d: *mut u8, s: *const u8, bytes: usize) {
    use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_stream_si128};
    let head = d.align_offset(16).min(bytes);
    std::ptr::copy_nonoverlapping(s, d, head);
    let mut i = head;
    while i + 16 <= bytes {
        let v = _mm_loadu_si128(s.add(i).cast::<__m128i>());
        _mm_stream_si128(d.add(i).cast::<__m128i>(), v);
        i += 16;
    }
    std::ptr::copy_nonoverlapping(s.add(i), d.add(i), bytes - i);
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn copy_bytes(d: *mut u8, s: *const u8, bytes: usize) {
    std::ptr::copy_nonoverlapping(s, d, bytes);
}

/// Orders this thread's earlier non-temporal stores before its later stores (`sfence`).
pub(crate) fn stream_fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of x86-64.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every copy path this CPU runs, the dispatching one first.
    #[allow(clippy::type_complexity)]
    fn paths() -> Vec<(&'static str, unsafe fn(*mut u8, *const u8, usize))> {
        let mut paths: Vec<(&'static str, unsafe fn(*mut u8, *const u8, usize))> =
            vec![("dispatch", copy_bytes)];
        #[cfg(target_arch = "x86_64")]
        {
            paths.push(("sse2", copy_bytes_sse2));
            if std::arch::is_x86_feature_detected!("avx") {
                paths.push(("avx", copy_bytes_avx));
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                paths.push(("avx512", copy_bytes_avx512));
            }
        }
        paths
    }

    #[test]
    fn copies_every_length_and_alignment_exactly() {
        let src: Vec<u8> = (0..400u32).map(|i| (i * 37 % 251) as u8).collect();
        for (name, copy) in paths() {
            for start in 0..70 {
                for len in [0, 1, 15, 16, 17, 31, 32, 63, 64, 65, 100, 129, 255, 330] {
                    let mut dst = vec![0u8; 400];
                    // SAFETY: both ranges lie inside their vectors and do not overlap
                    unsafe { copy(dst.as_mut_ptr().add(start), src.as_ptr().add(3), len) };
                    stream_fence();
                    for (i, &d) in dst.iter().enumerate() {
                        let want = if (start..start + len).contains(&i) {
                            src[i - start + 3]
                        } else {
                            0
                        };
                        assert_eq!(d, want, "{name}: start {start} len {len} at {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn stream_copy_moves_typed_elements() {
        let src: Vec<MaybeUninit<f64>> = (0..1000)
            .map(|i| MaybeUninit::new(i as f64 * 0.5))
            .collect();
        let mut dst = vec![MaybeUninit::new(0.0f64); 1001];
        stream_copy(&mut dst[1..], &src);
        stream_fence();
        // SAFETY: every element was initialized
        let got: Vec<f64> = dst[1..]
            .iter()
            .map(|x| unsafe { x.assume_init() })
            .collect();
        assert_eq!(got, (0..1000).map(|i| i as f64 * 0.5).collect::<Vec<_>>());
    }
}
