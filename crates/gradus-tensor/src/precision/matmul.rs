//! [`HalfTensor::matmul`]: a matrix product of 16-bit inputs with f32 accumulation (the compute
//! rule of bf16/f16 GEMM in PyTorch and cuBLAS: products and sums in f32).
//!
//! BF16 on a CPU with AVX512_BF16: the bf16 GEMM on the bits ([`crate::gemm_bf16`], the
//! `vdpbf16ps` instruction's rule: sums in k-pairs, subnormals flushed). Otherwise, and for F16:
//! the inputs are widened to f32 (exact) and multiplied by gradus's f32 GEMM. Every product of
//! two bf16 or two f16 values is exact in f32 (8 + 8 and 11 + 11 significant bits fit in 24),
//! so both are f32 sums of the same exact products; they differ in summation order and
//! subnormals only, each within about `k · 2⁻²⁴ · Σ|aᵢₚ bₚⱼ|` of the exact sum.

use super::{Half, HalfTensor};
use crate::gemm_bf16::{gemm_bf16, Bf16Path};
use crate::{DType, Result, Tensor, TensorError};

impl HalfTensor {
    /// `self @ other` for `[m, k] @ [k, n]` (both in the same format), as an f32 `[m, n]`
    /// tensor.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when the shapes are not `[m, k]` and `[k, n]` or the
    /// formats differ.
    ///
    /// ```
    /// use gradus_tensor::{precision::Half, Tensor};
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap().to_half(Half::BF16).unwrap();
    /// let c = a.matmul(&a).unwrap();
    /// assert_eq!(c.to_vec::<f32>().unwrap(), vec![7.0, 10.0, 15.0, 22.0]);
    /// ```
    pub fn matmul(&self, other: &HalfTensor) -> Result<Tensor> {
        let (a, b) = (self.shape(), other.shape());
        if a.len() != 2 || b.len() != 2 || a[1] != b[0] || self.format() != other.format() {
            return Err(TensorError::ShapeMismatch {
                op: "HalfTensor::matmul",
                lhs: a.to_vec(),
                rhs: b.to_vec(),
                detail: format!(
                    " (expected [m, k] @ [k, n] in one format, got {} and {})",
                    self.format().name(),
                    other.format().name()
                ),
            });
        }
        if self.format() == Half::BF16 && Bf16Path::best() != Bf16Path::Portable {
            let (m, k, n) = (a[0], a[1], b[1]);
            let mut c = vec![0.0f32; m * n];
            gemm_bf16((m, n, k), self.bits(), (k, 1), other.bits(), (n, 1), &mut c);
            return Tensor::from_vec(c, &[m, n]);
        }
        self.to_tensor(DType::F32)?
            .matmul(&other.to_tensor(DType::F32)?)
    }
}

#[cfg(test)]
mod tests {
    use crate::gemm_bf16::Bf16Path;
    use crate::precision::Half;
    use crate::{DType, Rng, Tensor};

    /// The scalar reference: f64 sums of the exact products of the rounded inputs.
    fn reference(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k)
                    .map(|p| a[i * k + p] as f64 * b[p * n + j] as f64)
                    .sum();
            }
        }
        c
    }

    #[test]
    fn half_matmul_is_the_f32_matmul_of_the_rounded_inputs() {
        let mut rng = Rng::seed(4);
        for format in [Half::BF16, Half::F16] {
            // MLP- and GPT-like shapes, odd sizes for the kernel's edges
            for (m, k, n) in [(1, 1, 1), (7, 13, 5), (64, 128, 96), (33, 257, 65)] {
                let a = rng.normal(&[m, k], 0.0, 1.0, DType::F32);
                let b = rng.normal(&[k, n], 0.0, 1.0, DType::F32);
                let (ha, hb) = (a.to_half(format).unwrap(), b.to_half(format).unwrap());
                let c = ha.matmul(&hb).unwrap().to_vec::<f32>().unwrap();
                let ra = a.round_to(format).unwrap();
                let rb = b.round_to(format).unwrap();
                let f32_c = ra.matmul(&rb).unwrap().to_vec::<f32>().unwrap();
                // the f32 GEMM of the rounded inputs: the same bits on that path; on the bf16
                // GEMM's path the sums run in another order, within the bound checked next
                if format == Half::F16 || Bf16Path::best() == Bf16Path::Portable {
                    assert_eq!(c, f32_c, "{format:?} {m}x{k}x{n}");
                } else {
                    let mut want = vec![0.0f32; m * n];
                    crate::gemm_bf16::gemm_bf16_with(
                        Bf16Path::Portable,
                        (m, n, k),
                        (ha.bits(), (k, 1)),
                        (hb.bits(), (n, 1)),
                        &mut want,
                    );
                    assert_eq!(c, want, "the bf16 GEMM's reference, {m}x{k}x{n}");
                }
                // against exact sums: f32 accumulation over k terms errs by at most about
                // k * 2^-24 relative to the sum of magnitudes
                let exact = reference(&ha.to_f32(), &hb.to_f32(), m, k, n);
                let (fa, fb) = (ha.to_f32(), hb.to_f32());
                for i in 0..m {
                    for j in 0..n {
                        let mag: f64 = (0..k)
                            .map(|p| (fa[i * k + p] as f64 * fb[p * n + j] as f64).abs())
                            .sum();
                        let err = (c[i * n + j] as f64 - exact[i * n + j]).abs();
                        assert!(
                            err <= k as f64 * 2f64.powi(-24) * mag + 1e-30,
                            "{err} {mag}"
                        );
                    }
                }
                // and against the unrounded f32 product, within the format's precision
                let full = a.matmul(&b).unwrap().to_vec::<f32>().unwrap();
                let (va, vb) = (a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
                let unrounded = reference(&va, &vb, m, k, n);
                for (idx, (&x, &y)) in c.iter().zip(&full).enumerate() {
                    let (i, j) = (idx / n, idx % n);
                    let mag: f64 = (0..k)
                        .map(|p| (va[i * k + p] as f64 * vb[p * n + j] as f64).abs())
                        .sum();
                    let tol = 1.01 * format.epsilon() * mag + k as f64 * 2f64.powi(-23) * mag;
                    assert!(
                        (x as f64 - unrounded[idx]).abs() <= tol,
                        "{format:?} {x} {y}"
                    );
                }
            }
        }
    }

    #[test]
    fn mismatched_shapes_and_formats_are_errors() {
        let a = Tensor::ones(&[2, 3], DType::F32);
        let h = a.to_half(Half::BF16).unwrap();
        let err = h.matmul(&h).unwrap_err().to_string();
        assert!(err.contains("[2, 3]"), "{err}");
        let f = Tensor::ones(&[3, 2], DType::F32)
            .to_half(Half::F16)
            .unwrap();
        assert!(h
            .matmul(&f)
            .unwrap_err()
            .to_string()
            .contains("BF16 and F16"));
    }
}
