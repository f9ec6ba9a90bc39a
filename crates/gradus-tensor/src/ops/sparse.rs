//! Sparse × dense matrix product (`torch.sparse.mm`): a constant sparse matrix in compressed
//! sparse row (CSR) form times a dense `[cols, n]` tensor, with a gradient for the dense operand.
//!
//! The sparse matrix is a constant of the graph (a normalized adjacency, a bag-of-words
//! projection): its values get no gradient. The backward rule, `dX = Aᵀ dY`, is the same op with
//! the transpose (kept beside the matrix), so it is itself differentiable and second derivatives
//! work as for every other op.

use crate::autodiff::{BackwardOp, Ctx};
use crate::{DType, Device, Element, Result, Storage, Tensor, TensorError};
use rayon::prelude::*;
use std::sync::Arc;

/// Rows of output computed per parallel task; below two chunks the product runs on one thread.
const ROWS_PER_TASK: usize = 256;

/// The CSR arrays of one matrix.
#[derive(Debug)]
struct Csr {
    rows: usize,
    cols: usize,
    /// `[rows + 1]`: row `i`'s entries are `indptr[i]..indptr[i + 1]`
    indptr: Vec<usize>,
    /// `[nnz]` column of each entry, ascending within a row
    indices: Vec<usize>,
    /// `[nnz]`
    values: Vec<f64>,
}

impl Csr {
    /// CSR from triplets; duplicates add up (as `torch.sparse_coo_tensor(...).coalesce()`).
    fn from_triplets(rows: usize, cols: usize, mut t: Vec<(usize, usize, f64)>) -> Csr {
        t.sort_by_key(|&(r, c, _)| (r, c));
        let mut indptr = vec![0usize; rows + 1];
        let mut indices = Vec::with_capacity(t.len());
        let mut values: Vec<f64> = Vec::with_capacity(t.len());
        let mut last: Option<(usize, usize)> = None;
        for (r, c, v) in t {
            if last == Some((r, c)) {
                *values.last_mut().expect("a previous entry") += v;
                continue;
            }
            last = Some((r, c));
            indptr[r + 1] += 1;
            indices.push(c);
            values.push(v);
        }
        for i in 0..rows {
            indptr[i + 1] += indptr[i];
        }
        Csr {
            rows,
            cols,
            indptr,
            indices,
            values,
        }
    }

    fn transpose(&self) -> Csr {
        let mut t = Vec::with_capacity(self.values.len());
        for r in 0..self.rows {
            for k in self.indptr[r]..self.indptr[r + 1] {
                t.push((self.indices[k], r, self.values[k]));
            }
        }
        Csr::from_triplets(self.cols, self.rows, t)
    }

    /// `self [rows, cols] @ x [cols, n]`, row-major, summing each row's entries in column order.
    fn matmul<T: Element>(&self, x: &[T], n: usize) -> Vec<T> {
        let mut out = vec![T::zero(); self.rows * n];
        let row = |(i, y): (usize, &mut [T])| {
            for k in self.indptr[i]..self.indptr[i + 1] {
                let a = T::from_f64(self.values[k]);
                let xr = &x[self.indices[k] * n..(self.indices[k] + 1) * n];
                for (yj, &xj) in y.iter_mut().zip(xr) {
                    *yj = *yj + a * xj;
                }
            }
        };
        if n == 0 {
            return out;
        }
        if self.rows >= 2 * ROWS_PER_TASK {
            crate::threads::warm();
            out.par_chunks_mut(n).enumerate().for_each(row);
        } else {
            out.chunks_mut(n).enumerate().for_each(row);
        }
        out
    }
}

/// A constant sparse matrix `[rows, cols]` in CSR form, with its transpose for the backward rule.
/// Cheap to clone (shared).
///
/// ```
/// use gradus_tensor::{ops::sparse::SparseMatrix, Tensor};
/// // [[0, 2], [1, 0]]
/// let a = SparseMatrix::from_triplets(2, 2, &[(0, 1, 2.0), (1, 0, 1.0)]).unwrap();
/// let x = Tensor::from_vec(vec![1.0f32, 10.0, 3.0, 30.0], &[2, 2]).unwrap();
/// assert_eq!(a.matmul(&x).unwrap().to_vec::<f32>().unwrap(), vec![6.0, 60.0, 1.0, 10.0]);
/// assert_eq!(a.nnz(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct SparseMatrix {
    a: Arc<Csr>,
    at: Arc<Csr>,
}

impl SparseMatrix {
    /// A `[rows, cols]` matrix from `(row, col, value)` triplets (COO); duplicate positions add up.
    ///
    /// # Errors
    /// [`TensorError::InvalidIndex`] (op `sparse_matrix`) for a row or column out of range,
    /// giving the triplet's position and the offending index; [`TensorError::InvalidArgument`]
    /// for a non-finite value.
    pub fn from_triplets(
        rows: usize,
        cols: usize,
        triplets: &[(usize, usize, f64)],
    ) -> Result<SparseMatrix> {
        for (i, &(r, c, v)) in triplets.iter().enumerate() {
            for (axis, (idx, size)) in [(r, rows), (c, cols)].into_iter().enumerate() {
                if idx >= size {
                    return Err(TensorError::InvalidIndex {
                        op: "sparse_matrix",
                        position: vec![i, axis],
                        value: idx as f64,
                        size,
                    });
                }
            }
            if !v.is_finite() {
                return Err(TensorError::InvalidArgument {
                    op: "sparse_matrix",
                    detail: format!("triplet {i} ({r}, {c}) has the non-finite value {v}"),
                });
            }
        }
        let a = Csr::from_triplets(rows, cols, triplets.to_vec());
        let at = a.transpose();
        Ok(SparseMatrix {
            a: Arc::new(a),
            at: Arc::new(at),
        })
    }

    /// `[rows, cols]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.a.rows, self.a.cols]
    }

    /// Number of stored entries (after merging duplicates).
    pub fn nnz(&self) -> usize {
        self.a.values.len()
    }

    /// The transpose `[cols, rows]` (no copy: both orientations are kept).
    pub fn t(&self) -> SparseMatrix {
        SparseMatrix {
            a: self.at.clone(),
            at: self.a.clone(),
        }
    }

    /// The stored entries as `(row, col, value)` triplets, row by row, columns ascending.
    pub fn triplets(&self) -> Vec<(usize, usize, f64)> {
        let a = &self.a;
        (0..a.rows)
            .flat_map(|r| {
                (a.indptr[r]..a.indptr[r + 1]).map(move |k| (r, a.indices[k], a.values[k]))
            })
            .collect()
    }

    /// The dense matrix, `[rows, cols]` (for tests and small matrices).
    pub fn to_dense(&self, dtype: DType) -> Tensor {
        let [r, c] = self.shape();
        let mut d = vec![0.0f64; r * c];
        for (i, j, v) in self.triplets() {
            d[i * c + j] += v;
        }
        let t = Tensor::from_data(d, &[r, c]);
        match dtype {
            DType::F64 => t,
            d => t.to_dtype(d).expect("a cast of a fresh tensor"),
        }
    }

    /// `self [rows, cols] @ x [cols, n]` -> `[rows, n]` in `x`'s dtype (the values are rounded
    /// to it), differentiable in `x`: `dx = selfᵀ @ dy`. Each output row sums its entries in
    /// column order, so results do not depend on the number of threads. Work and memory are
    /// `O(nnz · n)`: the dense matrix is never formed.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] (op `sparse_matmul`) unless `x` is 2-D with `cols` rows.
    pub fn matmul(&self, x: &Tensor) -> Result<Tensor> {
        let [rows, cols] = self.shape();
        if x.rank() != 2 || x.shape()[0] != cols {
            return Err(TensorError::ShapeMismatch {
                op: "sparse_matmul",
                lhs: vec![rows, cols],
                rhs: x.shape().to_vec(),
                detail: ": the dense operand must be [cols, n]".into(),
            });
        }
        let n = x.shape()[1];
        let storage = match x.dtype() {
            DType::F32 => self.product::<f32>(x, n)?,
            DType::F64 => self.product::<f64>(x, n)?,
            // 16 bits: products and sums in f32, the result rounded once
            d @ (DType::BF16 | DType::F16) => self
                .product::<f32>(&x.to_dtype(DType::F32)?, n)?
                .cast(&crate::layout::Layout::contiguous(&[rows, n]), d)?,
        };
        Ok(Tensor::from_op_storage(
            storage,
            &[rows, n],
            SparseMatmulOp { a: self.clone() },
            &[x],
        ))
    }

    fn product<T: Element>(&self, x: &Tensor, n: usize) -> Result<Storage> {
        let out = x.with_data(|xs: &[T]| self.a.matmul(xs, n))?;
        Storage::from_host_vec(Device::Cpu, out)
    }
}

struct SparseMatmulOp {
    a: SparseMatrix,
}
impl BackwardOp for SparseMatmulOp {
    fn name(&self) -> &'static str {
        "sparse_matmul"
    }
    // Y = A X:  dX = Aᵀ dY  (A is a constant)
    fn backward(&self, _ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(self.a.t().matmul(g)?)])
    }
}

#[cfg(test)]
mod tests {
    use super::SparseMatrix;
    use crate::{autodiff, gradcheck, gradgradcheck, DType, GradcheckOptions, Rng, Tensor};

    fn random_sparse(rows: usize, cols: usize, nnz: usize, rng: &mut Rng) -> SparseMatrix {
        let u = rng.uniform(&[nnz, 3], 0.0, 1.0, DType::F64).to_vec_f64();
        let t: Vec<_> = u
            .chunks(3)
            .map(|c| {
                let r = ((c[0] * rows as f64) as usize).min(rows - 1);
                let k = ((c[1] * cols as f64) as usize).min(cols - 1);
                (r, k, c[2] * 2.0 - 1.0)
            })
            .collect();
        SparseMatrix::from_triplets(rows, cols, &t).unwrap()
    }

    #[test]
    fn matmul_equals_the_dense_product_with_duplicates_summed() {
        let mut rng = Rng::seed(1);
        let a = random_sparse(600, 40, 3000, &mut rng); // > 2 chunks: the parallel path
        let x = rng.normal(&[40, 5], 0.0, 1.0, DType::F64);
        let sparse = a.matmul(&x).unwrap().to_vec_f64();
        let dense = a.to_dense(DType::F64).matmul(&x).unwrap().to_vec_f64();
        for (s, d) in sparse.iter().zip(&dense) {
            assert!((s - d).abs() < 1e-12, "{s} vs {d}");
        }
        let dup = SparseMatrix::from_triplets(1, 1, &[(0, 0, 1.0), (0, 0, 2.5)]).unwrap();
        assert_eq!((dup.nnz(), dup.triplets()), (1, vec![(0, 0, 3.5)]));
    }

    #[test]
    fn transpose_swaps_the_entries() {
        let a = SparseMatrix::from_triplets(2, 3, &[(0, 2, 1.5), (1, 0, -2.0)]).unwrap();
        assert_eq!(a.t().shape(), [3, 2]);
        assert_eq!(a.t().triplets(), vec![(0, 1, -2.0), (2, 0, 1.5)]);
    }

    #[test]
    fn gradient_and_second_derivative_match_central_differences() {
        // y = A x: dL/dx = Aᵀ g. Checked through a nonlinearity so the second derivative is nonzero.
        let mut rng = Rng::seed(2);
        let a = random_sparse(7, 5, 14, &mut rng);
        let x = rng.normal(&[5, 3], 0.0, 1.0, DType::F64);
        let f = |xs: &[Tensor]| a.matmul(&xs[0])?.tanh();
        gradcheck(f, std::slice::from_ref(&x), GradcheckOptions::default()).unwrap();
        gradgradcheck(f, &[x], GradcheckOptions::default()).unwrap();
    }

    #[test]
    fn f32_matches_f64() {
        let mut rng = Rng::seed(3);
        let a = random_sparse(9, 4, 20, &mut rng);
        let x = rng.normal(&[4, 2], 0.0, 1.0, DType::F64);
        let y64 = a.matmul(&x).unwrap().to_vec_f64();
        let y32 = a.matmul(&x.to_dtype(DType::F32).unwrap()).unwrap();
        assert_eq!(y32.dtype(), DType::F32);
        for (p, q) in y32.to_vec_f64().iter().zip(&y64) {
            assert!((p - q).abs() < 1e-5);
        }
        let w = x.requires_grad_(true);
        let y = autodiff::no_grad(|| a.matmul(&w)).unwrap();
        assert!(!y.requires_grad());
    }

    #[test]
    fn bad_shapes_and_indices_are_errors_naming_the_op() {
        let a = SparseMatrix::from_triplets(2, 3, &[(0, 0, 1.0)]).unwrap();
        let e = a.matmul(&Tensor::ones(&[2, 2], DType::F32)).unwrap_err();
        assert!(e.to_string().contains("sparse_matmul"), "{e}");
        let e = SparseMatrix::from_triplets(2, 3, &[(0, 0, 1.0), (0, 3, 1.0)]).unwrap_err();
        assert!(e.to_string().contains("sparse_matrix"), "{e}");
        assert!(SparseMatrix::from_triplets(1, 1, &[(0, 0, f64::NAN)]).is_err());
    }
}
