//! Symmetric eigendecomposition in f64 by the cyclic Jacobi method (Golub & Van Loan, "Matrix
//! Computations", §8.5): slow for large matrices (O(n³) per sweep) but accurate to the last
//! digits for the ≤ a few hundred dimensions of feature covariances, with no dependency.

/// The eigenvalues and eigenvectors of the symmetric `n x n` row-major matrix `a` (only its
/// symmetric part is used): `(values, vectors)` with `vectors` row-major `n x n` whose column
/// `k` is the unit eigenvector of `values[k]`; unsorted.
pub(crate) fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a: Vec<f64> = (0..n * n)
        .map(|i| 0.5 * (a[i] + a[(i % n) * n + i / n]))
        .collect();
    let mut v = vec![0.0; n * n];
    (0..n).for_each(|i| v[i * n + i] = 1.0);
    let scale: f64 = a.iter().map(|x| x * x).sum();
    for _sweep in 0..64 {
        let off: f64 = (0..n)
            .flat_map(|p| (p + 1..n).map(move |q| (p, q)))
            .map(|(p, q)| a[p * n + q] * a[p * n + q])
            .sum();
        if off <= 1e-30 * scale || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                rotate(&mut a, &mut v, n, p, q);
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

/// One Jacobi rotation `A ← Jᵀ A J`, `V ← V J` that zeroes `a[p][q]` (`J` has `c` at `(p, p)`
/// and `(q, q)`, `s` at `(p, q)`, `-s` at `(q, p)`; `θ = (a_qq - a_pp) / 2a_pq`,
/// `t = sign(θ) / (|θ| + √(θ² + 1))`, `c = 1/√(t² + 1)`, `s = t c`).
fn rotate(a: &mut [f64], v: &mut [f64], n: usize, p: usize, q: usize) {
    let apq = a[p * n + q];
    if apq == 0.0 {
        return;
    }
    let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
    let t = if theta.abs() > 1e150 {
        0.5 / theta
    } else {
        theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
    };
    let c = 1.0 / (t * t + 1.0).sqrt();
    let s = t * c;
    for k in 0..n {
        let (kp, kq) = (a[k * n + p], a[k * n + q]);
        a[k * n + p] = c * kp - s * kq;
        a[k * n + q] = s * kp + c * kq;
    }
    for k in 0..n {
        let (pk, qk) = (a[p * n + k], a[q * n + k]);
        a[p * n + k] = c * pk - s * qk;
        a[q * n + k] = s * pk + c * qk;
    }
    for k in 0..n {
        let (kp, kq) = (v[k * n + p], v[k * n + q]);
        v[k * n + p] = c * kp - s * kq;
        v[k * n + q] = s * kp + c * kq;
    }
}

/// The principal square root of the symmetric positive semi-definite `n x n` matrix `a`,
/// `V diag(√max(λ, 0)) Vᵀ` (eigenvalues below 0, round-off of a singular matrix, count as 0).
pub(crate) fn sqrtm_psd(a: &[f64], n: usize) -> Vec<f64> {
    let (values, v) = symmetric_eigen(a, n);
    let roots: Vec<f64> = values.iter().map(|l| l.max(0.0).sqrt()).collect();
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = (0..n).map(|k| v[i * n + k] * roots[k] * v[j * n + k]).sum();
        }
    }
    out
}

/// The product of two `n x n` row-major matrices.
pub(crate) fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            for j in 0..n {
                out[i * n + j] += aik * b[k * n + j];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigen_reconstructs_a_symmetric_matrix_and_roots_square_back() {
        // a 4 x 4 SPD matrix with distinct and repeated-ish eigenvalues
        let n = 4;
        let b = [
            2.0, -1.0, 0.5, 0.0, 0.3, 1.5, -0.2, 0.7, 0.0, 0.4, 1.0, -0.3, 1.1, 0.0, 0.2, 0.9,
        ];
        let bt: Vec<f64> = (0..16).map(|i| b[(i % n) * n + i / n]).collect();
        let a = matmul(&b, &bt, n);
        let (values, v) = symmetric_eigen(&a, n);
        for i in 0..n {
            for j in 0..n {
                let r: f64 = (0..n)
                    .map(|k| v[i * n + k] * values[k] * v[j * n + k])
                    .sum();
                assert!((r - a[i * n + j]).abs() < 1e-12, "({i}, {j}): {r}");
            }
        }
        let root = sqrtm_psd(&a, n);
        let back = matmul(&root, &root, n);
        for (x, y) in back.iter().zip(&a) {
            assert!((x - y).abs() < 1e-12);
        }
        // a singular PSD matrix (rank 1) keeps a real root
        let u = [1.0, 2.0, -1.0];
        let r1: Vec<f64> = (0..9).map(|i| u[i / 3] * u[i % 3]).collect();
        let root = sqrtm_psd(&r1, 3);
        // √(u uᵀ) = u uᵀ / |u|
        for (x, y) in root.iter().zip(&r1) {
            assert!((x - y / 6f64.sqrt()).abs() < 1e-12);
        }
    }
}
