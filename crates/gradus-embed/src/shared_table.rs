//! `SharedTable`: a `[rows, dim]` table of floats that several threads read and write without
//! locks (Hogwild, Recht et al. 2011), soundly: the floats live in `AtomicU64` cells (two `f32`
//! or one `f64` each), read and written with `Relaxed` loads and stores.
//!
//! Why atomics: word2vec's C tool and gensim's workers let threads race on plain floats, which
//! in Rust would be a data race, undefined behaviour. A `Relaxed` load or store of an
//! `AtomicU64` compiles to a plain 64-bit `mov` on x86-64 and AArch64; what the cells cost is
//! that a row is copied 8 bytes at a time rather than in vector registers. What is given up is
//! what Hogwild gives up anyway: updates of one row by two threads may interleave cell by cell
//! (a row can mix two updates; no value is ever torn), so results with more than one thread are
//! not bitwise reproducible.

use gradus_tensor::Element;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A float that [`SharedTable`] stores in `AtomicU64` cells: two `f32` or one `f64` per cell
/// (64-bit cells halve the moves of an `f32` row against one cell per value).
pub trait AtomicFloat: Element {
    /// Values per cell.
    const PER_CELL: usize;
    /// Copies `cells` (`Relaxed` loads) into `out` (`out.len()` values, at most
    /// `cells.len() · PER_CELL`).
    fn load(cells: &[AtomicU64], out: &mut [Self]);
    /// Writes `values` into `cells` (`Relaxed` stores; an odd `f32` row's last cell gets 0 in its
    /// unused half).
    fn store(cells: &[AtomicU64], values: &[Self]);
}

impl AtomicFloat for f32 {
    const PER_CELL: usize = 2;
    fn load(cells: &[AtomicU64], out: &mut [f32]) {
        // four values (two cells) at a time through one 16-byte value, so that the row is
        // written in 16-byte stores, which the vector loads reading it next can forward from
        let mut quads = out.chunks_exact_mut(4);
        for (c, o) in cells.chunks_exact(2).zip(&mut quads) {
            let x = u128::from(c[0].load(Relaxed)) | u128::from(c[1].load(Relaxed)) << 64;
            for (k, o) in o.iter_mut().enumerate() {
                *o = f32::from_bits((x >> (32 * k)) as u32);
            }
        }
        let done = out.len() / 4 * 4;
        let mut pairs = out[done..].chunks_exact_mut(2);
        for (c, o) in cells[done / 2..].iter().zip(&mut pairs) {
            let x = c.load(Relaxed);
            o[0] = f32::from_bits(x as u32);
            o[1] = f32::from_bits((x >> 32) as u32);
        }
        if let [last] = pairs.into_remainder() {
            *last = f32::from_bits(cells[cells.len() - 1].load(Relaxed) as u32);
        }
    }
    fn store(cells: &[AtomicU64], values: &[f32]) {
        let pairs = values.chunks_exact(2);
        let rest = pairs.remainder();
        for (c, v) in cells.iter().zip(pairs) {
            c.store(
                u64::from(v[0].to_bits()) | u64::from(v[1].to_bits()) << 32,
                Relaxed,
            );
        }
        if let [last] = rest {
            cells[cells.len() - 1].store(u64::from(last.to_bits()), Relaxed);
        }
    }
}

impl AtomicFloat for f64 {
    const PER_CELL: usize = 1;
    fn load(cells: &[AtomicU64], out: &mut [f64]) {
        for (c, o) in cells.iter().zip(out) {
            *o = f64::from_bits(c.load(Relaxed));
        }
    }
    fn store(cells: &[AtomicU64], values: &[f64]) {
        for (c, v) in cells.iter().zip(values) {
            c.store(v.to_bits(), Relaxed);
        }
    }
}

/// A row-major `[rows, dim]` table shared by threads (`&SharedTable` is `Sync`) whose rows are
/// copied out and written back without locks.
///
/// ```
/// use gradus_embed::SharedTable;
/// let t = SharedTable::new(&[1.0f32, 2.0, 3.0, 4.0], 2);
/// let mut row = [0.0; 2];
/// t.load_row(1, &mut row);
/// assert_eq!(row, [3.0, 4.0]);
/// t.store_row(0, &[5.0, 6.0]);
/// assert_eq!(t.to_vec(), vec![5.0, 6.0, 3.0, 4.0]);
/// ```
pub struct SharedTable<T: AtomicFloat> {
    /// `[rows, cells]`: each row's values packed `T::PER_CELL` to a cell
    cells: Vec<AtomicU64>,
    dim: usize,
    /// cells per row: `ceil(dim / T::PER_CELL)`
    width: usize,
    marker: std::marker::PhantomData<T>,
}

impl<T: AtomicFloat> SharedTable<T> {
    /// A table holding a copy of `values` (`[rows, dim]` row-major; a partial last row is
    /// dropped).
    pub fn new(values: &[T], dim: usize) -> SharedTable<T> {
        let dim = dim.max(1);
        let width = dim.div_ceil(T::PER_CELL);
        let rows = values.len() / dim;
        let cells: Vec<AtomicU64> = (0..rows * width).map(|_| AtomicU64::new(0)).collect();
        let table = SharedTable {
            cells,
            dim,
            width,
            marker: std::marker::PhantomData,
        };
        for (r, row) in values.chunks_exact(dim).enumerate() {
            table.store_row(r, row);
        }
        table
    }

    /// The row length.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The number of values, `rows · dim`.
    pub fn len(&self) -> usize {
        self.cells.len() / self.width * self.dim
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Copies row `r` into `out` (`dim` values).
    ///
    /// # Panics
    /// When `r` is not a row or `out` is shorter than `dim`.
    pub fn load_row(&self, r: usize, out: &mut [T]) {
        T::load(self.row(r), &mut out[..self.dim]);
    }

    /// Writes `values` (`dim` of them) into row `r`.
    ///
    /// # Panics
    /// When `r` is not a row or `values` is shorter than `dim`.
    pub fn store_row(&self, r: usize, values: &[T]) {
        T::store(self.row(r), &values[..self.dim]);
    }

    /// A copy of the whole table, `[rows · dim]`.
    pub fn to_vec(&self) -> Vec<T> {
        let mut out = vec![T::zero(); self.len()];
        for (r, row) in out.chunks_exact_mut(self.dim).enumerate() {
            self.load_row(r, row);
        }
        out
    }

    fn row(&self, r: usize) -> &[AtomicU64] {
        &self.cells[r * self.width..(r + 1) * self.width]
    }
}
