//! Matrix product with NumPy/PyTorch semantics: 1-D operands are promoted, batch axes broadcast.

use crate::autodiff::{BackwardOp, Ctx};
use crate::layout::broadcast_shapes;
use crate::{Result, Tensor, TensorError};

struct MatmulOp;
impl BackwardOp for MatmulOp {
    fn name(&self) -> &'static str {
        "matmul"
    }
    // C = A B:  dA = dC B^T,  dB = A^T dC  (summed over broadcast batch axes)
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let (a, b) = (ctx.input(0), ctx.input(1));
        let ga = if a.requires_grad() {
            Some(matmul_nd(g, &b.t()?)?.sum_to(a.shape())?)
        } else {
            None
        };
        let gb = if !b.requires_grad() {
            None
        } else if is_transposed_matrix(b) && a.rank() == 2 && g.rank() == 2 {
            // b = W^T (a Linear layer's `x @ w.t()`): dB^T = dC^T A, computed contiguous and
            // handed back transposed, so the transpose's backward gives W's gradient contiguous
            // (the product A^T dC, transposed back, was a strided view that every later reader,
            // gradient accumulation and the optimizer, gathered element by element)
            Some(matmul_nd(&g.t()?, a)?.t()?)
        } else {
            Some(matmul_nd(&a.t()?, g)?.sum_to(b.shape())?)
        };
        Ok(vec![ga, gb])
    }
}

/// A 2-D view that is the transpose of a contiguous matrix.
fn is_transposed_matrix(t: &Tensor) -> bool {
    let (shape, strides) = (t.shape(), t.layout().strides());
    t.rank() == 2 && shape[0] > 1 && shape[1] > 1 && strides == [1, shape[0]]
}

fn matmul_nd(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    a.check_same("matmul", b)?;
    let (ra, rb) = (a.rank(), b.rank());
    let (m, k, k2, n) = (
        a.shape()[ra - 2],
        a.shape()[ra - 1],
        b.shape()[rb - 2],
        b.shape()[rb - 1],
    );
    let mismatch = || TensorError::ShapeMismatch {
        op: "matmul",
        lhs: a.shape().to_vec(),
        rhs: b.shape().to_vec(),
        detail: String::new(),
    };
    if k != k2 {
        return Err(mismatch());
    }
    let batch = broadcast_shapes("matmul", &a.shape()[..ra - 2], &b.shape()[..rb - 2])
        .map_err(|_| mismatch())?;
    let with = |d: &[usize]| {
        batch
            .iter()
            .copied()
            .chain(d.iter().copied())
            .collect::<Vec<_>>()
    };
    // both operands viewed with the broadcast batch axes: one backend call for the batch
    let (la, lb) = (
        a.layout().broadcast_to(&with(&[m, k])),
        b.layout().broadcast_to(&with(&[k, n])),
    );
    let s = Tensor::read_storages(&[a, b]);
    let out = s.get(0).matmul(&la, (s.get(1), &lb))?;
    drop(s);
    Ok(Tensor::from_op_storage(
        out,
        &with(&[m, n]),
        MatmulOp,
        &[a, b],
    ))
}

impl Tensor {
    /// Matrix product, as `torch.matmul`: `[.., m, k] @ [.., k, n] -> [.., m, n]` with broadcast
    /// batch axes; a 1-D left operand is a row vector, a 1-D right operand a column vector.
    ///
    /// # Errors
    /// On inner sizes that differ, batch axes that do not broadcast, or 0-D operands.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    /// let v = Tensor::from_vec(vec![1.0f32, 1.0], &[2]).unwrap();
    /// assert_eq!(a.matmul(&v).unwrap().to_vec::<f32>().unwrap(), vec![3.0, 7.0]);
    /// ```
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        // inside `precision::autocast`: f32 inputs and output rounded to 16 bits, f32
        // accumulation
        if crate::precision::autocast::format_for(&[self, other]).is_some() {
            return crate::precision::autocast::lower_precision(&[self, other], |t| {
                t[0].matmul(&t[1])
            });
        }
        if self.rank() == 0 || other.rank() == 0 {
            return Err(TensorError::ShapeMismatch {
                op: "matmul",
                lhs: self.shape().to_vec(),
                rhs: other.shape().to_vec(),
                detail: ": operands must have at least one axis".into(),
            });
        }
        match (self.rank(), other.rank()) {
            (1, 1) => matmul_nd(&self.unsqueeze(0)?, &other.unsqueeze(1)?)?.reshape(&[]),
            (1, _) => matmul_nd(&self.unsqueeze(0)?, other)?.squeeze(-2),
            (_, 1) => matmul_nd(self, &other.unsqueeze(1)?)?.squeeze(-1),
            _ => matmul_nd(self, other),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn the_gradient_of_a_transposed_weight_is_contiguous_and_exact() {
        // y = x @ w.t(), as a Linear layer: w's gradient must come back contiguous
        let x = Tensor::randn(&[5, 4], crate::DType::F64, 1);
        let w = Tensor::randn(&[3, 4], crate::DType::F64, 2).requires_grad_(true);
        let y = x.matmul(&w.t().unwrap()).unwrap();
        let g = crate::autodiff::grad(&y.sum_all().unwrap(), &[&w], None, false).unwrap();
        assert!(g[0].is_contiguous());
        // dW[i][p] = sum_r x[r][p]
        let xs = x.to_vec::<f64>().unwrap();
        let got = g[0].to_vec::<f64>().unwrap();
        for i in 0..3 {
            for p in 0..4 {
                let expect: f64 = (0..5).map(|r| xs[r * 4 + p]).sum();
                assert!((got[i * 4 + p] - expect).abs() < 1e-12);
            }
        }
        let f = |t: &[Tensor]| x.matmul(&t[0].t()?)?.mul(&x.narrow(1, 0, 3)?)?.sum_all();
        let opts = crate::GradcheckOptions::default();
        crate::gradcheck(f, std::slice::from_ref(&w), opts).unwrap();
        crate::gradgradcheck(f, std::slice::from_ref(&w), opts).unwrap();
    }

    #[test]
    fn matmul_matches_naive_loops_with_broadcast_batch_and_transposed_operand() {
        let a: Vec<f64> = (0..2 * 3 * 4).map(|v| v as f64 * 0.5 - 3.0).collect();
        let b: Vec<f64> = (0..5 * 4).map(|v| (v as f64).sin()).collect();
        let ta = Tensor::from_vec(a.clone(), &[2, 3, 4]).unwrap();
        let tb = Tensor::from_vec(b.clone(), &[5, 4]).unwrap().t().unwrap(); // [4, 5], strided
        let c = ta.matmul(&tb).unwrap().to_vec::<f64>().unwrap();
        for bi in 0..2 {
            for i in 0..3 {
                for j in 0..5 {
                    let expect: f64 = (0..4).map(|p| a[bi * 12 + i * 4 + p] * b[j * 4 + p]).sum();
                    assert!((c[bi * 15 + i * 5 + j] - expect).abs() < 1e-12);
                }
            }
        }
    }
}
