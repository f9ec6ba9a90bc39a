//! Row gathers: the rows of a mini-batch copied out of a row-major matrix.
//!
//! A shuffled batch's rows lie at random places in a data set far larger than the caches, so
//! its gather waits on memory more than it copies: on an AMD EPYC Zen 4, 200 random rows of
//! MNIST's 784 values take 75-125 µs on one thread, the same bytes in one run 30-40 µs. Large
//! batches are gathered by the thread pool's threads side by side, each its own run of rows; the
//! result does not depend on the thread count.

use rayon::prelude::*;

/// Batches of at least this many values (256 KiB of `f32`) are gathered in parallel; smaller
/// ones take less time than handing work to another thread.
pub(crate) const PARALLEL_GATHER_VALUES: usize = 1 << 16;

/// Copies rows `indices` of a row-major matrix with `width` columns, in the order of `indices`
/// (repeats allowed).
///
/// # Panics
/// If an index is past the last row (as slice indexing).
pub(crate) fn gather_rows(data: &[f32], width: usize, indices: &[usize]) -> Vec<f32> {
    let total = indices.len() * width;
    let threads = rayon::current_num_threads();
    if total < PARALLEL_GATHER_VALUES || threads == 1 {
        let mut out = Vec::with_capacity(total);
        for &i in indices {
            out.extend_from_slice(&data[i * width..(i + 1) * width]);
        }
        return out;
    }
    let rows_per_task = indices.len().div_ceil(threads);
    let mut out = Vec::with_capacity(total);
    out.spare_capacity_mut()[..total]
        .par_chunks_mut(rows_per_task * width)
        .zip(indices.par_chunks(rows_per_task))
        .for_each(|(dst, rows)| {
            for (dst, &i) in dst.chunks_exact_mut(width).zip(rows) {
                let src = &data[i * width..(i + 1) * width];
                // SAFETY: `dst` and `src` are `width` values long, and `dst` is spare capacity
                // of `out`, which `data` cannot overlap.
                unsafe {
                    std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr().cast(), width)
                };
            }
        });
    // SAFETY: the chunks cover `..total` (`rows_per_task * width` values each, the last one the
    // rest) and each chunk's rows wrote all of it; a panic above never gets here.
    unsafe { out.set_len(total) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serial(data: &[f32], width: usize, indices: &[usize]) -> Vec<f32> {
        indices
            .iter()
            .flat_map(|&i| data[i * width..(i + 1) * width].iter().copied())
            .collect()
    }

    #[test]
    fn a_parallel_gather_equals_the_row_by_row_copy() {
        let (rows, width) = (1000, 97);
        let data: Vec<f32> = (0..rows * width).map(|v| v as f32).collect();
        // 701 rows (an uneven split), with repeats, over the threshold
        let indices: Vec<usize> = (0..701).map(|k| (k * 389 + 11) % rows).collect();
        assert!(indices.len() * width >= PARALLEL_GATHER_VALUES);
        for threads in [1, 2, 3, 8] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let got = pool.install(|| gather_rows(&data, width, &indices));
            assert_eq!(got, serial(&data, width, &indices), "{threads} threads");
        }
    }

    #[test]
    fn small_and_empty_gathers() {
        let data: Vec<f32> = (0..12).map(|v| v as f32).collect();
        assert_eq!(
            gather_rows(&data, 3, &[3, 0, 3]),
            serial(&data, 3, &[3, 0, 3])
        );
        assert!(gather_rows(&data, 3, &[]).is_empty());
    }

    #[test]
    #[should_panic]
    fn a_row_past_the_end_panics_in_a_parallel_gather() {
        let width = 1 << 10;
        let data = vec![0.0f32; 100 * width];
        let mut indices: Vec<usize> = (0..100).collect();
        indices[77] = 100;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| gather_rows(&data, width, &indices));
    }
}
