//! Dense linear algebra, as `torch.linalg`: [`Tensor::linalg_solve`] (differentiable, to any
//! order) and [`Tensor::linalg_qr`] (forward only). Each is one backend call.

use crate::autodiff::{BackwardOp, Ctx};
use crate::{Result, Tensor, TensorError};

/// `X = A^-1 B`. With `G` the gradient of `X`: `dB = A^-T G` (one more solve) and
/// `dA = -dB X^T` (an outer product when `B` is a vector), written in differentiable ops so that
/// second derivatives follow.
struct SolveOp;
impl BackwardOp for SolveOp {
    fn name(&self) -> &'static str {
        "linalg_solve"
    }
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let (a, b, x) = (ctx.input(0), ctx.input(1), ctx.output());
        let gb = a.t()?.linalg_solve(g)?;
        let ga = if a.requires_grad() {
            let outer = if x.rank() == 1 {
                gb.unsqueeze(1)?.matmul(&x.unsqueeze(0)?)?
            } else {
                gb.matmul(&x.t()?)?
            };
            Some(outer.neg()?)
        } else {
            None
        };
        Ok(vec![ga, b.requires_grad().then_some(gb)])
    }
}

/// Marks the outputs of `linalg_qr`: differentiating through them is an error.
struct QrOp;
impl BackwardOp for QrOp {
    fn name(&self) -> &'static str {
        "linalg_qr"
    }
    fn backward(&self, _ctx: &Ctx<'_>, _g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Err(TensorError::Autodiff(
            "linalg_qr has no backward rule: call it on a detached tensor (or under no_grad) \
             when its result does not need gradients"
                .into(),
        ))
    }
}

impl Tensor {
    /// Solves `A X = B` for `X`, as `torch.linalg.solve(A, B)`: `self` is the square matrix `A`
    /// `[n, n]`, `b` is `[n]` (the result is `[n]`) or `[n, k]` (the result is `[n, k]`), both of
    /// one dtype (f32 or f64). LU factorization with partial pivoting (LAPACK's `gesv`).
    ///
    /// Differentiable in `A` and `B` (to any order): `dB = solve(A^T, G)`, `dA = -dB X^T`.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming both shapes when `A` is not square or `B` does not
    /// have `n` rows (batches are not supported); [`TensorError::DTypeMismatch`];
    /// [`TensorError::InvalidArgument`] when `A` is singular.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// # fn main() -> gradus_tensor::Result<()> {
    /// let a = Tensor::from_vec(vec![2.0f64, 1.0, 1.0, 3.0], &[2, 2])?;
    /// let b = Tensor::from_vec(vec![3.0f64, 5.0], &[2])?;
    /// let x = a.linalg_solve(&b)?.to_vec::<f64>()?; // 2 x + y = 3, x + 3 y = 5
    /// assert!((x[0] - 0.8).abs() < 1e-12 && (x[1] - 1.4).abs() < 1e-12);
    /// # Ok(()) }
    /// ```
    pub fn linalg_solve(&self, b: &Tensor) -> Result<Tensor> {
        self.check_same("linalg_solve", b)?;
        let square = self.rank() == 2 && self.shape()[0] == self.shape()[1];
        let fits = (b.rank() == 1 || b.rank() == 2) && b.shape()[0] == self.shape()[0];
        if !square || !fits {
            return Err(TensorError::ShapeMismatch {
                op: "linalg_solve",
                lhs: self.shape().to_vec(),
                rhs: b.shape().to_vec(),
                detail: ": A must be a square matrix [n, n] and B [n] or [n, k]".into(),
            });
        }
        let s = Tensor::read_storages(&[self, b]);
        let out = s
            .get(0)
            .linalg_solve(self.layout(), (s.get(1), b.layout()))?;
        drop(s);
        Ok(Tensor::from_op_storage(out, b.shape(), SolveOp, &[self, b]))
    }

    /// The reduced QR factorization, as `torch.linalg.qr(A, mode="reduced")`: for `self` `[m, n]`
    /// (f32 or f64), `Q` `[m, p]` with orthonormal columns and upper-trapezoidal `R` `[p, n]`,
    /// `p = min(m, n)`, with `A = Q R` (Householder reflections, as LAPACK's `geqrf`; the signs of
    /// `R`'s diagonal follow that convention, so fix them as `torch.nn.init.orthogonal_` does when
    /// they matter).
    ///
    /// Forward only: it has no backward rule, and a backward pass that reaches `Q` or `R` fails
    /// with [`TensorError::Autodiff`].
    ///
    /// # Errors
    /// [`TensorError::InvalidShape`] when `self` is not 2-D (batches are not supported).
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// # fn main() -> gradus_tensor::Result<()> {
    /// let a = Tensor::from_vec(vec![3.0f64, 1.0, 4.0, 2.0, 0.0, 5.0], &[3, 2])?;
    /// let (q, r) = a.linalg_qr()?;
    /// assert_eq!((q.shape(), r.shape()), (&[3, 2][..], &[2, 2][..]));
    /// let back = q.matmul(&r)?.to_vec::<f64>()?;
    /// assert!(back.iter().zip(a.to_vec::<f64>()?).all(|(x, y)| (x - y).abs() < 1e-12));
    /// # Ok(()) }
    /// ```
    pub fn linalg_qr(&self) -> Result<(Tensor, Tensor)> {
        if self.rank() != 2 {
            return Err(TensorError::InvalidShape {
                op: "linalg_qr",
                shape: self.shape().to_vec(),
                detail: "expected a matrix [m, n]".into(),
            });
        }
        let (m, n) = (self.shape()[0], self.shape()[1]);
        let p = m.min(n);
        let (q, r) = self.storage().linalg_qr(self.layout())?;
        Ok((
            Tensor::from_op_storage(q, &[m, p], QrOp, &[self]),
            Tensor::from_op_storage(r, &[p, n], QrOp, &[self]),
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::{DType, Rng, Tensor, TensorError};

    /// A well-conditioned `[n, n]` matrix: Gaussian plus `n` on the diagonal.
    fn matrix(n: usize, rng: &mut Rng) -> Tensor {
        let eye: Vec<f64> = (0..n * n)
            .map(|i| if i % (n + 1) == 0 { n as f64 } else { 0.0 })
            .collect();
        rng.normal(&[n, n], 0.0, 1.0, DType::F64)
            .add(&Tensor::from_vec(eye, &[n, n]).unwrap())
            .unwrap()
    }

    #[test]
    fn solve_satisfies_the_system_for_vector_and_matrix_right_sides_in_f32_and_f64() {
        let mut rng = Rng::seed(3);
        let a = matrix(5, &mut rng);
        for b in [
            rng.normal(&[5], 0.0, 1.0, DType::F64),
            rng.normal(&[5, 3], 0.0, 1.0, DType::F64),
        ] {
            for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
                let (a, b) = (a.to_dtype(dtype).unwrap(), b.to_dtype(dtype).unwrap());
                let x = a.linalg_solve(&b).unwrap();
                assert_eq!((x.shape(), x.dtype()), (b.shape(), dtype));
                let residual = a.matmul(&x).unwrap().sub(&b).unwrap().to_vec_f64();
                assert!(residual.iter().all(|r| r.abs() < tol), "{residual:?}");
            }
        }
    }

    #[test]
    fn solve_reads_strided_operands() {
        let mut rng = Rng::seed(4);
        let a = matrix(4, &mut rng);
        let b = rng.normal(&[3, 4], 0.0, 1.0, DType::F64);
        // A^T X = B^T with both operands transposed views
        let x = a.t().unwrap().linalg_solve(&b.t().unwrap()).unwrap();
        let at = a.t().unwrap().contiguous().unwrap();
        let bt = b.t().unwrap().contiguous().unwrap();
        assert_eq!(
            x.to_vec::<f64>().unwrap(),
            at.linalg_solve(&bt).unwrap().to_vec::<f64>().unwrap()
        );
    }

    #[test]
    fn solve_names_the_shapes_of_a_non_square_or_mismatched_system() {
        let a = Tensor::zeros(&[2, 3], DType::F64);
        let err = a
            .linalg_solve(&Tensor::zeros(&[2], DType::F64))
            .unwrap_err();
        assert!(matches!(err, TensorError::ShapeMismatch { .. }), "{err}");
        assert!(err.to_string().contains("[2, 3] and [2]"), "{err}");
        let a = Tensor::ones(&[3, 3], DType::F64);
        let err = a
            .linalg_solve(&Tensor::zeros(&[2, 1], DType::F64))
            .unwrap_err();
        assert!(err.to_string().contains("[3, 3] and [2, 1]"), "{err}");
        let err = a
            .linalg_solve(&Tensor::zeros(&[3], DType::F32))
            .unwrap_err();
        assert!(matches!(err, TensorError::DTypeMismatch { .. }), "{err}");
    }

    #[test]
    fn solve_reports_a_singular_matrix() {
        let a = Tensor::from_vec(vec![1.0f64, 2.0, 2.0, 4.0], &[2, 2]).unwrap();
        let err = a.linalg_solve(&Tensor::ones(&[2], DType::F64)).unwrap_err();
        assert!(err.to_string().contains("singular"), "{err}");
        let zero = Tensor::zeros(&[3, 3], DType::F32);
        let err = zero
            .linalg_solve(&Tensor::ones(&[3], DType::F32))
            .unwrap_err();
        assert!(err.to_string().contains("[3, 3] is singular"), "{err}");
    }

    #[test]
    fn qr_is_orthonormal_times_upper_triangular_for_tall_wide_and_square_inputs() {
        let mut rng = Rng::seed(6);
        for (m, n) in [(6, 4), (4, 6), (5, 5), (1, 3), (3, 1)] {
            for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
                let a = rng.normal(&[m, n], 0.0, 1.0, dtype);
                let (q, r) = a.linalg_qr().unwrap();
                let p = m.min(n);
                assert_eq!((q.shape(), r.shape()), (&[m, p][..], &[p, n][..]));
                let back = q.matmul(&r).unwrap().sub(&a).unwrap().to_vec_f64();
                assert!(
                    back.iter().all(|v| v.abs() < tol),
                    "{m}x{n}: A - QR {back:?}"
                );
                let qtq = q.t().unwrap().matmul(&q).unwrap().to_vec_f64();
                for (i, v) in qtq.iter().enumerate() {
                    let want = if i / p == i % p { 1.0 } else { 0.0 };
                    assert!((v - want).abs() < tol, "{m}x{n}: Q^T Q [{i}] = {v}");
                }
                let r = r.to_vec_f64();
                for i in 0..p {
                    for j in 0..i.min(n) {
                        assert_eq!(r[i * n + j], 0.0, "{m}x{n}: R[{i}][{j}]");
                    }
                }
            }
        }
    }

    #[test]
    fn empty_systems_and_matrices_give_empty_results() {
        let a = Tensor::zeros(&[0, 0], DType::F64);
        let x = a.linalg_solve(&Tensor::zeros(&[0, 2], DType::F64)).unwrap();
        assert_eq!(x.shape(), &[0, 2]);
        for (m, n) in [(0, 3), (3, 0)] {
            let (q, r) = Tensor::zeros(&[m, n], DType::F32).linalg_qr().unwrap();
            assert_eq!((q.shape(), r.shape()), (&[m, 0][..], &[0, n][..]));
        }
    }

    #[test]
    fn qr_rejects_non_matrices_and_refuses_to_differentiate() {
        let err = Tensor::zeros(&[4], DType::F64).linalg_qr().unwrap_err();
        assert!(err.to_string().contains("[4]"), "{err}");
        let a = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2])
            .unwrap()
            .requires_grad_(true);
        let (q, _) = a.linalg_qr().unwrap();
        let err = q.sum_all().unwrap().backward().unwrap_err();
        assert!(
            err.to_string().contains("linalg_qr has no backward"),
            "{err}"
        );
        // detached, it works as a plain function
        let (q, _) = a.detach().linalg_qr().unwrap();
        assert!(!q.requires_grad());
    }
}
