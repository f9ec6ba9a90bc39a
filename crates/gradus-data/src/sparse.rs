//! A compressed sparse row (CSR) matrix, as read from libsvm files.

use crate::DataError;

/// A compressed sparse row matrix of `f32` with 0-based `u32` column indices.
///
/// ```
/// use gradus_data::libsvm::read_libsvm_from;
/// use gradus_data::TargetKind;
/// let sp = read_libsvm_from("1 2:0.5\n".as_bytes(), "x.svm", TargetKind::Value, None)?;
/// assert_eq!(sp.x.row(0), (&[1u32][..], &[0.5f32][..]));
/// # Ok::<(), gradus_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CsrMatrix {
    row_ptr: Vec<usize>,
    col_indices: Vec<u32>,
    values: Vec<f32>,
    n_cols: usize,
}

impl CsrMatrix {
    /// Assembles a matrix from arrays the caller has already made consistent.
    pub(crate) fn from_parts(
        row_ptr: Vec<usize>,
        col_indices: Vec<u32>,
        values: Vec<f32>,
        n_cols: usize,
    ) -> Self {
        debug_assert!(row_ptr.first() == Some(&0) && row_ptr.last() == Some(&values.len()));
        debug_assert!(col_indices.len() == values.len());
        CsrMatrix {
            row_ptr,
            col_indices,
            values,
            n_cols,
        }
    }

    /// Number of rows.
    ///
    /// ```
    /// # let sp = gradus_data::libsvm::read_libsvm_from("1 1:2\n0 2:3\n".as_bytes(), "x",
    /// #     gradus_data::TargetKind::Value, None).unwrap();
    /// assert_eq!(sp.x.n_rows(), 2);
    /// ```
    pub fn n_rows(&self) -> usize {
        self.row_ptr.len() - 1
    }

    /// Number of columns (features).
    ///
    /// ```
    /// # let sp = gradus_data::libsvm::read_libsvm_from("1 1:2\n0 2:3\n".as_bytes(), "x",
    /// #     gradus_data::TargetKind::Value, None).unwrap();
    /// assert_eq!(sp.x.n_cols(), 2);
    /// ```
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Number of stored (non-zero) entries.
    ///
    /// ```
    /// # let sp = gradus_data::libsvm::read_libsvm_from("1 1:2 3:1\n".as_bytes(), "x",
    /// #     gradus_data::TargetKind::Value, None).unwrap();
    /// assert_eq!(sp.x.nnz(), 2);
    /// ```
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// Row offsets: row `i` is `row_ptr[i]..row_ptr[i + 1]` (length `n_rows + 1`).
    ///
    /// ```
    /// # let sp = gradus_data::libsvm::read_libsvm_from("1 1:2 3:1\n0\n".as_bytes(), "x",
    /// #     gradus_data::TargetKind::Value, None).unwrap();
    /// assert_eq!(sp.x.row_ptr(), &[0, 2, 2]);
    /// ```
    pub fn row_ptr(&self) -> &[usize] {
        &self.row_ptr
    }

    /// 0-based column index of each stored entry.
    ///
    /// ```
    /// # let sp = gradus_data::libsvm::read_libsvm_from("1 1:2 3:1\n".as_bytes(), "x",
    /// #     gradus_data::TargetKind::Value, None).unwrap();
    /// assert_eq!(sp.x.col_indices(), &[0, 2]);
    /// ```
    pub fn col_indices(&self) -> &[u32] {
        &self.col_indices
    }

    /// Value of each stored entry.
    ///
    /// ```
    /// # let sp = gradus_data::libsvm::read_libsvm_from("1 1:2 3:1\n".as_bytes(), "x",
    /// #     gradus_data::TargetKind::Value, None).unwrap();
    /// assert_eq!(sp.x.values(), &[2.0, 1.0]);
    /// ```
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Column indices and values of row `i`.
    ///
    /// # Panics
    /// If `i >= n_rows()`.
    ///
    /// ```
    /// # let sp = gradus_data::libsvm::read_libsvm_from("1 1:2\n0 3:1\n".as_bytes(), "x",
    /// #     gradus_data::TargetKind::Value, None).unwrap();
    /// assert_eq!(sp.x.row(1), (&[2u32][..], &[1.0f32][..]));
    /// ```
    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let range = self.row_ptr[i]..self.row_ptr[i + 1];
        (&self.col_indices[range.clone()], &self.values[range])
    }

    /// The dense row-major matrix, `n_rows x n_features`; `n_features` must be
    /// at least `n_cols()` (pad, e.g. to 123 for `a9a.t`).
    ///
    /// ```
    /// # let sp = gradus_data::libsvm::read_libsvm_from("1 2:5\n".as_bytes(), "x",
    /// #     gradus_data::TargetKind::Value, None).unwrap();
    /// assert_eq!(sp.x.to_dense(3)?, vec![0.0, 5.0, 0.0]);
    /// assert!(sp.x.to_dense(1).is_err());
    /// # Ok::<(), gradus_data::DataError>(())
    /// ```
    pub fn to_dense(&self, n_features: usize) -> Result<Vec<f32>, DataError> {
        if n_features < self.n_cols {
            return Err(DataError::invalid(format!(
                "to_dense({n_features}) but the matrix has {} columns",
                self.n_cols
            )));
        }
        let len = self
            .n_rows()
            .checked_mul(n_features)
            .filter(|&len| len <= isize::MAX as usize / 4)
            .ok_or_else(|| DataError::invalid("dense matrix would be too large"))?;
        let mut dense = vec![0.0; len];
        for i in 0..self.n_rows() {
            let (cols, vals) = self.row(i);
            for (&c, &v) in cols.iter().zip(vals) {
                dense[i * n_features + c as usize] = v;
            }
        }
        Ok(dense)
    }
}
