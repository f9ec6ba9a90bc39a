//! Dense linear algebra on the CPU, delegated to `faer`: `A X = B` by LU with partial pivoting
//! (LAPACK's `gesv`, as `torch.linalg.solve`) and the reduced Householder QR
//! (`torch.linalg.qr(mode="reduced")`).
//!
//! Every factorization runs sequentially (`Par::Seq`), so results do not depend on the thread
//! count, as the GEMM's panels do not.

use super::CpuStorage;
use crate::backend::BackendStorage;
use crate::dtype::with_dtype;
use crate::layout::Layout;
use crate::{Element, Result, TensorError};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::{householder, lu::partial_pivoting as lu, qr::no_pivoting::factor as qr};
use faer::{Conj, Mat, Par};

/// A column-major copy of the row-major `[rows, cols]` values `v`.
fn to_mat<T: Element + faer::traits::ComplexField>(v: &[T], rows: usize, cols: usize) -> Mat<T> {
    Mat::from_fn(rows, cols, |i, j| v[i * cols + j])
}

/// The row-major values of `m`.
fn from_mat<T: Element + faer::traits::ComplexField>(m: &Mat<T>) -> Vec<T> {
    let (rows, cols) = (m.nrows(), m.ncols());
    (0..rows * cols).map(|i| m[(i / cols, i % cols)]).collect()
}

/// `A X = B`: `a` the row-major `[n, n]` values, `b` the row-major `[n, k]` values.
fn solve<T: Element + faer::traits::ComplexField>(
    a: &[T],
    b: &[T],
    n: usize,
    k: usize,
) -> Result<Vec<T>> {
    let mut lu_mat = to_mat(a, n, n);
    let (mut fwd, mut bwd) = (vec![0usize; n], vec![0usize; n]);
    let par = Par::Seq;
    let scratch = lu::factor::lu_in_place_scratch::<usize, T>(n, n, par, Default::default())
        .or(lu::solve::solve_in_place_scratch::<usize, T>(n, k, par));
    let mut mem = MemBuffer::new(scratch);
    let (_, perm) = lu::factor::lu_in_place(
        lu_mat.as_mut(),
        &mut fwd,
        &mut bwd,
        par,
        MemStack::new(&mut mem),
        Default::default(),
    );
    if let Some(i) = (0..n).find(|&i| lu_mat[(i, i)] == T::zero()) {
        return Err(TensorError::InvalidArgument {
            op: "linalg_solve",
            detail: format!(
                "the matrix A of shape [{n}, {n}] is singular: pivot {i} of its LU factorization \
                 with partial pivoting is zero"
            ),
        });
    }
    let mut x = to_mat(b, n, k);
    lu::solve::solve_in_place(
        lu_mat.as_ref(),
        lu_mat.as_ref(),
        perm,
        x.as_mut(),
        par,
        MemStack::new(&mut mem),
    );
    Ok(from_mat(&x))
}

/// `A X = B` for the square view `la` of `a` (`[n, n]`) and the view `lb` of `b` (`[n]` or
/// `[n, k]`); shapes and dtypes were checked by the op.
pub(crate) fn linalg_solve(
    a: &CpuStorage,
    la: &Layout,
    (b, lb): (&CpuStorage, &Layout),
) -> Result<CpuStorage> {
    let n = la.shape[0];
    let k = lb.shape.get(1).copied().unwrap_or(1);
    with_dtype!(a.dtype(), T => {
        let x = solve::<T>(&a.view::<T>(la), &b.view::<T>(lb), n, k)?;
        Ok(CpuStorage::from_vec(x))
    })
}

/// The reduced QR of the row-major `[m, n]` values `a`: `Q` `[m, p]`, `R` `[p, n]`, `p = min(m, n)`.
fn qr_reduced<T: Element + faer::traits::ComplexField>(
    a: &[T],
    m: usize,
    n: usize,
) -> (Vec<T>, Vec<T>) {
    let p = m.min(n);
    let mut factors = to_mat(a, m, n);
    if p == 0 {
        return (vec![T::zero(); m * p], vec![T::zero(); p * n]);
    }
    let par = Par::Seq;
    let block = qr::recommended_block_size::<T>(m, n);
    let mut coeff = Mat::<T>::zeros(block, p);
    let scratch = qr::qr_in_place_scratch::<T>(m, n, block, par, Default::default()).or(
        householder::apply_block_householder_sequence_on_the_left_in_place_scratch::<T>(
            m, block, p,
        ),
    );
    let mut mem = MemBuffer::new(scratch);
    qr::qr_in_place(
        factors.as_mut(),
        coeff.as_mut(),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    );
    // R: the upper trapezoid of the first p rows; the Householder basis: the unit lower part
    let r = Mat::from_fn(
        p,
        n,
        |i, j| {
            if j >= i {
                factors[(i, j)]
            } else {
                T::zero()
            }
        },
    );
    let basis = Mat::from_fn(m, p, |i, j| match i.cmp(&j) {
        std::cmp::Ordering::Greater => factors[(i, j)],
        std::cmp::Ordering::Equal => T::one(),
        std::cmp::Ordering::Less => T::zero(),
    });
    let mut q = Mat::<T>::identity(m, p);
    householder::apply_block_householder_sequence_on_the_left_in_place_with_conj(
        basis.as_ref(),
        coeff.as_ref(),
        Conj::No,
        q.as_mut(),
        par,
        MemStack::new(&mut mem),
    );
    (from_mat(&q), from_mat(&r))
}

/// The reduced QR of the `[m, n]` view `layout`: `(Q [m, min(m, n)], R [min(m, n), n])`.
pub(crate) fn linalg_qr(a: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, CpuStorage)> {
    let (m, n) = (layout.shape[0], layout.shape[1]);
    with_dtype!(a.dtype(), T => {
        let (q, r) = qr_reduced::<T>(&a.view::<T>(layout), m, n);
        Ok((CpuStorage::from_vec(q), CpuStorage::from_vec(r)))
    })
}
