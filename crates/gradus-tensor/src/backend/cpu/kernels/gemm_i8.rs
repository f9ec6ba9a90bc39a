//! int8 GEMM with i32 accumulation, for quantized inference: `c[i][j] = Σ_p a[i][p] · b[j][p]`
//! with `a` unsigned 8-bit activations (`[m, k]`, row-major) and `b` signed 8-bit weights
//! (`[n, k]`, row-major: PyTorch's `Linear.weight` layout), `c` `[m, n]` i32.
//!
//! One reference ([`Int8Path::Portable`], plain integer loops) and fast paths chosen at run time:
//! AVX2 (`vpmaddubsw` u8·i8 → i16 pairs, then `vpmaddwd` by ones → i32, as fbgemm and oneDNN do
//! without VNNI) and VNNI (`vpdpbusd`: four u8·i8 products summed into each i32 lane in one
//! instruction; AVX-512 VNNI on 256-bit registers, or AVX-VNNI). All paths compute the same
//! integers bit for bit, given the precondition below.
//!
//! **Precondition** (what the quantizer guarantees): activations in `0..=127` and weights in
//! `-127..=127`. `vpmaddubsw` saturates its i16 pair sums; with these ranges a pair is at most
//! `2 · 127 · 127 = 32258 < 32767`, so it never does (PyTorch's fbgemm backend quantizes
//! activations to 7 bits, `reduce_range=True`, for the same reason).

/// Which instructions compute the products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Int8Path {
    /// Plain integer loops: the reference every other path equals.
    Portable,
    /// AVX2 `vpmaddubsw` + `vpmaddwd`.
    Avx2,
    /// AVX-512 VNNI `vpdpbusd` on 256-bit registers (needs AVX-512 VL).
    Avx512Vnni,
    /// AVX-VNNI (VEX-encoded) `vpdpbusd`.
    AvxVnni,
}

impl Int8Path {
    /// Whether this CPU can run the path.
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            match self {
                Int8Path::Portable => true,
                Int8Path::Avx2 => has!("avx2"),
                Int8Path::Avx512Vnni => {
                    has!("avx2") && has!("avx512f") && has!("avx512vl") && has!("avx512vnni")
                }
                Int8Path::AvxVnni => has!("avx2") && has!("avxvnni"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Int8Path::Portable
        }
    }

    /// The fastest path this CPU has: VNNI, else AVX2, else portable.
    pub fn best() -> Int8Path {
        [Int8Path::Avx512Vnni, Int8Path::AvxVnni, Int8Path::Avx2]
            .into_iter()
            .find(|p| p.available())
            .unwrap_or(Int8Path::Portable)
    }

    /// Every path this CPU can run, the portable one first.
    pub fn all_available() -> Vec<Int8Path> {
        [
            Int8Path::Portable,
            Int8Path::Avx2,
            Int8Path::Avx512Vnni,
            Int8Path::AvxVnni,
        ]
        .into_iter()
        .filter(|p| p.available())
        .collect()
    }
}

/// Multiply-accumulate work (`m · n · k`) above which rows of `c` are split across threads.
const PARALLEL_WORK: usize = 1 << 21;

/// `c = a · bᵀ` in i32 with the [fastest path](Int8Path::best): `a` `[m, k]` u8, `b` `[n, k]` i8,
/// `c` `[m, n]`.
///
/// ```
/// use gradus_tensor::gemm_i8::gemm_u8i8;
/// let (a, b) = ([1u8, 2, 3, 4, 5, 6], [1i8, -1, 2]); // a: [2, 3], b: [1, 3]
/// let mut c = [0i32; 2];
/// gemm_u8i8(2, 1, 3, &a, &b, &mut c);
/// assert_eq!(c, [1 - 2 + 6, 4 - 5 + 12]);
/// ```
///
/// # Panics
/// When a slice is shorter than its shape says.
pub fn gemm_u8i8(m: usize, n: usize, k: usize, a: &[u8], b: &[i8], c: &mut [i32]) {
    gemm_u8i8_with(Int8Path::best(), m, n, k, a, b, c)
}

/// [`gemm_u8i8`] on a chosen path (tests compare paths); an unavailable path falls back to
/// [`Int8Path::Portable`].
///
/// # Panics
/// When a slice is shorter than its shape says.
pub fn gemm_u8i8_with(
    path: Int8Path,
    m: usize,
    n: usize,
    k: usize,
    a: &[u8],
    b: &[i8],
    c: &mut [i32],
) {
    assert!(
        a.len() >= m * k && b.len() >= n * k && c.len() >= m * n,
        "gemm_u8i8: slices shorter than [{m}, {k}] x [{n}, {k}] -> [{m}, {n}]"
    );
    let path = if path.available() {
        path
    } else {
        Int8Path::Portable
    };
    if m == 0 || n == 0 {
        return;
    }
    let rows = |i0: usize, c: &mut [i32]| {
        let a = &a[i0 * k..];
        let m = c.len() / n;
        rows_on(path, m, n, k, a, b, c)
    };
    if m > 1 && m * n * k >= PARALLEL_WORK {
        use rayon::prelude::*;
        let per = m.div_ceil(rayon::current_num_threads() * 2).max(1);
        c[..m * n]
            .par_chunks_mut(per * n)
            .enumerate()
            .for_each(|(t, c)| rows(t * per, c));
    } else {
        rows(0, &mut c[..m * n]);
    }
}

fn rows_on(path: Int8Path, m: usize, n: usize, k: usize, a: &[u8], b: &[i8], c: &mut [i32]) {
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `path` is available on this CPU (checked by the caller).
        Int8Path::Avx2 => unsafe { x86::avx2(m, n, k, a, b, c) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Int8Path::Avx512Vnni => unsafe { x86::avx512_vnni(m, n, k, a, b, c) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Int8Path::AvxVnni => unsafe { x86::avx_vnni(m, n, k, a, b, c) },
        _ => portable(m, n, k, a, b, c),
    }
}

/// The reference: exact i32 dot products.
fn portable(m: usize, n: usize, k: usize, a: &[u8], b: &[i8], c: &mut [i32]) {
    for i in 0..m {
        let ar = &a[i * k..(i + 1) * k];
        for j in 0..n {
            c[i * n + j] = dot(ar, &b[j * k..(j + 1) * k]);
        }
    }
}

fn dot(a: &[u8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(&x, &w)| x as i32 * w as i32).sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::dot;
    use std::arch::asm;
    use std::arch::x86_64::*;

    /// One multiply-accumulate step of 32 u8·i8 products into 8 i32 lanes.
    trait Madd {
        unsafe fn madd(acc: __m256i, a: __m256i, b: __m256i) -> __m256i;
    }

    struct Avx2;
    impl Madd for Avx2 {
        #[inline(always)]
        unsafe fn madd(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
            let pairs = _mm256_maddubs_epi16(a, b); // never saturates: see the module docs
            _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
        }
    }

    struct Evex;
    impl Madd for Evex {
        #[inline(always)]
        unsafe fn madd(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
            dpbusd_evex(acc, a, b)
        }
    }

    struct Vex;
    impl Madd for Vex {
        #[inline(always)]
        unsafe fn madd(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
            dpbusd_vex(acc, a, b)
        }
    }

    // `vpdpbusd` by inline assembly: its intrinsics are newer than the crate's minimum Rust
    #[inline]
    #[target_feature(enable = "avx2,avx512f,avx512vl,avx512vnni")]
    unsafe fn dpbusd_evex(mut acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        asm!("vpdpbusd {acc}, {a}, {b}", acc = inout(ymm_reg) acc, a = in(ymm_reg) a,
             b = in(ymm_reg) b, options(pure, nomem, nostack));
        acc
    }

    #[inline]
    #[target_feature(enable = "avx2,avxvnni")]
    unsafe fn dpbusd_vex(mut acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        asm!("{{vex}} vpdpbusd {acc}, {a}, {b}", acc = inout(ymm_reg) acc,
             a = in(ymm_reg) a, b = in(ymm_reg) b, options(pure, nomem, nostack));
        acc
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2(m: usize, n: usize, k: usize, a: &[u8], b: &[i8], c: &mut [i32]) {
        body::<Avx2>(m, n, k, a, b, c)
    }

    #[target_feature(enable = "avx2,avx512f,avx512vl,avx512vnni")]
    pub(super) unsafe fn avx512_vnni(
        m: usize,
        n: usize,
        k: usize,
        a: &[u8],
        b: &[i8],
        c: &mut [i32],
    ) {
        body::<Evex>(m, n, k, a, b, c)
    }

    #[target_feature(enable = "avx2,avxvnni")]
    pub(super) unsafe fn avx_vnni(m: usize, n: usize, k: usize, a: &[u8], b: &[i8], c: &mut [i32]) {
        body::<Vex>(m, n, k, a, b, c)
    }

    #[inline(always)]
    unsafe fn hsum(v: __m256i) -> i32 {
        let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
        _mm_cvtsi128_si32(s)
    }

    #[inline(always)]
    unsafe fn load(p: *const u8) -> __m256i {
        _mm256_loadu_si256(p as *const __m256i)
    }

    /// Each row of `a` against four rows of `b` at a time (one activation load feeds four
    /// products); the last `k % 32` columns and `n % 4` rows in scalar code.
    #[inline(always)]
    unsafe fn body<M: Madd>(m: usize, n: usize, k: usize, a: &[u8], b: &[i8], c: &mut [i32]) {
        let k32 = k / 32 * 32;
        let n4 = n / 4 * 4;
        let bp = b.as_ptr() as *const u8;
        for i in 0..m {
            let ar = &a[i * k..(i + 1) * k];
            let cr = &mut c[i * n..(i + 1) * n];
            for j in (0..n4).step_by(4) {
                let mut acc = [_mm256_setzero_si256(); 4];
                for p in (0..k32).step_by(32) {
                    let va = load(ar.as_ptr().add(p));
                    for (r, acc) in acc.iter_mut().enumerate() {
                        *acc = M::madd(*acc, va, load(bp.add((j + r) * k + p)));
                    }
                }
                for (r, acc) in acc.iter().enumerate() {
                    let row = &b[(j + r) * k..(j + r + 1) * k];
                    cr[j + r] = hsum(*acc) + dot(&ar[k32..], &row[k32..]);
                }
            }
            for j in n4..n {
                let row = &b[j * k..(j + 1) * k];
                let mut acc = _mm256_setzero_si256();
                for p in (0..k32).step_by(32) {
                    acc = M::madd(acc, load(ar.as_ptr().add(p)), load(bp.add(j * k + p)));
                }
                cr[j] = hsum(acc) + dot(&ar[k32..], &row[k32..]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;

    fn operands(m: usize, n: usize, k: usize, seed: u64) -> (Vec<u8>, Vec<i8>) {
        let mut rng = Rng::seed(seed);
        let u = rng.uniform(&[m * k + n * k], 0.0, 1.0, crate::DType::F64);
        let u = u.to_vec_f64();
        // the extremes of the allowed ranges included, so a saturating or truncating path shows
        let a = u[..m * k]
            .iter()
            .enumerate()
            .map(|(i, x)| if i % 7 == 0 { 127 } else { (x * 128.0) as u8 })
            .collect();
        let b = u[m * k..]
            .iter()
            .enumerate()
            .map(|(i, x)| match i % 5 {
                0 => -127,
                1 => 127,
                _ => (x * 254.0 - 127.0) as i8,
            })
            .collect();
        (a, b)
    }

    #[test]
    fn every_available_path_equals_the_portable_one_on_odd_shapes() {
        let paths = Int8Path::all_available();
        eprintln!("int8 GEMM paths on this CPU: {paths:?}");
        for &(m, n, k) in &[
            (1, 1, 1),
            (1, 5, 31),
            (3, 7, 33),
            (2, 4, 64),
            (5, 13, 95),
            (1, 10, 784),
            (17, 9, 400),
            (64, 130, 300), // above PARALLEL_WORK: the threaded split
            (0, 3, 4),
            (3, 0, 4),
            (2, 3, 0),
        ] {
            let (a, b) = operands(m, n, k, (m * 1000 + n * 10 + k) as u64);
            let mut want = vec![i32::MIN; m * n];
            portable(m, n, k, &a, &b, &mut want);
            for &path in &paths {
                let mut got = vec![i32::MIN; m * n];
                gemm_u8i8_with(path, m, n, k, &a, &b, &mut got);
                assert_eq!(got, want, "{path:?} on [{m}, {k}] x [{n}, {k}]");
            }
        }
    }

    #[test]
    fn the_portable_path_is_exact_at_the_range_limits() {
        let k = 1000;
        let (a, b) = (vec![127u8; k], vec![-127i8; k]);
        let mut c = [0];
        gemm_u8i8_with(Int8Path::Portable, 1, 1, k, &a, &b, &mut c);
        assert_eq!(c[0], -127 * 127 * 1000);
        for path in Int8Path::all_available() {
            let mut d = [0];
            gemm_u8i8_with(path, 1, 1, k, &a, &b, &mut d);
            assert_eq!(d, c, "{path:?}");
        }
    }
}
