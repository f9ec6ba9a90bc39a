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
    /// AVX-512 VNNI `vpdpbusd` (needs AVX-512 VL): on 256-bit registers in [`gemm_u8i8`], on
    /// 512-bit ones in the packed GEMM.
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
        crate::threads::warm();
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
pub(super) mod x86 {
    use super::dot;
    use std::arch::asm;
    use std::arch::x86_64::*;

    /// One multiply-accumulate step of 32 u8·i8 products into 8 i32 lanes.
    pub(in super::super) trait Madd {
        unsafe fn madd(acc: __m256i, a: __m256i, b: __m256i) -> __m256i;
    }

    pub(in super::super) struct Avx2;
    impl Madd for Avx2 {
        #[inline(always)]
        unsafe fn madd(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
            let pairs = _mm256_maddubs_epi16(a, b); // never saturates: see the module docs
            _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
        }
    }

    pub(in super::super) struct Evex;
    impl Madd for Evex {
        #[inline(always)]
        unsafe fn madd(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
            dpbusd_evex(acc, a, b)
        }
    }

    pub(in super::super) struct Vex;
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

    /// The four sums of `v0..v3`'s lanes, in order: three `vphaddd` and one add.
    #[inline(always)]
    unsafe fn hsum4(v: [__m256i; 4]) -> __m128i {
        let t = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
        _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1))
    }

    #[inline(always)]
    unsafe fn load(p: *const u8) -> __m256i {
        _mm256_loadu_si256(p as *const __m256i)
    }

    /// Bytes of `b` per cache block: that many weight rows stay in the L2 cache while every row
    /// of `a` passes over them (a weight row is reloaded once per block of `a`, not per row).
    const B_BLOCK_BYTES: usize = 128 * 1024;

    /// `R` rows of `a` (at `a[r]`, `k` long) against the four rows of `b` at `b`: the `R x 4`
    /// dot products of their first `k32` columns, in registers (`4R` accumulators; `R = 2` keeps
    /// all operands in the 16 AVX2 registers). Each activation load feeds four products and
    /// each weight load `R`.
    #[inline(always)]
    unsafe fn tile<M: Madd, const R: usize>(
        a: [*const u8; R],
        b: *const u8,
        k: usize,
        k32: usize,
    ) -> [__m128i; R] {
        let mut acc = [[_mm256_setzero_si256(); 4]; R];
        let mut p = 0;
        while p < k32 {
            let mut va = [_mm256_setzero_si256(); R];
            for (v, &ar) in va.iter_mut().zip(&a) {
                *v = load(ar.add(p));
            }
            for c in 0..4 {
                let vb = load(b.add(c * k + p));
                for (accr, &v) in acc.iter_mut().zip(&va) {
                    accr[c] = M::madd(accr[c], v, vb);
                }
            }
            p += 32;
        }
        let mut out = [_mm_setzero_si128(); R];
        for (o, accr) in out.iter_mut().zip(&acc) {
            *o = hsum4(*accr);
        }
        out
    }

    /// Rows `rows` of `c` against weight rows `j0..j1` (a multiple of four from `j0`): tiles of
    /// `R x 4`, the last `k % 32` columns in scalar code.
    #[inline(always)]
    unsafe fn rows_x4<M: Madd, const R: usize>(
        i: usize,
        (j0, j1): (usize, usize),
        (n, k): (usize, usize),
        a: &[u8],
        b: &[i8],
        c: &mut [i32],
    ) {
        let k32 = k / 32 * 32;
        let bp = b.as_ptr() as *const u8;
        let mut ar = [a.as_ptr(); R];
        for (r, p) in ar.iter_mut().enumerate() {
            *p = a.as_ptr().add((i + r) * k);
        }
        for j in (j0..j1).step_by(4) {
            let sums = tile::<M, R>(ar, bp.add(j * k), k, k32);
            for (r, s) in sums.iter().enumerate() {
                let mut out = [0i32; 4];
                _mm_storeu_si128(out.as_mut_ptr() as *mut __m128i, *s);
                let arow = &a[(i + r) * k + k32..(i + r + 1) * k];
                for (q, v) in out.iter().enumerate() {
                    let brow = &b[(j + q) * k + k32..(j + q + 1) * k];
                    c[(i + r) * n + j + q] = v + dot(arow, brow);
                }
            }
        }
    }

    /// Cache-blocked over the rows of `b` ([`B_BLOCK_BYTES`]); within a block, `2 x 4` register
    /// tiles (an odd last row of `a` in `1 x 4` tiles), the last `n % 4` rows of `b` one by one.
    #[inline(always)]
    unsafe fn body<M: Madd>(m: usize, n: usize, k: usize, a: &[u8], b: &[i8], c: &mut [i32]) {
        let k32 = k / 32 * 32;
        let n4 = n / 4 * 4;
        let block = (B_BLOCK_BYTES / k.max(1)).max(4) / 4 * 4;
        for j0 in (0..n4).step_by(block) {
            let j1 = (j0 + block).min(n4);
            let mut i = 0;
            while i + 2 <= m {
                rows_x4::<M, 2>(i, (j0, j1), (n, k), a, b, c);
                i += 2;
            }
            if i < m {
                rows_x4::<M, 1>(i, (j0, j1), (n, k), a, b, c);
            }
        }
        let bp = b.as_ptr() as *const u8;
        for i in 0..m {
            let ar = &a[i * k..(i + 1) * k];
            for j in n4..n {
                let row = &b[j * k..(j + 1) * k];
                let mut acc = _mm256_setzero_si256();
                for p in (0..k32).step_by(32) {
                    acc = M::madd(acc, load(ar.as_ptr().add(p)), load(bp.add(j * k + p)));
                }
                let s = hsum4([acc, acc, acc, acc]);
                c[i * n + j] = _mm_cvtsi128_si32(s) + dot(&ar[k32..], &row[k32..]);
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
            (7, 21, 9000),  // weight rows in two cache blocks (12 + 8) and a scalar tail row
            (3, 8, 40000),  // the smallest block: four rows
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
