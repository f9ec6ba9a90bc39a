//! The AVX-512 VNNI micro-kernel on 512-bit registers. The packed layout's four `k` of a 16-column
//! panel are 64 bytes, one `zmm` register, so the same [`PackedWeights`] serve: the tile is
//! [`ROWS`] rows by [`PANELS`] panels (8 x 32), sixteen `zmm` sums; per group of four `k` it loads
//! one register per panel and, per row, broadcasts the row's four activations and issues one
//! `vpdpbusd` per panel (64 products each). Server cores issue two 512-bit `vpdpbusd` per cycle,
//! as many as 256-bit ones, so this tile does twice the products per cycle of the `4 x 16` one;
//! cores that split 512-bit operations in two (AMD Zen 4) lose nothing by it.
//!
//! With one or two rows (batch 1) a tile of one row by two panels would be two dependency chains,
//! too few to hide `vpdpbusd`'s latency, so such products take [`SMALL_PANELS`] panels at once.

use super::{PackedWeights, Sink, MR, NR};
use std::arch::asm;
use std::arch::x86_64::*;

/// Rows of the tile.
const ROWS: usize = 8;
/// Panels of the tile (32 columns: their packed weights, `32 · k` bytes, stay in the L1 cache
/// while the rows pass over them).
const PANELS: usize = 2;
/// Panels taken at once when there are at most two rows.
const SMALL_PANELS: usize = 8;

type Range = (usize, usize);

/// Rows `i0..i1` against panels `p0..p1` in `ROWS x PANELS` tiles (smaller ones at the edges).
///
/// # Safety
/// The CPU has AVX-512 F and VNNI; the rows and panels lie in `a` and `w` (checked by `gemm`).
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512vnni")]
pub(super) unsafe fn body(
    (i0, i1): Range,
    (p0, p1): Range,
    a: &[u8],
    lda: usize,
    w: &PackedWeights,
    sink: &impl Sink,
) {
    let kq = w.k.div_ceil(4);
    let group = if i1 - i0 <= 2 { SMALL_PANELS } else { PANELS };
    let mut panel = p0;
    while panel < p1 {
        let np = if p1 - panel >= group { group } else { 1 };
        let b = w.data.as_ptr().add(panel * kq * NR * 4) as *const u8;
        let mut i = i0;
        while i < i1 {
            let rows = [ROWS, 4, 2, 1]
                .into_iter()
                .find(|&r| r <= i1 - i)
                .expect("a row is left");
            let t = Tile {
                a: a.as_ptr().add(i * lda),
                lda,
                b,
                kq,
            };
            match (rows, np) {
                (8, 1) => t.run::<8, 1>(i, panel, w.n, sink),
                (4, 1) => t.run::<4, 1>(i, panel, w.n, sink),
                (2, 1) => t.run::<2, 1>(i, panel, w.n, sink),
                (1, 1) => t.run::<1, 1>(i, panel, w.n, sink),
                (8, PANELS) => t.run::<8, PANELS>(i, panel, w.n, sink),
                (4, PANELS) => t.run::<4, PANELS>(i, panel, w.n, sink),
                (2, PANELS) => t.run::<2, PANELS>(i, panel, w.n, sink),
                (1, PANELS) => t.run::<1, PANELS>(i, panel, w.n, sink),
                (2, _) => t.run::<2, SMALL_PANELS>(i, panel, w.n, sink),
                _ => t.run::<1, SMALL_PANELS>(i, panel, w.n, sink),
            }
            i += rows;
        }
        panel += np;
    }
}

/// Where one tile's operands start: `a` its first row (rows `lda` apart), `b` its first panel
/// (panels `kq · 64` bytes apart).
struct Tile {
    a: *const u8,
    lda: usize,
    b: *const u8,
    kq: usize,
}

impl Tile {
    /// The `R x 16P` sums of rows `i..i + R` and panels `panel..panel + P`, handed to `sink` in
    /// `4 x 16` pieces (columns past `n` are padding).
    #[inline(always)]
    unsafe fn run<const R: usize, const P: usize>(
        &self,
        i: usize,
        panel: usize,
        n: usize,
        sink: &impl Sink,
    ) {
        let acc = self.sums::<R, P>();
        for (pp, j) in (0..P).map(|pp| (pp, (panel + pp) * NR)) {
            let cols = (n - j).min(NR);
            for r0 in (0..R).step_by(MR) {
                let rows = (R - r0).min(MR);
                let mut out = [[0i32; NR]; MR];
                for (o, accr) in out.iter_mut().zip(&acc[r0..r0 + rows]) {
                    _mm512_storeu_si512(o.as_mut_ptr() as *mut _, accr[pp]);
                }
                sink.tile(i + r0, j, rows, cols, &out);
            }
        }
    }

    /// The sums, in `R · P` registers.
    #[inline(always)]
    unsafe fn sums<const R: usize, const P: usize>(&self) -> [[__m512i; P]; R] {
        let panel_bytes = self.kq * NR * 4;
        let mut acc = [[_mm512_setzero_si512(); P]; R];
        for q in 0..self.kq {
            let mut wv = [_mm512_setzero_si512(); P];
            for (pp, v) in wv.iter_mut().enumerate() {
                *v = _mm512_loadu_si512(self.b.add(pp * panel_bytes + q * 64) as *const _);
            }
            for (r, accr) in acc.iter_mut().enumerate() {
                let four = (self.a.add(r * self.lda + q * 4) as *const i32).read_unaligned();
                let av = _mm512_set1_epi32(four);
                for (s, &v) in accr.iter_mut().zip(&wv) {
                    *s = dpbusd(*s, av, v);
                }
            }
        }
        acc
    }
}

/// `acc + Σ` of four u8·i8 products per i32 lane (`vpdpbusd`, by inline assembly as the 256-bit
/// paths do).
#[inline]
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn dpbusd(mut acc: __m512i, a: __m512i, b: __m512i) -> __m512i {
    asm!("vpdpbusd {acc}, {a}, {b}", acc = inout(zmm_reg) acc, a = in(zmm_reg) a,
         b = in(zmm_reg) b, options(pure, nomem, nostack));
    acc
}
