//! bf16 GEMM with f32 accumulation: `c[m, n] = a[m, k] @ b[k, n]`, `a` and `b` bf16 bit patterns
//! (strided views), `c` f32 row-major: the product behind bf16 matmuls (PyTorch's bf16 `mm` on
//! the CPU, oneDNN's `f32 += bf16 x bf16`).
//!
//! Every path computes what AVX512_BF16's `vdpbf16ps` computes (Intel SDM, `VDPBF16PS`): per
//! output, over `k` in pairs `(2p, 2p + 1)`, the odd product first, then the even one, each a
//! fused multiply-add into the f32 sum with round to nearest even, bf16 inputs and the sum
//! **denormals-as-zero** on the way in and **flush-to-zero** on the way out (the MXCSR is not
//! consulted). An odd `k` is padded with a zero. So a result differs from the f32 GEMM of the
//! same inputs (widened exactly: a bf16 product is exact in f32) in summation order and in
//! subnormals only; both err by at most about `k · 2⁻²⁴ · Σ|aᵢₚ bₚⱼ|`. NaN payloads are not
//! specified.
//!
//! [`Bf16Path::Portable`] emulates the instruction in scalar code, the reference;
//! [`Bf16Path::Avx512Bf16`] packs `b` into 32-column panels of k-pairs once per call, broadcasts
//! pairs of `a` and runs an 8 x 32 register tile (16 zmm accumulators) by inline assembly
//! (the AVX-512 intrinsics are newer than the crate's minimum Rust), `k` blocked for the L1
//! cache, blocks of 64 rows x 256 columns on rayon. [`Bf16Path::Avx512Widened`] widens both
//! operands to f32 (exact), the two elements of every k-pair swapped, and runs the f32 kernel
//! [`gemm_avx512`](super::gemm_avx512) (one in-order FMA chain per output) with the MXCSR's
//! denormals-are-zero and flush-to-zero set: the instruction's arithmetic on f32 FMAs, for CPUs
//! where `vdpbf16ps` runs at a fraction of the f32 FMA rate (on the Intel Xeon of BENCHMARKS.md it
//! issues at a quarter of it, half the multiply-adds per cycle). Each output is summed over `k`
//! in order on every path, so the bits do not depend on the path, the blocking or the thread
//! count. [`Bf16Path::best`] times the two AVX-512 paths once, on first use, and keeps the faster.

use rayon::prelude::*;

/// Which instructions compute the products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Bf16Path {
    /// Scalar emulation of `vdpbf16ps`: the reference every other path equals.
    Portable,
    /// AVX512_BF16 `vdpbf16ps` on 512-bit registers.
    Avx512Bf16,
    /// Operands widened to f32, f32 FMAs on 512-bit registers under denormals-are-zero and
    /// flush-to-zero (AVX-512 F, BW and VL).
    Avx512Widened,
}

impl Bf16Path {
    /// Whether this CPU can run the path.
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            match self {
                Bf16Path::Portable => true,
                Bf16Path::Avx512Bf16 => has!("avx512f") && has!("avx512bf16"),
                Bf16Path::Avx512Widened => has!("avx512f") && has!("avx512bw") && has!("avx512vl"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Bf16Path::Portable
        }
    }

    /// The fastest path this CPU has: where both AVX-512 paths run, the one that was faster on
    /// a `64 x 256 x 256` product timed once, on the first call (a few milliseconds; the paths
    /// give the same bits, so the choice changes the speed alone).
    pub fn best() -> Bf16Path {
        static BEST: std::sync::OnceLock<Bf16Path> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| {
            match (
                Bf16Path::Avx512Bf16.available(),
                Bf16Path::Avx512Widened.available(),
            ) {
                (true, true) => faster(Bf16Path::Avx512Bf16, Bf16Path::Avx512Widened),
                (false, true) => Bf16Path::Avx512Widened,
                _ => Bf16Path::Portable,
            }
        })
    }

    /// Every path this CPU can run, the portable one first.
    pub fn all_available() -> Vec<Bf16Path> {
        [
            Bf16Path::Portable,
            Bf16Path::Avx512Bf16,
            Bf16Path::Avx512Widened,
        ]
        .into_iter()
        .filter(|p| p.available())
        .collect()
    }
}

/// Whichever of two paths took less time, over the best of 5 runs each (alternated), on a
/// `64 x 256 x 256` product on the calling thread.
fn faster(x: Bf16Path, y: Bf16Path) -> Bf16Path {
    let (m, n, k) = (64, 256, 256);
    let a: Vec<u16> = (0..m * k).map(|i| 0x3f80 + (i % 127) as u16).collect();
    let b: Vec<u16> = (0..k * n).map(|i| 0xbf00 + (i % 113) as u16).collect();
    let mut c = vec![0.0f32; m * n];
    let mut time = |path| {
        let start = std::time::Instant::now();
        gemm_bf16_with(path, (m, n, k), (&a, (k, 1)), (&b, (n, 1)), &mut c);
        start.elapsed()
    };
    let (mut tx, mut ty) = (std::time::Duration::MAX, std::time::Duration::MAX);
    for _ in 0..5 {
        tx = tx.min(time(x));
        ty = ty.min(time(y));
    }
    if ty < tx {
        y
    } else {
        x
    }
}

/// `c = a @ b` on the [fastest path](Bf16Path::best): `a` `[m, k]` and `b` `[k, n]` bf16 bits as
/// strided views (row stride, column stride in elements, so `bᵀ` of a `[n, k]` weight is
/// `(1, k)`), `c` `[m, n]` f32 row-major.
///
/// ```
/// use gradus_tensor::gemm_bf16::gemm_bf16;
/// use gradus_tensor::precision::convert::f32_to_bf16_bits as bits;
/// let a: Vec<u16> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0].map(bits).to_vec(); // [2, 3]
/// let b: Vec<u16> = [1.0f32, 0.5, -1.0].map(bits).to_vec(); // [3, 1]
/// let mut c = [0.0f32; 2];
/// gemm_bf16((2, 1, 3), &a, (3, 1), &b, (1, 1), &mut c);
/// assert_eq!(c, [1.0 + 1.0 - 3.0, 4.0 + 2.5 - 6.0]);
/// ```
///
/// # Panics
/// When a view reaches past its slice or `c` is shorter than `m · n`.
pub fn gemm_bf16(
    dims: (usize, usize, usize),
    a: &[u16],
    a_strides: (usize, usize),
    b: &[u16],
    b_strides: (usize, usize),
    c: &mut [f32],
) {
    gemm_bf16_with(Bf16Path::best(), dims, (a, a_strides), (b, b_strides), c)
}

/// A strided bf16 view: the bits and (row stride, column stride).
pub type Bf16View<'a> = (&'a [u16], (usize, usize));

/// [`gemm_bf16`] on a chosen path (tests compare paths); an unavailable path falls back to
/// [`Bf16Path::Portable`].
///
/// # Panics
/// When a view reaches past its slice or `c` is shorter than `m · n`.
pub fn gemm_bf16_with(
    path: Bf16Path,
    (m, n, k): (usize, usize, usize),
    a: Bf16View<'_>,
    b: Bf16View<'_>,
    c: &mut [f32],
) {
    let reach = |v: &Bf16View<'_>, rows: usize, cols: usize| {
        rows == 0 || cols == 0 || (rows - 1) * v.1 .0 + (cols - 1) * v.1 .1 < v.0.len()
    };
    assert!(
        reach(&a, m, k) && reach(&b, k, n) && c.len() >= m * n,
        "gemm_bf16: views shorter than [{m}, {k}] @ [{k}, {n}] -> [{m}, {n}]"
    );
    let c = &mut c[..m * n];
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        c.fill(0.0);
        return;
    }
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the path is available on this CPU
        Bf16Path::Avx512Bf16 if path.available() => unsafe { x86::gemm((m, n, k), a, b, c) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the path is available on this CPU
        Bf16Path::Avx512Widened if path.available() => unsafe { widened::gemm((m, n, k), a, b, c) },
        _ => portable((m, n, k), a, b, c),
    }
}

/// The f32 value of bf16 bits, denormals as zero (the instruction's input rule).
fn daz_bf16(x: u16) -> f32 {
    daz(f32::from_bits((x as u32) << 16))
}

fn daz(x: f32) -> f32 {
    if x.is_subnormal() {
        0.0f32.copysign(x)
    } else {
        x
    }
}

/// One `vdpbf16ps` lane: `acc += a_hi · b_hi`, then `acc += a_lo · b_lo`, each fused, sum
/// denormals-as-zero in and flush-to-zero out.
fn dot_pair(acc: f32, (a_lo, a_hi): (u16, u16), (b_lo, b_hi): (u16, u16)) -> f32 {
    let acc = daz(daz_bf16(a_hi).mul_add(daz_bf16(b_hi), daz(acc)));
    daz(daz_bf16(a_lo).mul_add(daz_bf16(b_lo), acc))
}

/// The reference: per output, `vdpbf16ps` emulated over the k-pairs in order.
fn portable((m, n, k): (usize, usize, usize), a: Bf16View<'_>, b: Bf16View<'_>, c: &mut [f32]) {
    let at = |v: &Bf16View<'_>, i: usize, j: usize| v.0[i * v.1 .0 + j * v.1 .1];
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0.0f32;
            for p in (0..k).step_by(2) {
                let hi = |v: &Bf16View<'_>, r, c| if p + 1 < k { at(v, r, c) } else { 0 };
                let pa = (at(&a, i, p), hi(&a, i, p + 1));
                let pb = (at(&b, p, j), hi(&b, p + 1, j));
                acc = dot_pair(acc, pa, pb);
            }
            c[i * n + j] = acc;
        }
    }
}

/// Rows of the register tile.
const MR: usize = 8;
/// Columns of the register tile (two zmm registers of f32) and of a packed panel of `b`.
const NR: usize = 32;
/// k-pairs per cache block: a 32-column panel of `b` is `KC · 128` bytes (16 KiB, half of L1).
const KC: usize = 128;
/// Rows of `c` per parallel task (a multiple of [`MR`]).
const MC: usize = 64;
/// Columns of `c` per parallel task (a multiple of [`NR`]).
const NC: usize = 256;
/// Multiply-adds (`m · n · k`) from which tasks run on rayon.
const PARALLEL_WORK: usize = 1 << 20;

/// `lo | hi << 16`: one k-pair as `vdpbf16ps` reads it.
fn pair(lo: u16, hi: u16) -> u32 {
    (lo as u32) | ((hi as u32) << 16)
}

/// `a` as `[⌈m / MR⌉ · MR, ⌈k / 2⌉]` k-pairs, rows and the odd `k` padded with zeros.
fn pack_a((m, k): (usize, usize), (a, (rs, cs)): Bf16View<'_>) -> Vec<u32> {
    let kp = k.div_ceil(2);
    let mut out = vec![0u32; m.div_ceil(MR) * MR * kp];
    for (i, row) in out.chunks_exact_mut(kp).take(m).enumerate() {
        for (p, v) in row.iter_mut().enumerate() {
            let hi = if 2 * p + 1 < k {
                a[i * rs + (2 * p + 1) * cs]
            } else {
                0
            };
            *v = pair(a[i * rs + 2 * p * cs], hi);
        }
    }
    out
}

/// `b` as `⌈n / NR⌉` panels of `[⌈k / 2⌉, NR]` k-pairs, columns and the odd `k` padded with
/// zeros.
fn pack_b((k, n): (usize, usize), (b, (rs, cs)): Bf16View<'_>) -> Vec<u32> {
    let kp = k.div_ceil(2);
    let mut out = vec![0u32; n.div_ceil(NR) * kp * NR];
    for (panel, dst) in out.chunks_exact_mut(kp * NR).enumerate() {
        for (p, row) in dst.chunks_exact_mut(NR).enumerate() {
            for (jj, v) in row.iter_mut().enumerate() {
                let j = panel * NR + jj;
                if j < n {
                    let hi = if 2 * p + 1 < k {
                        b[(2 * p + 1) * rs + j * cs]
                    } else {
                        0
                    };
                    *v = pair(b[2 * p * rs + j * cs], hi);
                }
            }
        }
    }
    out
}

/// `c`'s pointer, shared by tasks that write disjoint blocks.
struct Out(*mut f32);
// SAFETY: tasks write disjoint blocks of `c` and `c` outlives them
unsafe impl Sync for Out {}
impl Out {
    fn get(&self) -> *mut f32 {
        self.0
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::asm;

    /// The blocked product on `vdpbf16ps`.
    ///
    /// # Safety
    /// The CPU has AVX-512 F and BF16; the views reach as far as their shapes say.
    pub(super) unsafe fn gemm(
        (m, n, k): (usize, usize, usize),
        a: Bf16View<'_>,
        b: Bf16View<'_>,
        c: &mut [f32],
    ) {
        let (pa, pb) = (pack_a((m, k), a), pack_b((k, n), b));
        let (mp, np) = (m.div_ceil(MR) * MR, n.div_ceil(NR) * NR);
        let tasks: Vec<(usize, usize)> = (0..mp)
            .step_by(MC)
            .flat_map(|i| (0..np).step_by(NC).map(move |j| (i, j)))
            .collect();
        let out = Out(c.as_mut_ptr());
        let run = |&(i0, j0): &(usize, usize)| {
            // SAFETY: the task's block of `c` is its own; the packed buffers fit the shape
            unsafe { block((m, n, k), (i0, j0), &pa, &pb, out.get()) }
        };
        if m * n * k >= PARALLEL_WORK && tasks.len() > 1 {
            crate::threads::warm();
            tasks.par_iter().for_each(run);
        } else {
            tasks.iter().for_each(run);
        }
    }

    /// The task at rows `i0..i0 + MC`, columns `j0..j0 + NC` of `c`: `k` in blocks of [`KC`]
    /// pairs; within one, each 32-column panel of `b` (in L1) against every 8-row tile of `a`.
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn block(
        (m, n, k): (usize, usize, usize),
        (i0, j0): (usize, usize),
        pa: &[u32],
        pb: &[u32],
        c: *mut f32,
    ) {
        let kp = k.div_ceil(2);
        let i1 = (i0 + MC).min(m.div_ceil(MR) * MR);
        let j1 = (j0 + NC).min(n.div_ceil(NR) * NR);
        for p0 in (0..kp).step_by(KC) {
            let kc = KC.min(kp - p0);
            let load = p0 > 0;
            for j in (j0..j1).step_by(NR) {
                let bp = pb.as_ptr().add((j / NR * kp + p0) * NR);
                for i in (i0..i1).step_by(MR) {
                    let ap = pa.as_ptr().add(i * kp + p0);
                    if i + MR <= m && j + NR <= n {
                        let cp = c.add(i * n + j);
                        tile(kc, (ap, kp * 4), bp, (cp, n * 4), load);
                        continue;
                    }
                    // an edge tile: through a full one, the valid part copied in and out
                    let (rows, cols) = ((m - i).min(MR), (n - j).min(NR));
                    let mut tmp = [0.0f32; MR * NR];
                    for r in 0..rows {
                        let src = std::slice::from_raw_parts(c.add((i + r) * n + j), cols);
                        tmp[r * NR..r * NR + cols].copy_from_slice(src);
                    }
                    tile(kc, (ap, kp * 4), bp, (tmp.as_mut_ptr(), NR * 4), load);
                    for r in 0..rows {
                        let dst = std::slice::from_raw_parts_mut(c.add((i + r) * n + j), cols);
                        dst.copy_from_slice(&tmp[r * NR..r * NR + cols]);
                    }
                }
            }
        }
    }

    /// The 8 x 32 register tile over `kc` k-pairs: `c` (row stride in bytes) set to, or with
    /// `load` increased by, the products of 8 rows of packed `a` (row stride in bytes) and a
    /// 32-column panel of packed `b`. Accumulators in zmm0-15 (row `r` in `2r`, `2r + 1`), `b`
    /// in zmm16-17, the broadcast pairs of `a` in zmm18-25.
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn tile(
        kc: usize,
        (a, a_stride): (*const u32, usize),
        b: *const u32,
        (c, c_stride): (*mut f32, usize),
        load: bool,
    ) {
        let a4 = (a as *const u8).add(4 * a_stride);
        asm!(
            "test {load}, {load}",
            "jz 2f",
            "mov {t}, {c}",
            "vmovups zmm0, [{t}]", "vmovups zmm1, [{t} + 64]", "add {t}, {cs}",
            "vmovups zmm2, [{t}]", "vmovups zmm3, [{t} + 64]", "add {t}, {cs}",
            "vmovups zmm4, [{t}]", "vmovups zmm5, [{t} + 64]", "add {t}, {cs}",
            "vmovups zmm6, [{t}]", "vmovups zmm7, [{t} + 64]", "add {t}, {cs}",
            "vmovups zmm8, [{t}]", "vmovups zmm9, [{t} + 64]", "add {t}, {cs}",
            "vmovups zmm10, [{t}]", "vmovups zmm11, [{t} + 64]", "add {t}, {cs}",
            "vmovups zmm12, [{t}]", "vmovups zmm13, [{t} + 64]", "add {t}, {cs}",
            "vmovups zmm14, [{t}]", "vmovups zmm15, [{t} + 64]",
            "jmp 3f",
            "2:",
            "vpxord zmm0, zmm0, zmm0", "vpxord zmm1, zmm1, zmm1",
            "vpxord zmm2, zmm2, zmm2", "vpxord zmm3, zmm3, zmm3",
            "vpxord zmm4, zmm4, zmm4", "vpxord zmm5, zmm5, zmm5",
            "vpxord zmm6, zmm6, zmm6", "vpxord zmm7, zmm7, zmm7",
            "vpxord zmm8, zmm8, zmm8", "vpxord zmm9, zmm9, zmm9",
            "vpxord zmm10, zmm10, zmm10", "vpxord zmm11, zmm11, zmm11",
            "vpxord zmm12, zmm12, zmm12", "vpxord zmm13, zmm13, zmm13",
            "vpxord zmm14, zmm14, zmm14", "vpxord zmm15, zmm15, zmm15",
            "3:",
            "test {kc}, {kc}",
            "jz 5f",
            "4:",
            "vmovups zmm16, [{b}]",
            "vmovups zmm17, [{b} + 64]",
            "vpbroadcastd zmm18, dword ptr [{a}]",
            "vpbroadcastd zmm19, dword ptr [{a} + {s}]",
            "vpbroadcastd zmm20, dword ptr [{a} + {s} * 2]",
            "vpbroadcastd zmm21, dword ptr [{a} + {s3}]",
            "vdpbf16ps zmm0, zmm18, zmm16", "vdpbf16ps zmm1, zmm18, zmm17",
            "vdpbf16ps zmm2, zmm19, zmm16", "vdpbf16ps zmm3, zmm19, zmm17",
            "vdpbf16ps zmm4, zmm20, zmm16", "vdpbf16ps zmm5, zmm20, zmm17",
            "vdpbf16ps zmm6, zmm21, zmm16", "vdpbf16ps zmm7, zmm21, zmm17",
            "vpbroadcastd zmm22, dword ptr [{a4}]",
            "vpbroadcastd zmm23, dword ptr [{a4} + {s}]",
            "vpbroadcastd zmm24, dword ptr [{a4} + {s} * 2]",
            "vpbroadcastd zmm25, dword ptr [{a4} + {s3}]",
            "vdpbf16ps zmm8, zmm22, zmm16", "vdpbf16ps zmm9, zmm22, zmm17",
            "vdpbf16ps zmm10, zmm23, zmm16", "vdpbf16ps zmm11, zmm23, zmm17",
            "vdpbf16ps zmm12, zmm24, zmm16", "vdpbf16ps zmm13, zmm24, zmm17",
            "vdpbf16ps zmm14, zmm25, zmm16", "vdpbf16ps zmm15, zmm25, zmm17",
            "add {a}, 4",
            "add {a4}, 4",
            "add {b}, 128",
            "dec {kc}",
            "jnz 4b",
            "5:",
            "mov {t}, {c}",
            "vmovups [{t}], zmm0", "vmovups [{t} + 64], zmm1", "add {t}, {cs}",
            "vmovups [{t}], zmm2", "vmovups [{t} + 64], zmm3", "add {t}, {cs}",
            "vmovups [{t}], zmm4", "vmovups [{t} + 64], zmm5", "add {t}, {cs}",
            "vmovups [{t}], zmm6", "vmovups [{t} + 64], zmm7", "add {t}, {cs}",
            "vmovups [{t}], zmm8", "vmovups [{t} + 64], zmm9", "add {t}, {cs}",
            "vmovups [{t}], zmm10", "vmovups [{t} + 64], zmm11", "add {t}, {cs}",
            "vmovups [{t}], zmm12", "vmovups [{t} + 64], zmm13", "add {t}, {cs}",
            "vmovups [{t}], zmm14", "vmovups [{t} + 64], zmm15",
            load = in(reg) load as usize,
            t = out(reg) _,
            c = in(reg) c,
            cs = in(reg) c_stride,
            kc = inout(reg) kc => _,
            a = inout(reg) a => _,
            a4 = inout(reg) a4 => _,
            s = in(reg) a_stride,
            s3 = in(reg) 3 * a_stride,
            b = inout(reg) b => _,
            out("zmm0") _, out("zmm1") _, out("zmm2") _, out("zmm3") _,
            out("zmm4") _, out("zmm5") _, out("zmm6") _, out("zmm7") _,
            out("zmm8") _, out("zmm9") _, out("zmm10") _, out("zmm11") _,
            out("zmm12") _, out("zmm13") _, out("zmm14") _, out("zmm15") _,
            out("zmm16") _, out("zmm17") _, out("zmm18") _, out("zmm19") _,
            out("zmm20") _, out("zmm21") _, out("zmm22") _, out("zmm23") _,
            out("zmm24") _, out("zmm25") _,
            options(nostack),
        );
    }
}

#[cfg(target_arch = "x86_64")]
mod widened {
    use super::super::gemm_avx512::{self, mask, View};
    use super::*;
    use std::arch::asm;
    use std::arch::x86_64::*;

    /// The MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6).
    const FTZ_DAZ: u32 = 0x8040;

    /// Sets FTZ and DAZ on this thread until dropped, then restores the MXCSR.
    struct FlushDenormals(u32);

    impl FlushDenormals {
        fn set() -> FlushDenormals {
            let mut old = 0u32;
            // SAFETY: stores the MXCSR into `old`, then loads it with two more bits set
            unsafe {
                asm!("stmxcsr [{}]", in(reg) &mut old, options(nostack));
                let new = old | FTZ_DAZ;
                asm!("ldmxcsr [{}]", in(reg) &new, options(nostack, readonly));
            }
            FlushDenormals(old)
        }
    }

    impl Drop for FlushDenormals {
        fn drop(&mut self) {
            // SAFETY: loads the MXCSR saved by `set`
            unsafe { asm!("ldmxcsr [{}]", in(reg) &self.0, options(nostack, readonly)) }
        }
    }

    /// The f32 value of bf16 bits (exact).
    fn widen(x: u16) -> f32 {
        f32::from_bits((x as u32) << 16)
    }

    /// `a` as row-major f32 `[m, kp]`, `kp` = `k` rounded up to even, column `q` holding `a`'s
    /// column `q ^ 1` (the pair's odd element first, as `vdpbf16ps` adds it), zero past `k`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    unsafe fn widen_a((m, k): (usize, usize), (a, (rs, cs)): Bf16View<'_>) -> Vec<f32> {
        let kp = k.div_ceil(2) * 2;
        let mut out = vec![0.0f32; m * kp];
        for (i, row) in out.chunks_exact_mut(kp).enumerate() {
            if cs == 1 {
                // 16 at a time: widen, then swap the two elements of each pair
                let src = &a[i * rs..i * rs + k];
                let mut q = 0;
                while q < k {
                    let len = 16.min(k - q);
                    let bits = _mm256_maskz_loadu_epi16(mask(len), src.as_ptr().add(q).cast());
                    let wide = _mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(bits));
                    let swapped = _mm512_permute_ps::<0xb1>(_mm512_castsi512_ps(wide));
                    let out_len = 16.min(kp - q);
                    _mm512_mask_storeu_ps(row.as_mut_ptr().add(q), mask(out_len), swapped);
                    q += 16;
                }
            } else {
                for (q, v) in row.iter_mut().enumerate() {
                    if q ^ 1 < k {
                        *v = widen(a[i * rs + (q ^ 1) * cs]);
                    }
                }
            }
        }
        out
    }

    /// `b` as row-major f32 `[kp, n]`, row `q` holding `b`'s row `q ^ 1`, zero past `k`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    unsafe fn widen_b((k, n): (usize, usize), (b, (rs, cs)): Bf16View<'_>) -> Vec<f32> {
        let kp = k.div_ceil(2) * 2;
        let mut out = vec![0.0f32; kp * n];
        for (q, row) in out.chunks_exact_mut(n).enumerate() {
            if q ^ 1 >= k {
                continue;
            }
            let src = (q ^ 1) * rs;
            if cs == 1 {
                for j in (0..n).step_by(16) {
                    let len = 16.min(n - j);
                    let bits = _mm256_maskz_loadu_epi16(mask(len), b.as_ptr().add(src + j).cast());
                    let wide = _mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(bits));
                    _mm512_mask_storeu_ps(
                        row.as_mut_ptr().add(j),
                        mask(len),
                        _mm512_castsi512_ps(wide),
                    );
                }
            } else {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = widen(b[src + j * cs]);
                }
            }
        }
        out
    }

    /// The widened product: blocks of [`MC`] rows x [`NC`] columns on rayon, each under
    /// FTZ and DAZ on its thread.
    ///
    /// # Safety
    /// The CPU has AVX-512 F, BW and VL; the views reach as far as their shapes say.
    pub(super) unsafe fn gemm(
        (m, n, k): (usize, usize, usize),
        a: Bf16View<'_>,
        b: Bf16View<'_>,
        c: &mut [f32],
    ) {
        let kp = k.div_ceil(2) * 2;
        let (wa, wb) = (widen_a((m, k), a), widen_b((k, n), b));
        let tasks: Vec<(usize, usize)> = (0..m)
            .step_by(MC)
            .flat_map(|i| (0..n).step_by(NC).map(move |j| (i, j)))
            .collect();
        let out = Out(c.as_mut_ptr());
        let run = |&(i0, j0): &(usize, usize)| {
            let _flush = FlushDenormals::set();
            let (rows, cols) = (MC.min(m - i0), NC.min(n - j0));
            // SAFETY: the task's block of `c` is its own; the widened operands fit the shape
            unsafe {
                gemm_avx512::gemm(
                    (rows, cols, kp),
                    View {
                        ptr: wa.as_ptr().add(i0 * kp),
                        rs: kp,
                        cs: 1,
                    },
                    View {
                        ptr: wb.as_ptr().add(j0),
                        rs: n,
                        cs: 1,
                    },
                    View {
                        ptr: out.get().add(i0 * n + j0),
                        rs: n,
                        cs: 1,
                    },
                    false,
                )
            }
        };
        if m * n * k >= PARALLEL_WORK && tasks.len() > 1 {
            crate::threads::warm();
            tasks.par_iter().for_each(run);
        } else {
            tasks.iter().for_each(run);
        }
    }
}

#[cfg(test)]
mod tests;
