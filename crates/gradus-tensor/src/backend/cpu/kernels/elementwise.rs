//! Elementwise kernels: unary maps and broadcasting binary zips, parallel above a threshold.

use super::{filled, stream, transpose, with_widest_simd, SimdKernel, CHUNK, PARALLEL_THRESHOLD};
use crate::layout::Layout;
use crate::Element;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// A new vector of `n` elements, written chunk by chunk (in parallel above the threshold) by
/// `fill(start, chunk)`, without zero-filling first. An output of at least
/// [`STREAM_BYTES`](stream::STREAM_BYTES) is computed in blocks in L1 and streamed out with
/// non-temporal stores (see [`stream`]).
fn fill_new<T: Element>(
    n: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<T>]) + Sync + Send,
) -> Vec<T> {
    let write = |spare: &mut [MaybeUninit<T>]| {
        if n < PARALLEL_THRESHOLD {
            fill(0, spare);
        } else if std::mem::size_of_val(spare) < stream::STREAM_BYTES {
            crate::threads::warm();
            spare
                .par_chunks_mut(CHUNK)
                .enumerate()
                .for_each(|(i, chunk)| fill(i * CHUNK, chunk));
        } else {
            crate::threads::warm();
            spare
                .par_chunks_mut(CHUNK)
                .enumerate()
                .for_each(|(i, chunk)| fill_streamed(i * CHUNK, chunk, &fill));
        }
    };
    // SAFETY: `fill` writes every element of every chunk, and the chunks cover 0..n.
    unsafe { filled(n, write) }
}

/// `fill(start, chunk)` a block at a time into a buffer in L1, each block streamed to `chunk`.
fn fill_streamed<T: Element>(
    start: usize,
    chunk: &mut [MaybeUninit<T>],
    fill: &impl Fn(usize, &mut [MaybeUninit<T>]),
) {
    let mut buf = [const { MaybeUninit::<T>::uninit() }; stream::BLOCK];
    for (j, dst) in chunk.chunks_mut(stream::BLOCK).enumerate() {
        let src = &mut buf[..dst.len()];
        fill(start + j * stream::BLOCK, src);
        stream::stream_copy(dst, src);
    }
    stream::stream_fence();
}

/// `dst[i] += src[i]` for equal-length slices, in place, at the widest SIMD level and in
/// parallel above the threshold (gradient accumulation: a tensor used twice).
pub(crate) fn add_assign<T: Element>(dst: &mut [T], src: &[T]) {
    assert_eq!(dst.len(), src.len(), "add_assign lengths");
    let add = |(dst, src): (&mut [T], &[T])| with_widest_simd(AddAssign { dst, src });
    if dst.len() < PARALLEL_THRESHOLD {
        add((dst, src));
    } else {
        crate::threads::warm();
        dst.par_chunks_mut(CHUNK)
            .zip(src.par_chunks(CHUNK))
            .for_each(add);
    }
}

struct AddAssign<'a, T> {
    dst: &'a mut [T],
    src: &'a [T],
}

impl<T: Element> SimdKernel for AddAssign<'_, T> {
    #[inline(always)]
    fn run(self) {
        for (d, &s) in self.dst.iter_mut().zip(self.src) {
            *d = *d + s;
        }
    }
}

/// `out[i] = f(x[i])`.
pub(crate) fn map<T: Element>(x: &[T], f: impl Fn(T) -> T + Sync + Send) -> Vec<T> {
    fill_new(x.len(), |start, o| {
        let x = &x[start..start + o.len()];
        o.iter_mut().zip(x).for_each(|(o, &v)| {
            o.write(f(v));
        })
    })
}

/// `out[i] = f(a[i], b[i])` for equal-length slices.
pub(crate) fn zip<T: Element>(a: &[T], b: &[T], f: impl Fn(T, T) -> T + Sync + Send) -> Vec<T> {
    fill_new(a.len(), |start, o| {
        let (a, b) = (&a[start..start + o.len()], &b[start..start + o.len()]);
        o.iter_mut().zip(a.iter().zip(b)).for_each(|(o, (&x, &y))| {
            o.write(f(x, y));
        })
    })
}

/// `out[i] = f(a[i], b[i], c[i])` for equal-length slices (fused multiply-add and friends).
pub(crate) fn zip3<T: Element>(
    a: &[T],
    b: &[T],
    c: &[T],
    f: impl Fn(T, T, T) -> T + Sync + Send,
) -> Vec<T> {
    fill_new(a.len(), |start, o| {
        let r = start..start + o.len();
        let (a, b, c) = (&a[r.clone()], &b[r.clone()], &c[r]);
        o.iter_mut()
            .zip(a.iter().zip(b.iter().zip(c)))
            .for_each(|(o, (&x, (&y, &z)))| {
                o.write(f(x, y, z));
            })
    })
}

/// Storage offset of the first element of row `row` (rows are runs of the last axis).
fn row_base(layout: &Layout, mut row: usize) -> usize {
    let rank = layout.shape.len();
    let mut base = layout.offset;
    for axis in (0..rank.saturating_sub(1)).rev() {
        let d = layout.shape[axis];
        base += (row % d) * layout.strides[axis];
        row /= d;
    }
    base
}

/// `out = f(a, b)` where `a` and `b` are strided views already broadcast to the output shape.
pub(crate) fn zip_strided<T: Element>(
    a: &[T],
    la: &Layout,
    b: &[T],
    lb: &Layout,
    f: impl Fn(T, T) -> T + Sync + Send,
) -> Vec<T> {
    let numel = la.numel();
    let rank = la.shape.len();
    let inner = if rank == 0 { 1 } else { la.shape[rank - 1] };
    let (sa, sb) = if rank == 0 {
        (0, 0)
    } else {
        (la.strides[rank - 1], lb.strides[rank - 1])
    };
    if numel == 0 {
        return Vec::new();
    }
    let fill_row = |r: usize, o: &mut [MaybeUninit<T>]| {
        let (ba, bb) = (row_base(la, r), row_base(lb, r));
        let o = o.iter_mut();
        match (sa, sb) {
            (1, 1) => o
                .zip(&a[ba..ba + inner])
                .zip(&b[bb..bb + inner])
                .for_each(|((o, &x), &y)| _ = o.write(f(x, y))),
            (1, 0) => o
                .zip(&a[ba..ba + inner])
                .for_each(|(o, &x)| _ = o.write(f(x, b[bb]))),
            (0, 1) => o
                .zip(&b[bb..bb + inner])
                .for_each(|(o, &y)| _ = o.write(f(a[ba], y))),
            _ => o
                .enumerate()
                .for_each(|(j, o)| _ = o.write(f(a[ba + j * sa], b[bb + j * sb]))),
        }
    };
    // whole rows per task, so that each task starts at a row boundary
    let rows_per_task = (CHUNK / inner).max(1);
    let mut out: Vec<T> = Vec::with_capacity(numel);
    let spare = &mut out.spare_capacity_mut()[..numel];
    let fill_block = |t: usize, block: &mut [MaybeUninit<T>]| {
        for (i, o) in block.chunks_mut(inner).enumerate() {
            fill_row(t * rows_per_task + i, o);
        }
    };
    if numel < PARALLEL_THRESHOLD {
        fill_block(0, spare);
    } else {
        crate::threads::warm();
        spare
            .par_chunks_mut(inner * rows_per_task)
            .enumerate()
            .for_each(|(t, block)| fill_block(t, block));
    }
    // SAFETY: every row of every block was written, and the blocks cover 0..numel.
    unsafe { out.set_len(numel) };
    out
}

/// A vector of `n` zeros, written in parallel above the threshold (a reused allocation is
/// otherwise cleared by one thread).
pub(crate) fn zeros<T: Element>(n: usize) -> Vec<T> {
    fill_new(n, |_, o| {
        o.iter_mut().for_each(|x| {
            x.write(T::zero());
        })
    })
}

/// A contiguous copy of a strided view, a row (last axis) at a time: rows of unit stride are
/// copied whole, broadcast rows (stride 0) filled. A view whose last two axes are a transposed
/// matrix (unit stride on the second-to-last axis, as `x.t()` or `x.transpose(-2, -1)` of a
/// contiguous `x`) is copied a matrix at a time by the tiled transpose.
pub(crate) fn gather_strided<T: Element>(src: &[T], layout: &Layout) -> Vec<T> {
    let r = layout.shape.len();
    if r >= 2 && layout.strides[r - 2] == 1 && layout.strides[r - 1] > 1 && layout.numel() > 0 {
        let (rows, cols, ld) = (
            layout.shape[r - 2],
            layout.shape[r - 1],
            layout.strides[r - 1],
        );
        let outer = Layout {
            shape: layout.shape[..r - 2].to_vec(),
            strides: layout.strides[..r - 2].to_vec(),
            offset: layout.offset,
        };
        let mut out = Vec::with_capacity(layout.numel());
        let mut written = 0;
        outer.for_each_offset(|base| {
            let dst = &mut out.spare_capacity_mut()[written..written + rows * cols];
            transpose::transpose_into(&src[base..], (rows, cols), ld, dst);
            written += rows * cols;
        });
        // SAFETY: each matrix of the view was written by the transpose, in order, and together
        // they are all `numel` elements.
        unsafe { out.set_len(written) };
        return out;
    }
    let mut out = Vec::with_capacity(layout.numel());
    let (len, stride) = layout.row();
    layout.for_each_row(|base| match stride {
        1 => out.extend_from_slice(&src[base..base + len]),
        0 => out.resize(out.len() + len, src[base]),
        _ => out.extend((0..len).map(|j| src[base + j * stride])),
    });
    out
}

#[cfg(test)]
mod tests {
    use crate::{DType, Tensor};

    #[test]
    fn contiguous_copies_of_transposed_views_equal_the_definition() {
        // 2-D and batched transposes (the tiled path), a view of a view with an offset, and a
        // permutation whose unit-stride axis is not next to last (the row-by-row path)
        for dtype in [DType::F32, DType::F64] {
            let x = Tensor::arange(0.0, (3 * 37 * 45) as f64, 1.0, dtype).unwrap();
            let x = x.reshape(&[3, 37, 45]).unwrap();
            let views = [
                x.transpose(-2, -1).unwrap(),
                x.narrow(0, 1, 2)
                    .unwrap()
                    .narrow(2, 3, 40)
                    .unwrap()
                    .transpose(1, 2)
                    .unwrap(),
                x.reshape(&[111, 45]).unwrap().t().unwrap(),
                x.permute(&[2, 0, 1]).unwrap(),
            ];
            for v in views {
                let want: Vec<f64> = {
                    let l = v.layout();
                    let mut offsets = Vec::new();
                    l.for_each_offset(|o| offsets.push(o as f64));
                    offsets
                };
                assert_eq!(
                    v.contiguous().unwrap().to_vec_f64(),
                    want,
                    "{dtype:?} {:?}",
                    v.shape()
                );
            }
        }
    }

    #[test]
    fn streamed_outputs_equal_the_elementwise_definition() {
        // above the streaming threshold in f32 and f64, lengths that end mid-chunk and mid-block
        use super::super::stream::STREAM_BYTES;
        for (len, dtype) in [
            (STREAM_BYTES / 4 + 8192 + 1001, DType::F32),
            (STREAM_BYTES / 8 + 77, DType::F64),
        ] {
            let a: Vec<f64> = (0..len).map(|i| (i % 1013) as f64 - 500.0).collect();
            let b: Vec<f64> = (0..len).map(|i| (i % 97) as f64 * 0.5).collect();
            let ta = Tensor::from_vec(a.clone(), &[len])
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            let tb = Tensor::from_vec(b.clone(), &[len])
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            let sum = ta.add(&tb).unwrap().to_vec_f64();
            let fma = ta.mul_add(&tb, &ta).unwrap().to_vec_f64();
            let neg = ta.neg().unwrap().to_vec_f64();
            for i in 0..len {
                // small integers and halves: exact in both dtypes
                assert_eq!(sum[i], a[i] + b[i], "{dtype:?} add at {i}");
                assert_eq!(fma[i], a[i] * b[i] + a[i], "{dtype:?} mul_add at {i}");
                assert_eq!(neg[i], -a[i], "{dtype:?} neg at {i}");
            }
        }
    }
}
