//! Elementwise functions of two and three tensors on the CPU: broadcasting zips over strided
//! views (arithmetic, comparisons, masks, `mul_add`, `where`).

use super::kernels::elementwise;
use super::CpuStorage;
use crate::backend::BackendStorage;
use crate::layout::Layout;
use crate::ops::binary::{BinaryKernel, TernaryKernel};
use crate::{Element, Result, TensorError};

/// `k.f(a, b)` per element of two views broadcast to the output shape: one pass over contiguous
/// slices when both views are contiguous, else a row-wise strided zip (stride-0 rows read one
/// value).
pub(crate) fn binary<K: BinaryKernel>(
    a: &CpuStorage,
    la: &Layout,
    b: &CpuStorage,
    lb: &Layout,
    k: K,
) -> Result<CpuStorage> {
    fn go<T: Element, K: BinaryKernel>(
        a: &CpuStorage,
        la: &Layout,
        b: &CpuStorage,
        lb: &Layout,
        k: K,
    ) -> CpuStorage {
        let f = |x: T, y: T| k.f(x, y);
        let (a, b) = (a.slice::<T>(), b.slice::<T>());
        let data = if la.is_contiguous() && lb.is_contiguous() {
            let n = la.numel();
            let (x, y) = (&a[la.offset..la.offset + n], &b[lb.offset..lb.offset + n]);
            elementwise::zip(x, y, f)
        } else {
            elementwise::zip_strided(a, la, b, lb, f)
        };
        CpuStorage::from_vec(data)
    }
    match (a, b) {
        (CpuStorage::F32(_), CpuStorage::F32(_)) => Ok(go::<f32, K>(a, la, b, lb, k)),
        (CpuStorage::F64(_), CpuStorage::F64(_)) => Ok(go::<f64, K>(a, la, b, lb, k)),
        _ => Err(dtype_mismatch(K::NAME, a, b)),
    }
}

/// `k.f(a, b, c)` per element of three views broadcast to the output shape: one fused pass over
/// contiguous slices (non-contiguous views are gathered first).
pub(crate) fn ternary<K: TernaryKernel>(
    a: &CpuStorage,
    la: &Layout,
    (b, lb): (&CpuStorage, &Layout),
    (c, lc): (&CpuStorage, &Layout),
    k: K,
) -> Result<CpuStorage> {
    fn go<T: Element, K: TernaryKernel>(
        a: (&CpuStorage, &Layout),
        b: (&CpuStorage, &Layout),
        c: (&CpuStorage, &Layout),
        k: K,
    ) -> CpuStorage {
        let data = a.0.with_view(a.1, |x: &[T]| {
            b.0.with_view(b.1, |y: &[T]| {
                c.0.with_view(c.1, |z: &[T]| {
                    elementwise::zip3(x, y, z, |x, y, z| k.f(x, y, z))
                })
            })
        });
        CpuStorage::from_vec(data)
    }
    if a.dtype() != b.dtype() {
        return Err(dtype_mismatch(K::NAME, a, b));
    }
    if a.dtype() != c.dtype() {
        return Err(dtype_mismatch(K::NAME, a, c));
    }
    Ok(match a {
        CpuStorage::F32(_) => go::<f32, K>((a, la), (b, lb), (c, lc), k),
        CpuStorage::F64(_) => go::<f64, K>((a, la), (b, lb), (c, lc), k),
        _ => super::half::not_widened(a),
    })
}

pub(crate) fn dtype_mismatch(op: &'static str, a: &CpuStorage, b: &CpuStorage) -> TensorError {
    TensorError::DTypeMismatch {
        op,
        lhs: a.dtype(),
        rhs: b.dtype(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy)]
    struct Sub;
    impl BinaryKernel for Sub {
        const NAME: &'static str = "sub";
        fn f<T: Element>(&self, a: T, b: T) -> T {
            a - b
        }
    }

    #[derive(Clone, Copy)]
    struct MulAdd;
    impl TernaryKernel for MulAdd {
        const NAME: &'static str = "mul_add";
        fn f<T: Element>(&self, a: T, b: T, c: T) -> T {
            a * b + c
        }
    }

    fn values(s: &CpuStorage) -> Vec<f64> {
        s.slice::<f64>().to_vec()
    }

    #[test]
    fn strided_and_broadcast_views_match_the_contiguous_zip() {
        // a: [2, 3] seen through its transpose [3, 2]; b: [2] broadcast to [3, 2]
        let a = CpuStorage::from_vec((0..6).map(f64::from).collect::<Vec<_>>());
        let b = CpuStorage::from_vec(vec![10.0, 20.0]);
        let la = Layout::contiguous(&[2, 3]).permute(&[1, 0]);
        let lb = Layout::contiguous(&[2]).broadcast_to(&[3, 2]);
        let strided = binary(&a, &la, &b, &lb, Sub).unwrap();
        // the same operands written out contiguously
        let a_dense = CpuStorage::from_vec(vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        let b_dense = CpuStorage::from_vec(vec![10.0, 20.0, 10.0, 20.0, 10.0, 20.0]);
        let dense = Layout::contiguous(&[3, 2]);
        let contiguous = binary(&a_dense, &dense, &b_dense, &dense, Sub).unwrap();
        assert_eq!(
            values(&strided),
            vec![-10.0, -17.0, -9.0, -16.0, -8.0, -15.0]
        );
        assert_eq!(values(&strided), values(&contiguous));
    }

    #[test]
    fn a_ternary_kernel_reads_strided_and_broadcast_views() {
        let a = CpuStorage::from_vec(vec![1.0, 2.0, 3.0, 4.0]);
        let b = CpuStorage::from_vec(vec![10.0]);
        let c = CpuStorage::from_vec(vec![0.5, 0.25]);
        let la = Layout::contiguous(&[2, 2]).permute(&[1, 0]);
        let lb = Layout::contiguous(&[]).broadcast_to(&[2, 2]);
        let lc = Layout::contiguous(&[2, 1]).broadcast_to(&[2, 2]);
        let out = ternary(&a, &la, (&b, &lb), (&c, &lc), MulAdd).unwrap();
        assert_eq!(values(&out), vec![10.5, 30.5, 20.25, 40.25]);
    }

    #[test]
    fn operands_of_different_dtypes_are_an_error_not_a_panic() {
        let a = CpuStorage::from_vec(vec![1.0f32]);
        let b = CpuStorage::from_vec(vec![1.0f64]);
        let l = Layout::contiguous(&[1]);
        let err = binary(&a, &l, &b, &l, Sub).unwrap_err();
        assert!(matches!(err, TensorError::DTypeMismatch { op: "sub", .. }));
        let err = ternary(&a, &l, (&a, &l), (&b, &l), MulAdd).unwrap_err();
        assert!(matches!(
            err,
            TensorError::DTypeMismatch { op: "mul_add", .. }
        ));
    }
}
