//! int8 GEMM on weights packed once, at quantize time, in the layout of its micro-kernel:
//! `c[i][j] = Σ_p a[i][p] · w[j][p]`, `a` u8 activations `[m, k]` (rows `lda` apart), `w` the i8
//! weights `[n, k]` (PyTorch's `Linear.weight` layout), with the result handed to an epilogue
//! ([`Sink`]) tile by tile instead of being written out as an i32 matrix.
//!
//! The layout ([`PackedWeights`]) is the one fbgemm and oneDNN use for `vpdpbusd`: panels of
//! [`NR`] = 16 output columns; within a panel, for each group of four `k`, the 16 columns' four
//! weights side by side (64 bytes, two registers). The micro-kernel holds a `4 x 16` tile of i32
//! sums in eight registers; per group of four `k` it loads the two weight registers once and, for
//! each of its four rows, broadcasts the row's four activations and adds four products into
//! each of 16 lanes: AVX2 `vpmaddubsw` (u8·i8 pairs → i16) then `vpmaddwd` by ones (→ i32), or
//! one AVX-VNNI `vpdpbusd`. The AVX-512 VNNI path reads the same layout into an `8 x 32` tile of
//! 512-bit registers (the `zmm` module: a panel's four `k` are one register). `k` is padded to a
//! multiple of four with zero weights and `n` to a multiple of 16 with zero columns, so there is
//! no scalar tail.
//!
//! **Precondition** (what the quantizer guarantees, as for `gradus_tensor::gemm_i8`): activations
//! in `0..=127`, weights in `-127..=127`; then `vpmaddubsw`'s i16 pair sums (at most
//! `2 · 127 · 127 = 32258`) never saturate and every path computes the exact integer sums, the
//! same as [`reference`].

use super::gemm_i8::Int8Path;
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
mod zmm;

/// Output columns per panel (two 8-lane i32 registers).
pub const NR: usize = 16;
/// Rows of the 256-bit micro-kernel's register tile (and of the tiles handed to a [`Sink`]).
pub const MR: usize = 4;

/// Multiply-accumulate work (`m · n · k`) from which the product is split across threads.
const PARALLEL_WORK: usize = 1 << 18;

/// Weights `[n, k]` in the micro-kernel's layout: `[panels][k_padded / 4][NR][4]` i8 (zeros in
/// the padding).
#[derive(Clone, Debug, PartialEq)]
pub struct PackedWeights {
    data: Vec<i8>,
    n: usize,
    k: usize,
}

impl PackedWeights {
    /// Packs the row-major `[n, k]` weights `w`.
    ///
    /// ```
    /// use gradus_tensor::packed_gemm::PackedWeights;
    /// let p = PackedWeights::pack(&[1, 2, 3, 4, 5, 6], 2, 3);
    /// assert_eq!((p.n(), p.k(), p.k_padded()), (2, 3, 4));
    /// ```
    ///
    /// # Panics
    /// When `w` is shorter than `n · k`.
    pub fn pack(w: &[i8], n: usize, k: usize) -> PackedWeights {
        assert!(
            w.len() >= n * k,
            "PackedWeights: {} values for [{n}, {k}]",
            w.len()
        );
        let kq = k.div_ceil(4);
        let panels = n.div_ceil(NR);
        let mut data = vec![0i8; panels * kq * NR * 4];
        for j in 0..n {
            let (panel, col) = (j / NR, j % NR);
            for (p, &v) in w[j * k..(j + 1) * k].iter().enumerate() {
                data[((panel * kq + p / 4) * NR + col) * 4 + p % 4] = v;
            }
        }
        PackedWeights { data, n, k }
    }

    /// Output columns `n`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Inner dimension `k`.
    pub fn k(&self) -> usize {
        self.k
    }

    /// `k` rounded up to a multiple of four: each activation row must have this many readable
    /// bytes (what lies past `k` is multiplied by zero weights).
    pub fn k_padded(&self) -> usize {
        self.k.div_ceil(4) * 4
    }

    fn panels(&self) -> usize {
        self.n.div_ceil(NR)
    }

    /// The weight of column `j` at `p`, read from the packed layout (the portable path).
    fn at(&self, j: usize, p: usize) -> i8 {
        let kq = self.k.div_ceil(4);
        self.data[((j / NR * kq + p / 4) * NR + j % NR) * 4 + p % 4]
    }
}

/// Where the products go: the kernel hands over each tile of i32 sums.
pub trait Sink: Sync {
    /// The sums of rows `i..i + rows` and columns `j..j + cols` (`rows ≤ MR`, `cols ≤ NR`; entries
    /// past them are padding): `acc[r][c]` is `c[i + r][j + c]`.
    ///
    /// # Safety
    /// Tiles handed to concurrent calls never overlap; an implementation that writes through a
    /// shared pointer relies on it.
    unsafe fn tile(&self, i: usize, j: usize, rows: usize, cols: usize, acc: &[[i32; NR]; MR]);
}

/// A [`Sink`] that stores the plain i32 sums into `c` `[m, n]` (tests, benchmarks).
pub struct I32Sink {
    c: *mut i32,
    n: usize,
}

// SAFETY: tiles written by concurrent calls are disjoint (the `Sink` contract).
unsafe impl Sync for I32Sink {}

impl Sink for I32Sink {
    #[inline(always)]
    unsafe fn tile(&self, i: usize, j: usize, rows: usize, cols: usize, acc: &[[i32; NR]; MR]) {
        for (r, accr) in acc.iter().enumerate().take(rows) {
            let out = std::slice::from_raw_parts_mut(self.c.add((i + r) * self.n + j), cols);
            out.copy_from_slice(&accr[..cols]);
        }
    }
}

/// `c = a · wᵀ` in i32 with the [fastest path](Int8Path::best): `a` `[m, k]` (rows `lda` apart),
/// `c` `[m, n]`.
///
/// ```
/// use gradus_tensor::packed_gemm::{gemm_i32, PackedWeights};
/// use gradus_tensor::gemm_i8::Int8Path;
/// let w = PackedWeights::pack(&[1, -1, 2], 1, 3); // [1, 3]
/// let a = [1u8, 2, 3, 0, 4, 5, 6, 0]; // [2, 3], rows 4 apart
/// let mut c = [0i32; 2];
/// gemm_i32(Int8Path::best(), 2, &a, 4, &w, &mut c);
/// assert_eq!(c, [1 - 2 + 6, 4 - 5 + 12]);
/// ```
///
/// # Panics
/// When `lda < w.k_padded()` or a slice is shorter than its shape says.
pub fn gemm_i32(path: Int8Path, m: usize, a: &[u8], lda: usize, w: &PackedWeights, c: &mut [i32]) {
    assert!(
        c.len() >= m * w.n,
        "gemm_i32: c holds {} < {m} x {}",
        c.len(),
        w.n
    );
    let sink = I32Sink {
        c: c.as_mut_ptr(),
        n: w.n,
    };
    gemm(path, m, a, lda, w, &sink);
}

/// `a · wᵀ` on `path` (an unavailable one falls back to [`Int8Path::Portable`]), tile by tile into
/// `sink`; split across the rayon pool's threads when the product is large enough.
///
/// # Panics
/// When `lda < w.k_padded()` or `a` is shorter than `(m - 1) · lda + w.k_padded()`.
pub fn gemm(path: Int8Path, m: usize, a: &[u8], lda: usize, w: &PackedWeights, sink: &impl Sink) {
    let kp = w.k_padded();
    assert!(
        m == 0 || (lda >= kp && a.len() >= (m - 1) * lda + kp),
        "packed int8 GEMM: activations of {} bytes, rows {lda} apart, for [{m}, {kp}]",
        a.len()
    );
    let path = if path.available() {
        path
    } else {
        Int8Path::Portable
    };
    let panels = w.panels();
    if m == 0 || panels == 0 {
        return;
    }
    let threads = rayon::current_num_threads();
    // one row runs on one thread: waking others costs more than its product (batch 1)
    if threads == 1 || m == 1 || m * w.n * w.k < PARALLEL_WORK {
        block(path, (0, m), (0, panels), a, lda, w, sink);
        return;
    }
    // about two tasks per thread: whole rows when there are enough, else column panels
    let row_blocks = m.div_ceil(MR);
    let row_tasks = row_blocks.min(2 * threads);
    let panel_tasks = (2 * threads).div_ceil(row_tasks).min(panels);
    let (rows_per, panels_per) = (
        row_blocks.div_ceil(row_tasks) * MR,
        panels.div_ceil(panel_tasks),
    );
    crate::threads::warm();
    (0..row_tasks * panel_tasks).into_par_iter().for_each(|t| {
        let (i0, p0) = (t / panel_tasks * rows_per, t % panel_tasks * panels_per);
        if i0 < m && p0 < panels {
            let rows = (i0, (i0 + rows_per).min(m));
            block(
                path,
                rows,
                (p0, (p0 + panels_per).min(panels)),
                a,
                lda,
                w,
                sink,
            );
        }
    });
}

/// Rows `i0..i1` against panels `p0..p1`, panel by panel (the panel, `16 · k` bytes, stays in the
/// L1 cache while the rows pass over it).
fn block(
    path: Int8Path,
    (i0, i1): (usize, usize),
    (p0, p1): (usize, usize),
    a: &[u8],
    lda: usize,
    w: &PackedWeights,
    sink: &impl Sink,
) {
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `path` is available on this CPU (checked by `gemm`); the bounds by `gemm`.
        Int8Path::Avx2 => unsafe { x86::avx2((i0, i1), (p0, p1), a, lda, w, sink) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Int8Path::Avx512Vnni => unsafe { zmm::body((i0, i1), (p0, p1), a, lda, w, sink) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Int8Path::AvxVnni => unsafe { x86::avx_vnni((i0, i1), (p0, p1), a, lda, w, sink) },
        _ => portable((i0, i1), (p0, p1), a, lda, w, sink),
    }
}

/// Plain integer loops over the packed layout, in the same tiles.
fn portable(
    (i0, i1): (usize, usize),
    (p0, p1): (usize, usize),
    a: &[u8],
    lda: usize,
    w: &PackedWeights,
    sink: &impl Sink,
) {
    for panel in p0..p1 {
        let (j, cols) = (panel * NR, (w.n - panel * NR).min(NR));
        for i in (i0..i1).step_by(MR) {
            let rows = (i1 - i).min(MR);
            let mut acc = [[0i32; NR]; MR];
            for (r, accr) in acc.iter_mut().enumerate().take(rows) {
                let ar = &a[(i + r) * lda..(i + r) * lda + w.k];
                for (c, s) in accr.iter_mut().enumerate().take(cols) {
                    *s = ar
                        .iter()
                        .enumerate()
                        .map(|(p, &x)| x as i32 * w.at(j + c, p) as i32)
                        .sum();
                }
            }
            // SAFETY: this call's tiles are its own (the caller splits disjoint blocks).
            unsafe { sink.tile(i, j, rows, cols, &acc) };
        }
    }
}

/// The definition on unpacked operands: `c[i][j] = Σ_p a[i][p] · w[j][p]`, `a` `[m, k]`, `w`
/// `[n, k]`, `c` `[m, n]` (what every path must equal).
pub fn reference(m: usize, n: usize, k: usize, a: &[u8], w: &[i8], c: &mut [i32]) {
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = a[i * k..(i + 1) * k]
                .iter()
                .zip(&w[j * k..(j + 1) * k])
                .map(|(&x, &v)| x as i32 * v as i32)
                .sum();
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::gemm_i8::x86::{Avx2, Madd, Vex};
    use super::{PackedWeights, Sink, MR, NR};
    use std::arch::x86_64::*;

    type Rows = (usize, usize);

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2(
        i: Rows,
        p: Rows,
        a: &[u8],
        lda: usize,
        w: &PackedWeights,
        s: &impl Sink,
    ) {
        body::<Avx2>(i, p, a, lda, w, s)
    }

    #[target_feature(enable = "avx2,avxvnni")]
    pub(super) unsafe fn avx_vnni(
        i: Rows,
        p: Rows,
        a: &[u8],
        lda: usize,
        w: &PackedWeights,
        s: &impl Sink,
    ) {
        body::<Vex>(i, p, a, lda, w, s)
    }

    /// Panel by panel; within a panel, `4 x 16` register tiles down the rows (the last rows in a
    /// `1..=3 x 16` tile).
    #[inline(always)]
    unsafe fn body<M: Madd>(
        (i0, i1): Rows,
        (p0, p1): Rows,
        a: &[u8],
        lda: usize,
        w: &PackedWeights,
        sink: &impl Sink,
    ) {
        let kq = w.k.div_ceil(4);
        for panel in p0..p1 {
            let (j, cols) = (panel * NR, (w.n - panel * NR).min(NR));
            let b = w.data.as_ptr().add(panel * kq * NR * 4) as *const u8;
            let mut i = i0;
            while i < i1 {
                let rows = (i1 - i).min(MR);
                let ap = a.as_ptr().add(i * lda);
                let acc = match rows {
                    4 => tile::<M, 4>(ap, lda, b, kq),
                    3 => tile::<M, 3>(ap, lda, b, kq),
                    2 => tile::<M, 2>(ap, lda, b, kq),
                    _ => tile::<M, 1>(ap, lda, b, kq),
                };
                sink.tile(i, j, rows, cols, &acc);
                i += rows;
            }
        }
    }

    /// `R` rows of `a` (at `a`, `lda` apart) against one packed panel at `b`: the `R x 16` sums,
    /// in `2R` registers, stored to an `MR x NR` array (rows past `R` zero).
    #[inline(always)]
    unsafe fn tile<M: Madd, const R: usize>(
        a: *const u8,
        lda: usize,
        b: *const u8,
        kq: usize,
    ) -> [[i32; NR]; MR] {
        let mut acc = [[_mm256_setzero_si256(); 2]; R];
        for q in 0..kq {
            let b0 = _mm256_loadu_si256(b.add(q * 64) as *const __m256i);
            let b1 = _mm256_loadu_si256(b.add(q * 64 + 32) as *const __m256i);
            for (r, accr) in acc.iter_mut().enumerate() {
                let four = (a.add(r * lda + q * 4) as *const i32).read_unaligned();
                let av = _mm256_set1_epi32(four);
                accr[0] = M::madd(accr[0], av, b0);
                accr[1] = M::madd(accr[1], av, b1);
            }
        }
        let mut out = [[0i32; NR]; MR];
        for (o, accr) in out.iter_mut().zip(&acc) {
            _mm256_storeu_si256(o.as_mut_ptr() as *mut __m256i, accr[0]);
            _mm256_storeu_si256(o.as_mut_ptr().add(8) as *mut __m256i, accr[1]);
        }
        out
    }
}
