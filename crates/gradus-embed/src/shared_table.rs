//! `SharedTable`: a `[rows, dim]` table of floats that several threads read and write without
//! locks (Hogwild, Recht et al. 2011), soundly: each float lives in an atomic integer of its
//! width, read and written with `Relaxed` loads and stores.
//!
//! Why atomics: word2vec's C tool and gensim's workers let threads race on plain floats, which
//! in Rust would be a data race, undefined behaviour. A `Relaxed` load or store of an
//! `AtomicU32` compiles to the same plain `mov` on x86-64 and AArch64, so the tables cost no
//! more to share; what it gives up is what Hogwild gives up anyway: updates of one row by two
//! threads may interleave element by element (a row can mix two updates; no element is ever
//! torn), so results with more than one thread are not bitwise reproducible.

use gradus_tensor::Element;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// A float that [`SharedTable`] stores as the bits of an atomic integer of its width
/// (`f32` in `AtomicU32`, `f64` in `AtomicU64`).
pub trait AtomicFloat: Element {
    /// The atomic integer holding the bits.
    type Cell: Send + Sync;
    /// A cell holding `self`.
    fn cell(self) -> Self::Cell;
    /// A `Relaxed` load.
    fn load(cell: &Self::Cell) -> Self;
    /// A `Relaxed` store.
    fn store(cell: &Self::Cell, value: Self);
}

impl AtomicFloat for f32 {
    type Cell = AtomicU32;
    fn cell(self) -> AtomicU32 {
        AtomicU32::new(self.to_bits())
    }
    fn load(cell: &AtomicU32) -> f32 {
        f32::from_bits(cell.load(Relaxed))
    }
    fn store(cell: &AtomicU32, value: f32) {
        cell.store(value.to_bits(), Relaxed)
    }
}

impl AtomicFloat for f64 {
    type Cell = AtomicU64;
    fn cell(self) -> AtomicU64 {
        AtomicU64::new(self.to_bits())
    }
    fn load(cell: &AtomicU64) -> f64 {
        f64::from_bits(cell.load(Relaxed))
    }
    fn store(cell: &AtomicU64, value: f64) {
        cell.store(value.to_bits(), Relaxed)
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
    /// `[rows · dim]`
    cells: Vec<T::Cell>,
    dim: usize,
}

impl<T: AtomicFloat> SharedTable<T> {
    /// A table holding a copy of `values` (`[rows, dim]` row-major; a partial last row is
    /// dropped).
    pub fn new(values: &[T], dim: usize) -> SharedTable<T> {
        let dim = dim.max(1);
        let n = values.len() / dim * dim;
        SharedTable {
            cells: values[..n].iter().map(|&x| x.cell()).collect(),
            dim,
        }
    }

    /// The row length.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The number of values, `rows · dim`.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Copies row `r` into `out` (`dim` values), element by element.
    ///
    /// # Panics
    /// When `r` is not a row or `out` is shorter than `dim`.
    pub fn load_row(&self, r: usize, out: &mut [T]) {
        let row = &self.cells[r * self.dim..(r + 1) * self.dim];
        out[..self.dim]
            .iter_mut()
            .zip(row)
            .for_each(|(o, c)| *o = T::load(c));
    }

    /// Writes `values` (`dim` of them) into row `r`, element by element.
    ///
    /// # Panics
    /// When `r` is not a row or `values` is shorter than `dim`.
    pub fn store_row(&self, r: usize, values: &[T]) {
        let row = &self.cells[r * self.dim..(r + 1) * self.dim];
        row.iter().zip(values).for_each(|(c, &v)| T::store(c, v));
    }

    /// A copy of the whole table, `[rows · dim]`.
    pub fn to_vec(&self) -> Vec<T> {
        self.cells.iter().map(T::load).collect()
    }
}
