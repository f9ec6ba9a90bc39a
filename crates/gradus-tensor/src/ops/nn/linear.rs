//! The linear layer's affine map `x W^T + b` as one op (`torch.nn.functional.linear`): one GEMM
//! with the bias in its epilogue forward, and backward `dx = g W`, `dW = g^T x`, `db = sum_rows g`
//! straight into the parameters' layouts, with no transposed or broadcast copies.

use super::{run, LinearDims, NnKernel};
use crate::autodiff::{self, BackwardOp, Ctx};
use crate::{Result, Tensor, TensorError};

struct LinearOp {
    dims: LinearDims,
}

impl BackwardOp for LinearOp {
    fn name(&self) -> &'static str {
        "linear"
    }

    // y = x W^T + b: dx = g W, dW = g^T x (rows of x flattened), db = sum over rows of g
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let (x, w) = (ctx.input(0), ctx.input(1));
        let b = ctx.inputs.get(2);
        if autodiff::is_grad_enabled() {
            let out = composed(x, w, b)?;
            return autodiff::vjp(&out, ctx.inputs, g, true);
        }
        let want = [
            x.requires_grad(),
            w.requires_grad(),
            b.is_some_and(|b| b.requires_grad()),
        ];
        let k = NnKernel::LinearBackward {
            dims: self.dims,
            want,
        };
        let grads = run(k, &[g, x, w])?;
        let shapes = [x.shape(), w.shape(), b.map_or(&[][..], |b| b.shape())];
        let mut out: Vec<Option<Tensor>> = grads
            .into_iter()
            .zip(shapes.iter().zip(want))
            .map(|(s, (shape, wanted))| wanted.then(|| Tensor::from_storage(s, shape)))
            .collect();
        out.truncate(ctx.inputs.len());
        Ok(out)
    }
}

/// `x W^T + b` from primitive ops (every order of derivative; the reference in tests).
pub(crate) fn composed(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let y = x.matmul(&weight.t()?)?;
    match bias {
        Some(b) => y.add(b),
        None => Ok(y),
    }
}

impl Tensor {
    /// The affine map of a linear layer, `self W^T + b` (`torch.nn.functional.linear`): `self` is
    /// `[.., in]`, `weight` `[out, in]` (PyTorch's layout), `bias` `[out]`; the result is
    /// `[.., out]`. One GEMM with the bias added in its epilogue (BLAS `addmm`); the backward
    /// writes `dW` in `weight`'s layout and sums `db` over the rows without broadcast copies.
    ///
    /// # Errors
    /// When `self` has no axes, `weight` is not `[out, in]` with `in` the last axis of `self`,
    /// `bias` is not `[out]`, or the dtypes differ.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0], &[1, 2]).unwrap();
    /// let w = Tensor::from_vec(vec![1.0f32, 1.0, 0.0, 1.0, 2.0, 0.0], &[3, 2]).unwrap();
    /// let b = Tensor::from_vec(vec![0.5f32, 0.0, -1.0], &[3]).unwrap();
    /// let y = x.linear(&w, Some(&b)).unwrap();
    /// assert_eq!(y.to_vec::<f32>().unwrap(), vec![3.5, 2.0, 1.0]);
    /// ```
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let s = self.shape();
        let (out, inp) = match weight.shape() {
            &[out, inp] => (out, inp),
            _ => (0, usize::MAX),
        };
        let bias_ok = bias.is_none_or(|b| b.shape() == [out]);
        if s.is_empty() || s[s.len() - 1] != inp || !bias_ok {
            return Err(TensorError::ShapeMismatch {
                op: "linear",
                lhs: s.to_vec(),
                rhs: weight.shape().to_vec(),
                detail: format!(
                    ": expected input [.., in], weight [out, in] and bias [out] (bias {:?})",
                    bias.map(|b| b.shape().to_vec())
                ),
            });
        }
        self.check_same("linear", weight)?;
        if let Some(b) = bias {
            self.check_same("linear", b)?;
        }
        let rows = self.numel() / inp.max(1);
        // inside `precision::autocast` the matmul rounds its operands: the composed path does
        if rows * out * inp == 0 || crate::precision::autocast::current().is_some() {
            return composed(self, weight, bias);
        }
        let dims = LinearDims {
            rows,
            inp,
            out,
            bias: bias.is_some(),
        };
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        let y = run(NnKernel::Linear(dims), &inputs)?.swap_remove(0);
        let mut shape = s.to_vec();
        *shape.last_mut().expect("rank checked above") = out;
        Ok(Tensor::from_op_storage(
            y,
            &shape,
            LinearOp { dims },
            &inputs,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::composed;
    use crate::ops::nn::tests::assert_close;
    use crate::{gradcheck, gradgradcheck, DType, GradcheckOptions, Tensor};

    #[test]
    fn gradients_match_central_differences() {
        let x = Tensor::randn(&[2, 3, 4], DType::F64, 1);
        let w = Tensor::randn(&[5, 4], DType::F64, 2);
        let b = Tensor::randn(&[5], DType::F64, 3);
        let opts = GradcheckOptions::default;
        let with_bias = |xs: &[Tensor]| xs[0].linear(&xs[1], Some(&xs[2]));
        let inputs = [x.clone(), w.clone(), b];
        gradcheck(with_bias, &inputs, opts()).unwrap();
        gradgradcheck(with_bias, &inputs, opts()).unwrap();
        let no_bias = |xs: &[Tensor]| xs[0].linear(&xs[1], None);
        gradcheck(no_bias, &[x.clone(), w.clone()], opts()).unwrap();
        gradgradcheck(no_bias, &[x, w], opts()).unwrap();
    }

    #[test]
    fn f32_matches_the_composed_ops() {
        let x = Tensor::randn(&[3, 37, 24], DType::F32, 4).requires_grad_(true);
        let w = Tensor::randn(&[19, 24], DType::F32, 5).requires_grad_(true);
        let b = Tensor::randn(&[19], DType::F32, 6).requires_grad_(true);
        let g = Tensor::randn(&[3, 37, 19], DType::F32, 7);
        for bias in [Some(&b), None] {
            let fused = x.linear(&w, bias).unwrap();
            let reference = composed(&x, &w, bias).unwrap();
            assert_close(&fused, &reference, 1e-5);
            let wrt: Vec<&Tensor> = [&x, &w].into_iter().chain(bias).collect();
            let a = crate::autodiff::grad(&fused, &wrt, Some(&g), false).unwrap();
            let r = crate::autodiff::grad(&reference, &wrt, Some(&g), false).unwrap();
            for (a, r) in a.iter().zip(&r) {
                assert!(a.is_contiguous());
                assert_close(a, r, 1e-4);
            }
        }
    }

    /// Big enough that the GEMMs split into panels that run on several threads: the same bits
    /// on one thread and on three.
    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let x = Tensor::randn(&[600, 160], DType::F32, 8).requires_grad_(true);
        let w = Tensor::randn(&[300, 160], DType::F32, 9).requires_grad_(true);
        let b = Tensor::randn(&[300], DType::F32, 10).requires_grad_(true);
        let g = Tensor::randn(&[600, 300], DType::F32, 11);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let y = x.linear(&w, Some(&b)).unwrap();
                let grads = crate::autodiff::grad(&y, &[&x, &w, &b], Some(&g), false).unwrap();
                let mut all = y.to_vec::<f32>().unwrap();
                grads
                    .iter()
                    .for_each(|t| all.extend(t.to_vec::<f32>().unwrap()));
                all
            })
        };
        let one = run(1);
        assert!(one.iter().all(|v| v.is_finite()));
        assert_eq!(one, run(3));
    }

    #[test]
    fn shapes_are_checked() {
        let x = Tensor::zeros(&[2, 4], DType::F32);
        let w = Tensor::zeros(&[3, 4], DType::F32);
        assert!(x.linear(&Tensor::zeros(&[3, 5], DType::F32), None).is_err());
        assert!(x.linear(&Tensor::zeros(&[4], DType::F32), None).is_err());
        assert!(x
            .linear(&w, Some(&Tensor::zeros(&[4], DType::F32)))
            .is_err());
        assert!(Tensor::zeros(&[], DType::F32).linear(&w, None).is_err());
        assert!(x.linear(&w.to_dtype(DType::F64).unwrap(), None).is_err());
        let empty = Tensor::zeros(&[0, 4], DType::F32).linear(&w, None).unwrap();
        assert_eq!(empty.shape(), &[0, 3]);
    }
}
