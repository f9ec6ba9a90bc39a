//! Transposing copies: a matrix stored column by column, written row by row. What a contiguous
//! copy of a transposed view (`x.t().contiguous()`) does, and what the GEMM does to an operand
//! that `faer` multiplies slowly when it is column-major.
//!
//! The matrix is walked in 8 x 8 tiles, two stacked tiles per step so that every cache line read
//! is used whole. With AVX each f32 tile is transposed in registers (eight loads, the usual
//! unpack / shuffle / lane-permute network, eight stores); other types and CPUs move each tile
//! element by element. Copies only, so every path writes the same values.

use rayon::prelude::*;
use std::any::TypeId;
use std::mem::MaybeUninit;

/// Tile side.
const TILE: usize = 8;
/// Matrices with at least this many elements are split into row bands, in parallel.
const PAR_MIN: usize = 1 << 16;
/// Rows per parallel band (a multiple of `2 * TILE`).
const BAND_ROWS: usize = 64;

/// `dst[i * cols + j] = src[i + j * ld]` for `i < rows`, `j < cols`: the `rows x cols` matrix
/// stored column-major with column stride `ld` in `src`, written row-major into `dst`, which may
/// be uninitialized (every element is written).
///
/// # Panics
/// When `src` is too short for the view or `dst` is not `rows * cols` long.
pub(crate) fn transpose_into<T: Copy + Send + Sync + 'static>(
    src: &[T],
    (rows, cols): (usize, usize),
    ld: usize,
    dst: &mut [MaybeUninit<T>],
) {
    assert_eq!(dst.len(), rows * cols, "transpose: output length");
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(
        rows - 1 + (cols - 1) * ld < src.len(),
        "transpose: view out of bounds"
    );
    if rows * cols < PAR_MIN || rows <= BAND_ROWS {
        band(src, (rows, cols), ld, dst);
        return;
    }
    crate::threads::warm();
    dst.par_chunks_mut(BAND_ROWS * cols)
        .enumerate()
        .for_each(|(b, out)| {
            let r0 = b * BAND_ROWS;
            band(&src[r0..], (out.len() / cols, cols), ld, out);
        });
}

/// One band of rows of [`transpose_into`], on one thread.
fn band<T: Copy + 'static>(
    src: &[T],
    (rows, cols): (usize, usize),
    ld: usize,
    dst: &mut [MaybeUninit<T>],
) {
    #[cfg(target_arch = "x86_64")]
    if TypeId::of::<T>() == TypeId::of::<f32>() && std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: `T` is `f32` (checked above), so the casts rename the type; the CPU has AVX.
        unsafe {
            let src = std::slice::from_raw_parts(src.as_ptr().cast::<f32>(), src.len());
            let dst = std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast(), dst.len());
            return avx::band_f32(src, (rows, cols), ld, dst);
        }
    }
    for i0 in (0..rows).step_by(2 * TILE) {
        for j0 in (0..cols).step_by(TILE) {
            for i in i0..(i0 + 2 * TILE).min(rows) {
                for j in j0..(j0 + TILE).min(cols) {
                    dst[i * cols + j].write(src[i + j * ld]);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use super::TILE;
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    /// [`super::band`] for f32 with 8 x 8 tiles transposed in AVX registers; the ragged right
    /// and bottom edges element by element.
    ///
    /// # Safety
    /// The CPU must support AVX; the views must be in bounds as `transpose_into` checks.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn band_f32(
        src: &[f32],
        (rows, cols): (usize, usize),
        ld: usize,
        dst: &mut [MaybeUninit<f32>],
    ) {
        let (full_rows, full_cols) = (rows / TILE * TILE, cols / TILE * TILE);
        let (s, d) = (src.as_ptr(), dst.as_mut_ptr().cast::<f32>());
        for i0 in (0..full_rows).step_by(2 * TILE) {
            for j0 in (0..full_cols).step_by(TILE) {
                // SAFETY: rows i0 .. i0 + 8 (and the next 8 when whole) and columns j0 .. j0 + 8
                // lie inside the matrix.
                unsafe {
                    tile(s.add(i0 + j0 * ld), ld, d.add(i0 * cols + j0), cols);
                    if i0 + TILE < full_rows {
                        let i1 = i0 + TILE;
                        tile(s.add(i1 + j0 * ld), ld, d.add(i1 * cols + j0), cols);
                    }
                }
            }
        }
        for i in 0..rows {
            // the right edge of the tiled rows, and whole rows below them
            let from = if i < full_rows { full_cols } else { 0 };
            for j in from..cols {
                dst[i * cols + j].write(src[i + j * ld]);
            }
        }
    }

    /// One 8 x 8 tile: column `j` of the source is the 8 floats at `s + j * ld`; row `i` of the
    /// result goes to the 8 floats at `d + i * ldd`.
    ///
    /// # Safety
    /// AVX; the 8 columns and 8 rows must be readable and writable.
    #[target_feature(enable = "avx")]
    unsafe fn tile(s: *const f32, ld: usize, d: *mut f32, ldd: usize) {
        // SAFETY: the caller vouches for the 64 source and 64 destination elements.
        unsafe {
            let c = |j: usize| _mm256_loadu_ps(s.add(j * ld));
            let (c0, c1, c2, c3) = (c(0), c(1), c(2), c(3));
            let (c4, c5, c6, c7) = (c(4), c(5), c(6), c(7));
            // pairs of columns interleaved, then quadruples, then the 128-bit halves swapped
            let (t0, t1) = (_mm256_unpacklo_ps(c0, c1), _mm256_unpackhi_ps(c0, c1));
            let (t2, t3) = (_mm256_unpacklo_ps(c2, c3), _mm256_unpackhi_ps(c2, c3));
            let (t4, t5) = (_mm256_unpacklo_ps(c4, c5), _mm256_unpackhi_ps(c4, c5));
            let (t6, t7) = (_mm256_unpacklo_ps(c6, c7), _mm256_unpackhi_ps(c6, c7));
            let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let u1 = _mm256_shuffle_ps::<0xee>(t0, t2);
            let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let u3 = _mm256_shuffle_ps::<0xee>(t1, t3);
            let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let u5 = _mm256_shuffle_ps::<0xee>(t4, t6);
            let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let u7 = _mm256_shuffle_ps::<0xee>(t5, t7);
            let r = |i: usize, v| _mm256_storeu_ps(d.add(i * ldd), v);
            r(0, _mm256_permute2f128_ps::<0x20>(u0, u4));
            r(1, _mm256_permute2f128_ps::<0x20>(u1, u5));
            r(2, _mm256_permute2f128_ps::<0x20>(u2, u6));
            r(3, _mm256_permute2f128_ps::<0x20>(u3, u7));
            r(4, _mm256_permute2f128_ps::<0x31>(u0, u4));
            r(5, _mm256_permute2f128_ps::<0x31>(u1, u5));
            r(6, _mm256_permute2f128_ps::<0x31>(u2, u6));
            r(7, _mm256_permute2f128_ps::<0x31>(u3, u7));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transposed<T: Copy + Send + Sync + 'static>(
        src: &[T],
        rows: usize,
        cols: usize,
        ld: usize,
    ) -> Vec<T> {
        let mut out = Vec::with_capacity(rows * cols);
        transpose_into(
            src,
            (rows, cols),
            ld,
            &mut out.spare_capacity_mut()[..rows * cols],
        );
        // SAFETY: `transpose_into` wrote every element.
        unsafe { out.set_len(rows * cols) };
        out
    }

    #[test]
    fn every_shape_and_leading_dimension_equals_the_definition() {
        // ragged edges, exact tiles, one row or column, bands in parallel, a padded ld
        let shapes = [
            (1, 1),
            (1, 9),
            (9, 1),
            (8, 8),
            (16, 8),
            (17, 23),
            (64, 64),
            (129, 300),
            (300, 257),
        ];
        for &(rows, cols) in &shapes {
            for ld in [rows, rows + 5] {
                let src32: Vec<f32> = (0..ld * cols).map(|i| i as f32 * 0.5 - 3.0).collect();
                let src64: Vec<f64> = src32.iter().map(|&x| x as f64 * 3.0).collect();
                let want = |i: usize, j: usize| i + j * ld;
                let (t32, t64) = (
                    transposed(&src32, rows, cols, ld),
                    transposed(&src64, rows, cols, ld),
                );
                for i in 0..rows {
                    for j in 0..cols {
                        assert_eq!(
                            t32[i * cols + j].to_bits(),
                            src32[want(i, j)].to_bits(),
                            "f32 {rows}x{cols} ld {ld} ({i}, {j})"
                        );
                        assert_eq!(
                            t64[i * cols + j].to_bits(),
                            src64[want(i, j)].to_bits(),
                            "f64 {rows}x{cols} ld {ld} ({i}, {j})"
                        );
                    }
                }
            }
        }
    }
}
