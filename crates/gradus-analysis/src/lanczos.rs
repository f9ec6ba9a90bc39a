//! The Lanczos iteration with full reorthogonalization on the Hessian, matrix-free (Golub & Van
//! Loan, *Matrix Computations*, §10.1; PyHessian's `density` runs the same iteration). After `m`
//! steps the tridiagonal `T = QᵀHQ` (m × m) has Ritz values that converge to the extreme
//! eigenvalues of `H` first; its eigenvectors give the Gauss quadrature that stochastic Lanczos
//! quadrature uses. The small eigenproblem of `T` is solved densely by faer.
//!
//! faer 0.24 also has a matrix-free partial eigensolver (`partial_self_adjoint_eigen`, Krylov-Schur
//! on host `Mat` columns through an infallible `LinOp`); the iteration here keeps the Lanczos
//! vectors as tensors on the parameters' device, lets a failing Hessian-vector product return its
//! error, and exposes `T` itself, which the density needs.

use crate::vector::{self, ParamVector};
use crate::{AnalysisError, Objective, Result};
use faer::{Mat, Side};
use gradus_tensor::{DType, Tensor};
use serde::Serialize;

/// The result of `m` Lanczos steps: the tridiagonal matrix `T` and the last residual norm.
#[derive(Clone, Debug, PartialEq)]
pub struct Tridiagonal {
    /// `T`'s diagonal `α₁ … α_m`.
    pub alpha: Vec<f64>,
    /// `T`'s off-diagonal `β₁ … β_{m-1}`.
    pub beta: Vec<f64>,
    /// `β_m`, the norm of the residual after the last step; 0 when the Krylov space was exhausted
    /// (the Ritz values are then exact eigenvalues).
    pub residual: f64,
}

/// The eigenpairs of `T`: Ritz values and what the spectrum and the quadrature need of the
/// eigenvectors.
#[derive(Clone, Debug, PartialEq)]
pub struct Ritz {
    /// Ritz values, ascending.
    pub values: Vec<f64>,
    /// `|β_m · s_{m,i}|`: the residual norm `‖H y_i − θ_i y_i‖` of each Ritz pair, a bound on its
    /// distance to an eigenvalue of `H`.
    pub residuals: Vec<f64>,
    /// `s_{1,i}²`: the Gauss quadrature weights of the start vector (they sum to 1).
    pub weights: Vec<f64>,
}

/// An eigenvalue estimate with its error bound.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Eigenvalue {
    /// The Ritz value.
    pub value: f64,
    /// `‖H y − θ y‖` of its Ritz vector: the distance to the nearest eigenvalue is at most this.
    pub residual: f64,
}

/// Runs `steps` Lanczos steps on `f`'s Hessian from `start` (normalized here), reorthogonalizing
/// each new vector against all earlier ones after the three-term update. Stops early when the
/// residual vanishes: the Krylov space of `start` is then invariant.
///
/// # Errors
/// When `steps` is 0, `start` is zero or does not fit the parameters, or a product fails.
///
/// ```
/// use gradus_analysis::{lanczos, Objective};
/// use gradus_tensor::{Param, Tensor};
/// // L(x) = ½ Σ cᵢ xᵢ², H = diag(1, 2, 3)
/// let x = Param::new(Tensor::from_vec(vec![0.0f64; 3], &[3]).unwrap());
/// let (p, c) = (x.clone(), Tensor::from_vec(vec![0.5f64, 1.0, 1.5], &[3]).unwrap());
/// let f = Objective::new(vec![("x".into(), x)], vec![1.0], move |_| {
///     Ok(p.tensor().mul(&p.tensor())?.mul(&c)?.sum_all()?)
/// }).unwrap();
/// let start = vec![Tensor::from_vec(vec![1.0f64, 1.0, 1.0], &[3]).unwrap()];
/// let ritz = lanczos::lanczos(&f, &start, 3).unwrap().ritz().unwrap();
/// assert!((ritz.values[2] - 3.0).abs() < 1e-12 && (ritz.values[0] - 1.0).abs() < 1e-12);
/// ```
pub fn lanczos(f: &Objective<'_>, start: &[Tensor], steps: usize) -> Result<Tridiagonal> {
    if steps == 0 {
        return Err(AnalysisError::Invalid(
            "Lanczos steps = 0: at least 1 is needed".into(),
        ));
    }
    f.check_shapes(start, "the Lanczos start vector")?;
    let n0 = vector::norm(start)?;
    if n0 == 0.0 || !n0.is_finite() {
        return Err(AnalysisError::Invalid(format!(
            "the Lanczos start vector has norm {n0}: it must be finite and non-zero"
        )));
    }
    let tol = breakdown_tolerance(f.params()[0].dtype());
    let mut basis: Vec<ParamVector> = vec![vector::scale(start, 1.0 / n0)?];
    let (mut alpha, mut beta): (Vec<f64>, Vec<f64>) = (Vec::with_capacity(steps), Vec::new());
    let mut scale = 0.0f64; // running estimate of ‖T‖
    for j in 0..steps {
        let q = &basis[j];
        let mut w = f.hvp(q)?;
        let a = vector::dot(q, &w)?;
        alpha.push(a);
        w = vector::axpy(&w, -a, q)?;
        if j > 0 {
            w = vector::axpy(&w, -beta[j - 1], &basis[j - 1])?;
        }
        // full reorthogonalization: one Gram-Schmidt pass after the three-term update (as
        // PyHessian's density does)
        for qi in &basis {
            let c = vector::dot(qi, &w)?;
            w = vector::axpy(&w, -c, qi)?;
        }
        let b = vector::norm(&w)?;
        if !a.is_finite() || !b.is_finite() {
            return Err(AnalysisError::Invalid(format!(
                "Lanczos step {}: the Hessian-vector product is not finite (the loss or its \
                 derivatives overflow at these weights)",
                j + 1
            )));
        }
        scale = scale.max(a.abs() + b);
        if b <= tol * scale.max(f64::MIN_POSITIVE) {
            return Ok(Tridiagonal {
                alpha,
                beta,
                residual: 0.0,
            });
        }
        if j + 1 == steps {
            return Ok(Tridiagonal {
                alpha,
                beta,
                residual: b,
            });
        }
        beta.push(b);
        basis.push(vector::scale(&w, 1.0 / b)?);
    }
    unreachable!("the loop returns at its last step")
}

/// Below this residual (relative to `‖T‖`) the Krylov space counts as exhausted.
fn breakdown_tolerance(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => 1e-10,
        _ => 1e-5,
    }
}

impl Tridiagonal {
    /// The Lanczos steps taken (`T`'s size).
    pub fn len(&self) -> usize {
        self.alpha.len()
    }

    /// Whether no step was taken (never for a result of [`lanczos`]).
    pub fn is_empty(&self) -> bool {
        self.alpha.is_empty()
    }

    /// The eigendecomposition of `T` (faer's dense self-adjoint eigensolver).
    ///
    /// # Errors
    /// When the eigensolver does not converge.
    pub fn ritz(&self) -> Result<Ritz> {
        let m = self.len();
        let t = Mat::<f64>::from_fn(m, m, |i, j| match i.abs_diff(j) {
            0 => self.alpha[i],
            1 => self.beta[i.min(j)],
            _ => 0.0,
        });
        let eig = t
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| AnalysisError::Eigen(format!("{e:?}")))?;
        let (s, u) = (eig.S().column_vector(), eig.U());
        let values: Vec<f64> = (0..m).map(|i| s[i]).collect();
        let residuals = (0..m)
            .map(|i| (self.residual * u[(m - 1, i)]).abs())
            .collect();
        let weights = (0..m).map(|i| u[(0, i)] * u[(0, i)]).collect();
        Ok(Ritz {
            values,
            residuals,
            weights,
        })
    }
}

/// The extreme eigenvalues of the Hessian from one Lanczos run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Extremes {
    /// The `k` largest, descending.
    pub top: Vec<Eigenvalue>,
    /// The smallest (negative at a saddle point).
    pub smallest: Eigenvalue,
    /// Lanczos steps taken.
    pub steps: usize,
}

/// The `k` largest and the smallest eigenvalue of `f`'s Hessian by `steps` Lanczos steps from a
/// seeded Gaussian start (`steps` is capped at the number of parameters; Lanczos converges at
/// both ends of the spectrum first, so a few times `k` steps usually suffice: check the
/// residuals).
///
/// # Errors
/// When `k` is 0, or a product fails.
pub fn extreme_eigenvalues(
    f: &Objective<'_>,
    k: usize,
    steps: usize,
    seed: u64,
) -> Result<Extremes> {
    if k == 0 {
        return Err(AnalysisError::Invalid(
            "top-k eigenvalues with k = 0: k must be at least 1".into(),
        ));
    }
    let start = vector::gaussian(&f.values(), &mut gradus_tensor::Rng::seed(seed))?;
    let t = lanczos(f, &start, steps.max(k).min(f.dim()))?;
    let ritz = t.ritz()?;
    let pair = |i: usize| Eigenvalue {
        value: ritz.values[i],
        residual: ritz.residuals[i],
    };
    let m = ritz.values.len();
    Ok(Extremes {
        top: (0..m).rev().take(k).map(pair).collect(),
        smallest: pair(0),
        steps: t.len(),
    })
}
