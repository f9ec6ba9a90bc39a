//! f32 GEMM on AVX-512F: `c[m, n] = a[m, k] @ b[k, n]` (or `c += a @ b`) for strided views of
//! all three, sequential, each sum one in-order chain of fused multiply-adds: the kernel behind
//! the bf16 GEMM's widened path ([`super::gemm_bf16`]). (The f32 matmul runs on `faer`, which
//! was as fast on the benchmark's products: see BENCHMARKS.md.)
//!
//! The blocking is the one of BLIS and GotoBLAS (Goto & van de Geijn, "Anatomy of
//! high-performance matrix multiplication", 2008; Van Zee & van de Geijn, "BLIS", 2015): `k` in
//! blocks of [`KC`]; per block, `b` packed into 32-column micro-panels (`[KC][NR]`, one panel
//! stays in L1 while it meets every row tile) and `a` into 14-row micro-panels (`[KC][MR]`), in
//! blocks of [`MC`] rows (in L2). The micro-kernel holds a `14 x 32` tile of `c` in 28 zmm
//! registers; per `k` it loads the two `b` registers and multiplies each by the 14 broadcast
//! elements of the `a` column, one fused multiply-add each. Packing reads any strides, so
//! `xᵀ @ g` and `g @ wᵀ` run the same kernel as `x @ w`.
//!
//! Every element of `c` is one chain of fused multiply-adds over `k` in order: from zero (or
//! from `c`'s value when accumulating), each block continuing from the sum the block before it
//! stored. So the bits depend on the values alone, not on the blocking, the panel or the thread
//! that computes the element.

use std::arch::x86_64::*;
use std::cell::RefCell;

/// Rows of the register tile.
pub(crate) const MR: usize = 14;
/// Columns of the register tile: two zmm registers of f32.
pub(crate) const NR: usize = 32;
/// `k` per block: a packed `b` micro-panel is `KC · NR · 4` = 32 KiB, an `a` micro-panel 14 KiB.
pub(crate) const KC: usize = 256;
/// Rows of `a` packed at a time: `MC · KC · 4` = 168 KiB, in L2.
const MC: usize = 12 * MR;

thread_local! {
    /// Each thread's packing buffers (`a` block, `b` block), reused across products.
    static PACK: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// A strided view: element (i, j) at `ptr + i * rs + j * cs`.
#[derive(Clone, Copy)]
pub(crate) struct View<P> {
    pub ptr: P,
    pub rs: usize,
    pub cs: usize,
}

/// `c = a @ b`, or `c += a @ b` with `accumulate`, for `m x k` `a`, `k x n` `b`, `m x n` `c`.
///
/// # Safety
/// The CPU has AVX-512F; the views lie inside their buffers for their shapes;
/// `c`'s elements are distinct and do not overlap `a` or `b`; with `accumulate` `c` is
/// initialized (without, it is only written).
pub(crate) unsafe fn gemm(
    (m, n, k): (usize, usize, usize),
    a: View<*const f32>,
    b: View<*const f32>,
    c: View<*mut f32>,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    *c.ptr.add(i * c.rs + j * c.cs) = 0.0;
                }
            }
        }
        return;
    }
    PACK.with(|pack| {
        let mut pack = pack.borrow_mut();
        let (pa, pb) = &mut *pack;
        let np = n.div_ceil(NR) * NR;
        let need_b = np * KC.min(k);
        let need_a = MC.min(m.div_ceil(MR) * MR) * KC.min(k);
        if pb.len() < need_b {
            pb.resize(need_b, 0.0);
        }
        if pa.len() < need_a {
            pa.resize(need_a, 0.0);
        }
        for p0 in (0..k).step_by(KC) {
            let kc = KC.min(k - p0);
            pack_b(kc, n, offset_b(b, p0), pb);
            let bb = View {
                ptr: pb.as_ptr(),
                rs: NR,
                cs: 0,
            };
            let add = accumulate || p0 > 0;
            for i0 in (0..m).step_by(MC) {
                let mc = MC.min(m - i0);
                pack_a(mc, kc, offset_a(a, i0, p0), pa);
                block((mc, n, kc), pa, bb, offset_c(c, i0), add);
            }
        }
    });
}

unsafe fn offset_b(b: View<*const f32>, p0: usize) -> View<*const f32> {
    View {
        ptr: b.ptr.add(p0 * b.rs),
        ..b
    }
}

unsafe fn offset_a(a: View<*const f32>, i0: usize, p0: usize) -> View<*const f32> {
    View {
        ptr: a.ptr.add(i0 * a.rs + p0 * a.cs),
        ..a
    }
}

unsafe fn offset_c(c: View<*mut f32>, i0: usize) -> View<*mut f32> {
    View {
        ptr: c.ptr.add(i0 * c.rs),
        ..c
    }
}

/// `b`'s `kc x n` block as `⌈n / NR⌉` micro-panels `[kc][NR]`, columns past `n` zero.
#[target_feature(enable = "avx512f")]
unsafe fn pack_b(kc: usize, n: usize, b: View<*const f32>, out: &mut [f32]) {
    for (panel, dst) in out
        .chunks_exact_mut(kc * NR)
        .take(n.div_ceil(NR))
        .enumerate()
    {
        let j0 = panel * NR;
        let cols = NR.min(n - j0);
        let dst = dst.as_mut_ptr();
        if b.cs == 1 {
            // rows of `b` are contiguous: two (masked) vectors per row
            let (m0, m1) = (mask(cols), mask(cols.saturating_sub(16)));
            for p in 0..kc {
                let src = b.ptr.add(p * b.rs + j0);
                let d = dst.add(p * NR);
                _mm512_storeu_ps(d, _mm512_maskz_loadu_ps(m0, src));
                _mm512_storeu_ps(d.add(16), _mm512_maskz_loadu_ps(m1, src.add(16)));
            }
        } else if b.rs == 1 {
            // columns of `b` are contiguous (`wᵀ` of a row-major `w`): 16 x 16 transposes
            for half in 0..NR / 16 {
                let c0 = half * 16;
                let width = cols.saturating_sub(c0).min(16);
                for p in (0..kc).step_by(16) {
                    let depth = 16.min(kc - p);
                    let mut r = [_mm512_setzero_ps(); 16];
                    for (x, v) in r.iter_mut().enumerate().take(width) {
                        let src = b.ptr.add(p + (j0 + c0 + x) * b.cs);
                        *v = _mm512_maskz_loadu_ps(mask(depth), src);
                    }
                    transpose16(&mut r);
                    for (q, v) in r.iter().enumerate().take(depth) {
                        _mm512_storeu_ps(dst.add((p + q) * NR + c0), *v);
                    }
                }
            }
        } else {
            for p in 0..kc {
                for jj in 0..NR {
                    *dst.add(p * NR + jj) = if jj < cols {
                        *b.ptr.add(p * b.rs + (j0 + jj) * b.cs)
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

/// `a`'s `mc x kc` block as `⌈mc / MR⌉` micro-panels `[kc][MR]`, rows past `mc` zero.
#[target_feature(enable = "avx512f")]
unsafe fn pack_a(mc: usize, kc: usize, a: View<*const f32>, out: &mut [f32]) {
    const TILE: __mmask16 = (1 << MR) - 1;
    for (panel, dst) in out
        .chunks_exact_mut(kc * MR)
        .take(mc.div_ceil(MR))
        .enumerate()
    {
        let i0 = panel * MR;
        let rows = MR.min(mc - i0);
        let dst = dst.as_mut_ptr();
        if a.rs == 1 {
            // columns of `a` are contiguous (`xᵀ` of a row-major `x`): one masked vector each
            let m = mask(rows);
            for p in 0..kc {
                let v = _mm512_maskz_loadu_ps(m, a.ptr.add(i0 + p * a.cs));
                _mm512_mask_storeu_ps(dst.add(p * MR), TILE, v);
            }
        } else if a.cs == 1 {
            // rows of `a` are contiguous: 16 x 16 transposes, 14 lanes of each stored
            for p in (0..kc).step_by(16) {
                let depth = 16.min(kc - p);
                let mut r = [_mm512_setzero_ps(); 16];
                for (x, v) in r.iter_mut().enumerate().take(rows) {
                    *v = _mm512_maskz_loadu_ps(mask(depth), a.ptr.add((i0 + x) * a.rs + p));
                }
                transpose16(&mut r);
                for (q, v) in r.iter().enumerate().take(depth) {
                    _mm512_mask_storeu_ps(dst.add((p + q) * MR), TILE, *v);
                }
            }
        } else {
            for p in 0..kc {
                for r in 0..MR {
                    *dst.add(p * MR + r) = if r < rows {
                        *a.ptr.add((i0 + r) * a.rs + p * a.cs)
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

/// The mask of the first `len` (at most 16) lanes.
pub(crate) fn mask(len: usize) -> __mmask16 {
    if len >= 16 {
        0xffff
    } else {
        (1u16 << len) - 1
    }
}

/// Transposes the 16 x 16 matrix whose rows are `r`: unpack pairs of rows, then pairs of pairs,
/// then move 128-bit lanes across the four groups of four rows.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn transpose16(r: &mut [__m512; 16]) {
    // t[2i] lane L: rows 2i, 2i+1 at columns 4L, 4L+1; t[2i+1]: the same at 4L+2, 4L+3
    let mut t = [_mm512_setzero_ps(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // u[4i+q] lane L: column 4L+q at rows 4i..4i+3
    let pd = _mm512_castps_pd;
    let ps = _mm512_castpd_ps;
    let mut u = [_mm512_setzero_ps(); 16];
    for i in 0..4 {
        let (a, b, c, d) = (t[4 * i], t[4 * i + 1], t[4 * i + 2], t[4 * i + 3]);
        u[4 * i] = ps(_mm512_unpacklo_pd(pd(a), pd(c)));
        u[4 * i + 1] = ps(_mm512_unpackhi_pd(pd(a), pd(c)));
        u[4 * i + 2] = ps(_mm512_unpacklo_pd(pd(b), pd(d)));
        u[4 * i + 3] = ps(_mm512_unpackhi_pd(pd(b), pd(d)));
    }
    // column 4L+q: lane L of u[q], u[4+q], u[8+q], u[12+q]
    for q in 0..4 {
        let ab_lo = _mm512_shuffle_f32x4::<0x88>(u[q], u[4 + q]);
        let ab_hi = _mm512_shuffle_f32x4::<0xdd>(u[q], u[4 + q]);
        let cd_lo = _mm512_shuffle_f32x4::<0x88>(u[8 + q], u[12 + q]);
        let cd_hi = _mm512_shuffle_f32x4::<0xdd>(u[8 + q], u[12 + q]);
        r[q] = _mm512_shuffle_f32x4::<0x88>(ab_lo, cd_lo);
        r[4 + q] = _mm512_shuffle_f32x4::<0x88>(ab_hi, cd_hi);
        r[8 + q] = _mm512_shuffle_f32x4::<0xdd>(ab_lo, cd_lo);
        r[12 + q] = _mm512_shuffle_f32x4::<0xdd>(ab_hi, cd_hi);
    }
}

/// The packed `mc x kc` block of `a` times the `kc x n` block of `b` into `c`: each 32-column
/// panel of `b` against every `a` micro-panel. `b` is either row-major (`cs` 1, rows `rs`
/// apart) or packed (`cs` 0: micro-panels `[kc][NR]` one after the other).
#[target_feature(enable = "avx512f")]
unsafe fn block(
    (mc, n, kc): (usize, usize, usize),
    pa: &[f32],
    b: View<*const f32>,
    c: View<*mut f32>,
    add: bool,
) {
    for j0 in (0..n).step_by(NR) {
        let bp = if b.cs == 0 {
            (b.ptr.add(j0 / NR * kc * NR), NR)
        } else {
            (b.ptr.add(j0), b.rs)
        };
        let cols = NR.min(n - j0);
        for i0 in (0..mc).step_by(MR) {
            let ap = pa.as_ptr().add(i0 / MR * kc * MR);
            let rows = MR.min(mc - i0);
            let cp = c.ptr.add(i0 * c.rs + j0 * c.cs);
            if c.cs == 1 {
                tile_rows(rows, kc, ap, bp, (cp, c.rs, cols), add);
                continue;
            }
            // a `c` with strided columns: through a full tile on the stack
            let mut tmp = [0.0f32; MR * NR];
            if add {
                for r in 0..rows {
                    for j in 0..cols {
                        tmp[r * NR + j] = *cp.add(r * c.rs + j * c.cs);
                    }
                }
            }
            tile::<MR>(kc, ap, bp, (tmp.as_mut_ptr(), NR, cols), add);
            for r in 0..rows {
                for j in 0..cols {
                    *cp.add(r * c.rs + j * c.cs) = tmp[r * NR + j];
                }
            }
        }
    }
}

/// [`tile`] with `rows` (1 to [`MR`]) rows of registers.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn tile_rows(
    rows: usize,
    kc: usize,
    a: *const f32,
    b: (*const f32, usize),
    c: (*mut f32, usize, usize),
    add: bool,
) {
    match rows {
        14 => tile::<14>(kc, a, b, c, add),
        13 => tile::<13>(kc, a, b, c, add),
        12 => tile::<12>(kc, a, b, c, add),
        11 => tile::<11>(kc, a, b, c, add),
        10 => tile::<10>(kc, a, b, c, add),
        9 => tile::<9>(kc, a, b, c, add),
        8 => tile::<8>(kc, a, b, c, add),
        7 => tile::<7>(kc, a, b, c, add),
        6 => tile::<6>(kc, a, b, c, add),
        5 => tile::<5>(kc, a, b, c, add),
        4 => tile::<4>(kc, a, b, c, add),
        3 => tile::<3>(kc, a, b, c, add),
        2 => tile::<2>(kc, a, b, c, add),
        _ => tile::<1>(kc, a, b, c, add),
    }
}

/// The `R x NR` register tile (`R` at most [`MR`]) over `kc` steps: the first `cols` columns of
/// `c` (row stride `ldc`) set to, or with `add` continued from their values by, the product of the first `R` rows
/// of an `a` micro-panel and the first `cols` columns of `kc` rows of `b` (row stride `ldb`;
/// columns past `cols` are not read).
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn tile<const R: usize>(
    kc: usize,
    a: *const f32,
    (b, ldb): (*const f32, usize),
    (c, ldc, cols): (*mut f32, usize, usize),
    add: bool,
) {
    let (m0, m1) = (mask(cols), mask(cols.saturating_sub(16)));
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    if add {
        for (r, acc) in acc.iter_mut().enumerate() {
            let row = c.add(r * ldc);
            acc[0] = _mm512_maskz_loadu_ps(m0, row);
            acc[1] = _mm512_maskz_loadu_ps(m1, row.add(16));
        }
    }
    for p in 0..kc {
        let b0 = _mm512_maskz_loadu_ps(m0, b.add(p * ldb));
        let b1 = _mm512_maskz_loadu_ps(m1, b.add(p * ldb + 16));
        let ap = a.add(p * MR);
        for (r, acc) in acc.iter_mut().enumerate() {
            let av = _mm512_set1_ps(*ap.add(r));
            acc[0] = _mm512_fmadd_ps(av, b0, acc[0]);
            acc[1] = _mm512_fmadd_ps(av, b1, acc[1]);
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        let row = c.add(r * ldc);
        _mm512_mask_storeu_ps(row, m0, acc[0]);
        _mm512_mask_storeu_ps(row.add(16), m1, acc[1]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small integers, so that every sum below is exact in f32 and any order gives the same bits.
    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7 + seed * 3) % 13) as f32 - 6.0)
            .collect()
    }

    /// `(rs, cs)` of a `rows x cols` matrix stored row-major, column-major, or inside a wider
    /// row-major buffer (neither stride 1 when `gap` > 0, with every other column used).
    fn strides(layout: u8, rows: usize, cols: usize) -> (usize, usize, usize) {
        match layout {
            0 => (cols, 1, rows * cols),
            1 => (1, rows, rows * cols),
            _ => (2 * cols + 1, 2, rows * (2 * cols + 1)),
        }
    }

    #[test]
    fn every_layout_and_edge_equals_the_exact_product() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            return;
        }
        let shapes = [
            (1, 1, 1),
            (14, 32, 16),
            (15, 33, 17),
            (13, 31, 256),
            (29, 70, 257),
            (3, 100, 600),
            (170, 40, 20),
            (200, 64, 513),
        ];
        for &(m, n, k) in &shapes {
            for la in 0..3u8 {
                for lb in 0..3u8 {
                    for accumulate in [false, true] {
                        let (ars, acs, alen) = strides(la, m, k);
                        let (brs, bcs, blen) = strides(lb, k, n);
                        let a = values(alen, 1);
                        let b = values(blen, 2);
                        // `c` column-major for the strided-`a` case, to cover strided outputs
                        let (crs, ccs) = if la == 2 { (1, m) } else { (n, 1) };
                        let start = 0.5f32;
                        let mut c = vec![start; m * n];
                        // SAFETY: AVX-512F was checked; the views fit their buffers
                        unsafe {
                            gemm(
                                (m, n, k),
                                View {
                                    ptr: a.as_ptr(),
                                    rs: ars,
                                    cs: acs,
                                },
                                View {
                                    ptr: b.as_ptr(),
                                    rs: brs,
                                    cs: bcs,
                                },
                                View {
                                    ptr: c.as_mut_ptr(),
                                    rs: crs,
                                    cs: ccs,
                                },
                                accumulate,
                            )
                        };
                        for i in 0..m {
                            for j in 0..n {
                                let dot: f32 = (0..k)
                                    .map(|p| a[i * ars + p * acs] * b[p * brs + j * bcs])
                                    .sum();
                                let want = if accumulate { dot + start } else { dot };
                                assert_eq!(
                                    c[i * crs + j * ccs],
                                    want,
                                    "({m}, {n}, {k}) layouts {la}/{lb} accumulate {accumulate} at ({i}, {j})"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn each_sum_is_one_in_order_chain_across_blocks() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            return;
        }
        // values whose sums round: the result must be the in-order FMA chain over all of k
        let (m, n, k) = (20, 40, KC + 77);
        let a: Vec<f32> = (0..m * k).map(|i| ((i as f32) * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i as f32) * 0.11).cos()).collect();
        let mut c = vec![0.0f32; m * n];
        // SAFETY: AVX-512F was checked; the views fit their buffers
        unsafe {
            gemm(
                (m, n, k),
                View {
                    ptr: a.as_ptr(),
                    rs: k,
                    cs: 1,
                },
                View {
                    ptr: b.as_ptr(),
                    rs: n,
                    cs: 1,
                },
                View {
                    ptr: c.as_mut_ptr(),
                    rs: n,
                    cs: 1,
                },
                false,
            )
        };
        for i in 0..m {
            for j in 0..n {
                let chain = (0..k).fold(0.0f32, |acc, p| a[i * k + p].mul_add(b[p * n + j], acc));
                assert_eq!(c[i * n + j].to_bits(), chain.to_bits(), "({i}, {j})");
            }
        }
    }
}
