//! Logistic regression's loss as one fused op: the linear map `z = X w + b` and the binary
//! cross-entropy on logits `softplus(z) - z y` in one pass over `X`, which also sums the gradient
//! with respect to `w` and `b` (`X^T (sigmoid(z) - y)`), so a full-batch gradient-descent step
//! reads `X` from memory once instead of twice (forward `X w`, backward `X^T g`).

use crate::autodiff::{self, BackwardOp, Ctx};
use crate::{Result, Storage, Tensor, TensorError};

struct LinearBceOp {
    scale: f64,
    /// The unscaled sums `X^T (sigmoid(z) - y)` `[D]` and `sum (sigmoid(z) - y)` `[1]`, from the
    /// forward pass; `None` when the forward did not compute them (the backward composes).
    grads: Option<(Tensor, Tensor)>,
}

impl BackwardOp for LinearBceOp {
    fn name(&self) -> &'static str {
        "linear_bce_with_logits"
    }

    // loss = scale sum_i softplus(z_i) - z_i y_i: dw = g scale X^T r, db = g scale sum r,
    // r = sigmoid(z) - y
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let (x, w, b, y) = (ctx.input(0), ctx.input(1), ctx.input(2), ctx.input(3));
        let grads = match &self.grads {
            Some(gr) if !autodiff::is_grad_enabled() && !x.requires_grad() => gr,
            _ => {
                // X needs a gradient too, or create_graph: differentiate the composed ops,
                // recorded even when the backward runs without grad mode
                let create_graph = autodiff::is_grad_enabled();
                let out = {
                    let _record = autodiff::NoGradGuard::with(true);
                    composed(x, w, b, y, self.scale)?
                };
                return autodiff::vjp(&out, ctx.inputs, g, create_graph);
            }
        };
        let g = g.mul_scalar(self.scale)?;
        let dw = w.requires_grad().then(|| grads.0.mul(&g)).transpose()?;
        let db = b
            .requires_grad()
            .then(|| grads.1.mul(&g)?.reshape(b.shape()))
            .transpose()?;
        Ok(vec![None, dw, db, None])
    }
}

/// `scale * sum(softplus(X w + b) - (X w + b) y)` from primitive ops.
fn composed(x: &Tensor, w: &Tensor, b: &Tensor, y: &Tensor, scale: f64) -> Result<Tensor> {
    let z = x.matmul(w)?.add(b)?;
    z.softplus(1.0, f64::INFINITY)?
        .sub(&z.mul(y)?)?
        .sum_all()?
        .mul_scalar(scale)
}

impl Tensor {
    /// Logistic regression's loss in one fused pass: `self` is `X [N, D]`, `weight [D]`, `bias`
    /// one element (`[]` or `[1]`), `target [N]` in `[0, 1]` (a constant); returns
    /// `BCEWithLogits(X w + b, y)` averaged over the rows when `mean`, else summed, as
    /// `F.binary_cross_entropy_with_logits(x @ w + b, y)`. When `weight` or `bias` requires a
    /// gradient (and `X` does not), the same pass over `X` sums their gradients, so `backward`
    /// reads nothing big again; otherwise, and under `create_graph`, the backward differentiates
    /// the composed ops. f32 sums the softplus terms in f64 with one `ln` per 256 rows.
    ///
    /// # Errors
    /// [`TensorError::InvalidShape`] naming `linear_bce_with_logits` on other shapes;
    /// mixed dtypes.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f64, 2.0, -1.0, 0.5], &[2, 2]).unwrap();
    /// let w = Tensor::from_vec(vec![0.0f64, 0.0], &[2]).unwrap();
    /// let b = Tensor::from_vec(vec![0.0f64], &[1]).unwrap();
    /// let y = Tensor::from_vec(vec![1.0f64, 0.0], &[2]).unwrap();
    /// let loss = x.linear_bce_with_logits(&w, &b, &y, true).unwrap().item().unwrap();
    /// assert!((loss - 2f64.ln()).abs() < 1e-15);
    /// ```
    pub fn linear_bce_with_logits(
        &self,
        weight: &Tensor,
        bias: &Tensor,
        target: &Tensor,
        mean: bool,
    ) -> Result<Tensor> {
        Ok(self.fused_bce(weight, bias, target, mean, false)?.0)
    }

    /// [`Tensor::linear_bce_with_logits`] that also returns the logits `X w + b` `[N]`, written
    /// by the same pass, as a constant (no graph): for measures of the batch such as accuracy.
    ///
    /// # Errors
    /// As [`Tensor::linear_bce_with_logits`].
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f64, 2.0, -1.0, 0.5], &[2, 2]).unwrap();
    /// let w = Tensor::from_vec(vec![1.0f64, 0.0], &[2]).unwrap();
    /// let b = Tensor::from_vec(vec![0.5f64], &[1]).unwrap();
    /// let y = Tensor::from_vec(vec![1.0f64, 0.0], &[2]).unwrap();
    /// let (loss, z) = x.linear_bce_with_logits_and_logits(&w, &b, &y, true).unwrap();
    /// assert_eq!(z.to_vec_f64(), vec![1.5, -0.5]);
    /// assert_eq!(loss.item().unwrap(), x.linear_bce_with_logits(&w, &b, &y, true).unwrap().item().unwrap());
    /// ```
    pub fn linear_bce_with_logits_and_logits(
        &self,
        weight: &Tensor,
        bias: &Tensor,
        target: &Tensor,
        mean: bool,
    ) -> Result<(Tensor, Tensor)> {
        let (loss, z) = self.fused_bce(weight, bias, target, mean, true)?;
        Ok((loss, z.expect("the pass writes the logits when asked")))
    }

    /// The fused op, with the logits when `logits`.
    fn fused_bce(
        &self,
        weight: &Tensor,
        bias: &Tensor,
        target: &Tensor,
        mean: bool,
        logits: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let s = self.shape();
        if s.len() != 2
            || weight.shape() != [s[1]]
            || bias.numel() != 1
            || bias.rank() > 1
            || target.shape() != [s[0]]
        {
            return Err(TensorError::InvalidShape {
                op: "linear_bce_with_logits",
                shape: s.to_vec(),
                detail: format!(
                    "expected X [N, D], weight [D], bias [] or [1], target [N]; got weight {:?}, \
                     bias {:?}, target {:?}",
                    weight.shape(),
                    bias.shape(),
                    target.shape()
                ),
            });
        }
        let target = target.detach();
        for t in [weight, bias, &target] {
            self.check_same("linear_bce_with_logits", t)?;
        }
        let (rows, cols) = (s[0], s[1]);
        let scale = if mean { 1.0 / rows as f64 } else { 1.0 };
        if rows == 0 || cols == 0 {
            let z = || -> Result<Tensor> {
                let _off = autodiff::NoGradGuard::with(false);
                self.matmul(weight)?.add(bias)?.detach().contiguous()
            };
            let z = if logits { Some(z()?) } else { None };
            return Ok((composed(self, weight, bias, &target, scale)?, z));
        }
        let grads = autodiff::is_grad_enabled()
            && (weight.requires_grad() || bias.requires_grad())
            && !self.requires_grad();
        let views = [
            self.contiguous()?,
            weight.contiguous()?,
            bias.contiguous()?,
            target.contiguous()?,
        ];
        let refs: Vec<&Tensor> = views.iter().collect();
        let st = Tensor::read_storages(&refs);
        let inputs = [0, 1, 2, 3].map(|i| (st.get(i), views[i].layout()));
        let (loss, sums, z) = Storage::linear_bce_with_logits(inputs, (grads, logits))?;
        drop(st);
        let z = z.map(|z| Tensor::from_storage(z, &[rows]));
        let grads = sums.map(|(dw, db)| {
            (
                Tensor::from_storage(dw, &[cols]),
                Tensor::from_storage(db, &[1]),
            )
        });
        let out = Storage::from_samples(self.device(), vec![loss * scale], self.dtype())?;
        let op = LinearBceOp { scale, grads };
        let loss = Tensor::from_op_storage(out, &[], op, &[self, weight, bias, &target]);
        Ok((loss, z))
    }
}

#[cfg(test)]
mod tests {
    use super::composed;
    use crate::{gradcheck, gradgradcheck, DType, GradcheckOptions, Tensor};

    fn data(dtype: DType) -> (Tensor, Tensor) {
        let x = Tensor::randn(&[300, 7], DType::F64, 1)
            .to_dtype(dtype)
            .unwrap();
        let y: Vec<f64> = (0..300).map(|i| ((i * 7) % 3 == 0) as u8 as f64).collect();
        let y = Tensor::from_vec(y, &[300])
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        (x, y)
    }

    #[test]
    fn gradients_match_central_differences() {
        let (x, y) = data(DType::F64);
        let w = Tensor::randn(&[7], DType::F64, 2).requires_grad_(true);
        let b = Tensor::from_vec(vec![0.3f64], &[1])
            .unwrap()
            .requires_grad_(true);
        let xg = x.clone().requires_grad_(true);
        for mean in [true, false] {
            // the fused backward (X constant) and the composed one (X too)
            let f = |p: &[Tensor]| x.linear_bce_with_logits(&p[0], &p[1], &y, mean);
            gradcheck(f, &[w.clone(), b.clone()], GradcheckOptions::default()).unwrap();
            gradgradcheck(f, &[w.clone(), b.clone()], GradcheckOptions::default()).unwrap();
            let f = |p: &[Tensor]| p[0].linear_bce_with_logits(&p[1], &p[2], &y, mean);
            let all = [xg.clone(), w.clone(), b.clone()];
            gradcheck(f, &all, GradcheckOptions::default()).unwrap();
        }
    }

    #[test]
    fn f32_matches_the_composed_ops_over_many_blocks_and_tasks() {
        // 20,003 rows: several 256-row blocks and three 8192-row tasks, a partial one last whose
        // last block ends in three rows outside the four-row groups
        let x = Tensor::randn(&[20_003, 33], DType::F32, 3);
        let y = x
            .narrow(1, 0, 1)
            .unwrap()
            .reshape(&[20_003])
            .unwrap()
            .gt(&Tensor::scalar(0.0f32))
            .unwrap();
        let w = Tensor::randn(&[33], DType::F32, 4).requires_grad_(true);
        let b = Tensor::from_vec(vec![-0.2f32], &[1])
            .unwrap()
            .requires_grad_(true);
        let fused = x.linear_bce_with_logits(&w, &b, &y, true).unwrap();
        let reference = composed(&x, &w, &b, &y, 1.0 / 20_003.0).unwrap();
        let (f, r) = (fused.item().unwrap(), reference.item().unwrap());
        assert!((f - r).abs() < 1e-5 * r.abs(), "{f} vs {r}");
        let a = crate::autodiff::grad(&fused, &[&w, &b], None, false).unwrap();
        let e = crate::autodiff::grad(&reference, &[&w, &b], None, false).unwrap();
        for (a, e) in a.iter().zip(&e) {
            let (a, e) = (a.to_vec::<f32>().unwrap(), e.to_vec::<f32>().unwrap());
            for (a, e) in a.iter().zip(&e) {
                assert!((a - e).abs() < 1e-5, "{a} vs {e}");
            }
        }
    }

    #[test]
    fn the_logits_are_the_rows_products_plus_the_bias_and_the_loss_keeps_its_bits() {
        // 20,003 rows: three tasks, a partial last block; and the 16-bit and empty paths
        let cases = [
            (20_003, 33, DType::F32),
            (300, 7, DType::F64),
            (300, 7, DType::BF16),
        ];
        for (rows, cols, dtype) in cases {
            let x = Tensor::randn(&[rows, cols], dtype, 8);
            let y = Tensor::randn(&[rows], dtype, 9)
                .gt(&Tensor::scalar(0.0f32).to_dtype(dtype).unwrap())
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            let w = Tensor::randn(&[cols], dtype, 10).requires_grad_(true);
            let b = Tensor::from_vec(vec![0.25f32], &[1])
                .unwrap()
                .to_dtype(dtype)
                .unwrap()
                .requires_grad_(true);
            let (loss, z) = x
                .linear_bce_with_logits_and_logits(&w, &b, &y, true)
                .unwrap();
            let plain = x.linear_bce_with_logits(&w, &b, &y, true).unwrap();
            assert_eq!(loss.item().unwrap(), plain.item().unwrap(), "{dtype:?}");
            assert!(loss.requires_grad() && !z.requires_grad());
            assert_eq!((z.shape(), z.dtype()), (&[rows][..], dtype));
            let xf = x.to_dtype(DType::F64).unwrap();
            let wf = w.detach().to_dtype(DType::F64).unwrap();
            let expected = xf
                .matmul(&wf)
                .unwrap()
                .add_scalar(0.25)
                .unwrap()
                .to_vec_f64();
            // f32 sums of 33 products; bf16 keeps 8 bits of the f32 sum
            let tol = match dtype {
                DType::F64 => 1e-12,
                DType::F32 => 1e-4,
                _ => 2e-2,
            };
            for (i, (z, e)) in z.to_vec_f64().iter().zip(&expected).enumerate() {
                assert!(
                    (z - e).abs() <= tol * e.abs().max(1.0),
                    "{dtype:?} row {i}: {z} vs {e}"
                );
            }
        }
        let empty = Tensor::zeros(&[4, 0], DType::F32);
        let (w, b) = (Tensor::zeros(&[0], DType::F32), Tensor::scalar(1.5f32));
        let y = Tensor::zeros(&[4], DType::F32);
        let (loss, z) = empty
            .linear_bce_with_logits_and_logits(&w, &b, &y, true)
            .unwrap();
        assert_eq!(z.to_vec_f64(), vec![1.5; 4]);
        assert!((loss.item().unwrap() - (1.0 + 1.5f64.exp()).ln()).abs() < 1e-6);
    }

    #[test]
    fn the_same_bits_with_one_thread_and_two() {
        let x = Tensor::randn(&[20_000, 10], DType::F32, 5);
        let y = Tensor::randn(&[20_000], DType::F32, 6)
            .gt(&Tensor::scalar(0.0f32))
            .unwrap();
        let w = Tensor::randn(&[10], DType::F32, 7).requires_grad_(true);
        let b = Tensor::zeros(&[1], DType::F32).requires_grad_(true);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let l = x.linear_bce_with_logits(&w, &b, &y, true).unwrap();
                let g = crate::autodiff::grad(&l, &[&w, &b], None, false).unwrap();
                let mut out = l.to_vec::<f32>().unwrap();
                out.extend(g[0].to_vec::<f32>().unwrap());
                out.extend(g[1].to_vec::<f32>().unwrap());
                out.into_iter().map(f32::to_bits).collect::<Vec<_>>()
            })
        };
        assert_eq!(run(1), run(2));
    }

    #[test]
    fn bad_shapes_are_named() {
        let x = Tensor::zeros(&[4, 3], DType::F32);
        let w = Tensor::zeros(&[2], DType::F32);
        let b = Tensor::zeros(&[1], DType::F32);
        let y = Tensor::zeros(&[4], DType::F32);
        let e = x
            .linear_bce_with_logits(&w, &b, &y, true)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("linear_bce_with_logits") && e.contains("[2]"),
            "{e}"
        );
    }
}
