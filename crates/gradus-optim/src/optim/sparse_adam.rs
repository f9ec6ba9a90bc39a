//! SparseAdam (PyTorch `torch.optim.SparseAdam`): Adam that reads and writes only the rows a
//! sparse gradient touches ("lazy Adam"), for embedding tables where a step looks up a few rows
//! of many.

use crate::{OptimError, ParamRef, Result};
use gradus_tensor::{DType, Element, Param, Tensor, TensorError};
use rayon::prelude::*;

/// A row-sparse gradient of a parameter `[rows, ..]`: `values[k]` is the gradient of row
/// `indices[k]` (PyTorch's sparse COO gradient of an `nn.Embedding(sparse=True)`). Indices may
/// repeat: their values add up (torch coalesces). Rows not listed have gradient 0.
///
/// ```
/// use gradus_optim::SparseGrad;
/// use gradus_tensor::Tensor;
/// let g = SparseGrad::new(vec![4, 1], Tensor::ones(&[2, 3], gradus_tensor::DType::F32)).unwrap();
/// assert_eq!(g.indices(), &[4, 1]);
/// ```
#[derive(Clone, Debug)]
pub struct SparseGrad {
    indices: Vec<usize>,
    /// `[indices.len(), row..]`
    values: Tensor,
}

impl SparseGrad {
    /// A gradient with `values [indices.len(), ..]`.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] (op `sparse_grad`) when `values` has not one leading row
    /// per index.
    pub fn new(indices: Vec<usize>, values: Tensor) -> Result<SparseGrad> {
        if values.rank() == 0 || values.shape()[0] != indices.len() {
            return Err(TensorError::ShapeMismatch {
                op: "sparse_grad",
                lhs: vec![indices.len()],
                rhs: values.shape().to_vec(),
                detail: ": values need one leading row per index".into(),
            }
            .into());
        }
        Ok(SparseGrad { indices, values })
    }

    /// The rows, in the order of `values`.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// `[indices.len(), ..]`
    pub fn values(&self) -> &Tensor {
        &self.values
    }

    /// The rows to update and their gradients, `(rows, values [rows.len() * width])` in f64:
    /// duplicate indices merged by summing their rows in order (torch's `coalesce`), indices
    /// ascending; indices that are already distinct are kept in their order, without a sort.
    fn coalesced(&self, width: usize, table_rows: usize) -> (Vec<usize>, Vec<f64>) {
        let v = self.values.to_vec_f64();
        let mut seen = vec![false; table_rows];
        let distinct = self
            .indices
            .iter()
            .all(|&r| !std::mem::replace(&mut seen[r], true));
        if distinct {
            return (self.indices.clone(), v);
        }
        let mut order: Vec<usize> = (0..self.indices.len()).collect();
        order.sort_by_key(|&k| self.indices[k]);
        let (mut rows, mut sums): (Vec<usize>, Vec<f64>) = (Vec::new(), Vec::new());
        for k in order {
            let row = &v[k * width..(k + 1) * width];
            if rows.last() == Some(&self.indices[k]) {
                let at = sums.len() - width;
                sums[at..].iter_mut().zip(row).for_each(|(a, b)| *a += b);
            } else {
                rows.push(self.indices[k]);
                sums.extend_from_slice(row);
            }
        }
        (rows, sums)
    }
}

/// Per-parameter state: `step` counts the steps that had a gradient for it.
#[derive(Clone, Debug)]
struct Moments {
    step: u64,
    /// first moment, the parameter's shape and dtype
    exp_avg: Tensor,
    /// second moment
    exp_avg_sq: Tensor,
}

/// Lazy Adam over row-sparse gradients, as `torch.optim.SparseAdam(params, lr, betas, eps,
/// maximize)`. At each step, for a parameter with a gradient (after summing duplicate rows),
/// only its touched rows `i` change:
/// ```text
/// t <- t + 1                            (per parameter)
/// g <- -g if maximize
/// m[i] <- b1 m[i] + (1 - b1) g[i]
/// v[i] <- b2 v[i] + (1 - b2) g[i]^2
/// p[i] <- p[i] - lr sqrt(1 - b2^t) / (1 - b1^t) · m[i] / (sqrt(v[i]) + eps)
/// ```
/// Note `eps` is added to the uncorrected `sqrt(v)` (PyTorch's SparseAdam; dense Adam adds it
/// after the bias correction), and rows not touched keep their stale moments (no decay), which
/// is what makes it lazy. Work is `O(touched rows × row size)`. Moments are tensors of the
/// parameter's dtype, updated in host memory (CPU parameters).
///
/// ```
/// use gradus_optim::{SparseAdam, SparseGrad};
/// use gradus_tensor::{DType, Param, Tensor};
/// # fn main() -> gradus_optim::Result<()> {
/// let table = Param::new(Tensor::zeros(&[1000, 4], DType::F32));
/// let mut opt = SparseAdam::new(&[table.clone()], 0.1)?;
/// opt.step(&[Some(SparseGrad::new(vec![7], Tensor::ones(&[1, 4], DType::F32))?)])?;
/// let w = table.tensor().to_vec_f64();
/// assert!((w[7 * 4] + 0.1).abs() < 1e-6); // the first step moves by lr against the sign
/// assert_eq!(w.iter().filter(|&&x| x != 0.0).count(), 4); // one row of 1000 changed
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct SparseAdam {
    params: Vec<Param>,
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    maximize: bool,
    state: Vec<Option<Moments>>,
}

impl SparseAdam {
    /// SparseAdam over `params` with learning rate `lr` and torch's defaults (betas 0.9, 0.999;
    /// eps 1e-8).
    ///
    /// # Errors
    /// [`OptimError::InvalidHyperparameter`] unless `lr > 0` (PyTorch's wording and bound).
    pub fn new(params: &[Param], lr: f64) -> Result<SparseAdam> {
        if lr.is_nan() || lr <= 0.0 {
            return Err(OptimError::InvalidHyperparameter(format!(
                "Invalid learning rate: {lr}"
            )));
        }
        Ok(SparseAdam {
            params: params.to_vec(),
            lr,
            betas: (0.9, 0.999),
            eps: 1e-8,
            maximize: false,
            state: vec![None; params.len()],
        })
    }

    /// Sets the moment decay rates.
    ///
    /// # Errors
    /// [`OptimError::InvalidHyperparameter`] unless both are in `[0, 1)`.
    pub fn betas(mut self, b1: f64, b2: f64) -> Result<SparseAdam> {
        for (i, b) in [b1, b2].into_iter().enumerate() {
            if !(0.0..1.0).contains(&b) {
                return Err(OptimError::InvalidHyperparameter(format!(
                    "Invalid beta parameter at index {i}: {b}"
                )));
            }
        }
        self.betas = (b1, b2);
        Ok(self)
    }

    /// Sets the term added to the denominator.
    ///
    /// # Errors
    /// [`OptimError::InvalidHyperparameter`] for `eps <= 0` (PyTorch's wording and bound).
    pub fn eps(mut self, eps: f64) -> Result<SparseAdam> {
        if eps.is_nan() || eps <= 0.0 {
            return Err(OptimError::InvalidHyperparameter(format!(
                "Invalid epsilon value: {eps}"
            )));
        }
        self.eps = eps;
        Ok(self)
    }

    /// Maximizes the objective instead of minimizing it.
    pub fn maximize(mut self, maximize: bool) -> SparseAdam {
        self.maximize = maximize;
        self
    }

    /// Sets the learning rate (for a schedule driven by the caller).
    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// The parameters' step counts (0 for a parameter never stepped).
    pub fn steps(&self) -> Vec<u64> {
        self.state
            .iter()
            .map(|s| s.as_ref().map_or(0, |m| m.step))
            .collect()
    }

    /// One step: `grads[i]` is parameter `i`'s row-sparse gradient, `None` to leave it (and its
    /// step count) as is.
    ///
    /// # Errors
    /// [`OptimError::StateMismatch`] when `grads` has not one entry per parameter;
    /// [`OptimError::AtParam`] naming the parameter for a gradient whose rows do not fit it
    /// (row size or dtype) or that points past its first axis.
    pub fn step(&mut self, grads: &[Option<SparseGrad>]) -> Result<()> {
        if grads.len() != self.params.len() {
            return Err(OptimError::StateMismatch(format!(
                "SparseAdam has {} parameters but was given {} gradients",
                self.params.len(),
                grads.len()
            )));
        }
        for (i, g) in grads.iter().enumerate() {
            if let Some(g) = g {
                self.step_one(i, g).map_err(|e| OptimError::AtParam {
                    param: ParamRef::index(i),
                    source: Box::new(e),
                })?;
            }
        }
        Ok(())
    }

    fn step_one(&mut self, i: usize, g: &SparseGrad) -> Result<()> {
        let p = self.params[i].tensor();
        let shape = p.shape().to_vec();
        let rows = shape.first().copied().unwrap_or(0);
        let width: usize = shape.iter().skip(1).product();
        if g.values.shape()[1..] != shape[1..] || g.values.dtype() != p.dtype() {
            return Err(OptimError::GradMismatch {
                param: ParamRef::index(i),
                shape,
                dtype: p.dtype(),
                grad_shape: g.values.shape().to_vec(),
                grad_dtype: g.values.dtype(),
            });
        }
        if let Some(&bad) = g.indices.iter().find(|&&r| r >= rows) {
            return Err(TensorError::InvalidIndex {
                op: "sparse_adam",
                position: vec![g.indices.iter().position(|&r| r == bad).unwrap_or(0)],
                value: bad as f64,
                size: rows,
            }
            .into());
        }
        let st = self.state[i].get_or_insert_with(|| Moments {
            step: 0,
            exp_avg: p.zeros_like(),
            exp_avg_sq: p.zeros_like(),
        });
        st.step += 1;
        let rule = RowRule {
            lr: self.lr,
            betas: self.betas,
            eps: self.eps,
            step: st.step,
            sign: if self.maximize { -1.0 } else { 1.0 },
            width,
        };
        let rows = g.coalesced(width, rows);
        match p.dtype() {
            DType::F32 => rule.apply::<f32>(&p, &st.exp_avg, &st.exp_avg_sq, &rows),
            DType::F64 => rule.apply::<f64>(&p, &st.exp_avg, &st.exp_avg_sq, &rows),
            other => Err(TensorError::InvalidArgument {
                op: "sparse_adam",
                detail: format!("no kernel for {other:?}"),
            }
            .into()),
        }
    }
}

/// The per-row update of one step, computed in f64 and stored in the parameter's dtype.
struct RowRule {
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    step: u64,
    sign: f64,
    width: usize,
}

impl RowRule {
    /// The update of the distinct `rows` (`grads [rows.len() * width]`), rows in parallel: each
    /// touches only its own span of the parameter and its moments.
    fn apply<T: Element>(
        &self,
        p: &Tensor,
        m: &Tensor,
        v: &Tensor,
        (rows, grads): &(Vec<usize>, Vec<f64>),
    ) -> Result<()> {
        let (b1, b2) = self.betas;
        let bc1 = 1.0 - b1.powi(self.step as i32);
        let bc2 = 1.0 - b2.powi(self.step as i32);
        let step_size = self.lr * bc2.sqrt() / bc1;
        let w = self.width;
        if w == 0 {
            return Ok(());
        }
        // each table row's place among the gradient's rows (usize::MAX: untouched)
        let mut slot = vec![usize::MAX; p.shape().first().copied().unwrap_or(0)];
        for (k, &r) in rows.iter().enumerate() {
            slot[r] = k;
        }
        m.update_data(|m: &mut [T]| {
            v.update_data(|v: &mut [T]| {
                p.update_data(|p: &mut [T]| {
                    gradus_tensor::threads::warm();
                    p.par_chunks_mut(w)
                        .zip(m.par_chunks_mut(w))
                        .zip(v.par_chunks_mut(w))
                        .zip(slot.par_iter())
                        .filter(|(_, &k)| k != usize::MAX)
                        .for_each(|(((pr, mr), vr), &k)| {
                            let g = &grads[k * w..(k + 1) * w];
                            for j in 0..w {
                                let gj = self.sign * g[j];
                                let mj = b1 * mr[j].to_f64() + (1.0 - b1) * gj;
                                let vj = b2 * vr[j].to_f64() + (1.0 - b2) * gj * gj;
                                mr[j] = T::from_f64(mj);
                                vr[j] = T::from_f64(vj);
                                let pj = pr[j].to_f64() - step_size * mj / (vj.sqrt() + self.eps);
                                pr[j] = T::from_f64(pj);
                            }
                        })
                })
            })
        })???;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Adam, Optimizer};

    /// torch.optim.SparseAdam's formulas, written out densely over every row with a mask.
    fn reference(
        p: &mut [f64],
        m: &mut [f64],
        v: &mut [f64],
        touched: &[bool],
        g: &[f64],
        t: i32,
        width: usize,
    ) {
        let (lr, b1, b2, eps) = (0.05, 0.8, 0.9, 1e-3);
        for k in 0..p.len() {
            if !touched[k / width] {
                continue;
            }
            m[k] = b1 * m[k] + (1.0 - b1) * g[k];
            v[k] = b2 * v[k] + (1.0 - b2) * g[k] * g[k];
            let step_size = lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
            p[k] -= step_size * m[k] / (v[k].sqrt() + eps);
        }
    }

    #[test]
    fn matches_the_torch_formulas_with_duplicate_rows_and_lazy_moments() {
        let (rows, width) = (6, 3);
        let init: Vec<f64> = (0..rows * width).map(|k| (k as f64 * 0.37).sin()).collect();
        let table = Param::new(Tensor::from_vec(init.clone(), &[rows, width]).unwrap());
        let mut opt = SparseAdam::new(std::slice::from_ref(&table), 0.05)
            .unwrap()
            .betas(0.8, 0.9)
            .unwrap()
            .eps(1e-3)
            .unwrap();
        let (mut p, mut m, mut v) = (init, vec![0.0; rows * width], vec![0.0; rows * width]);
        let batches: [&[usize]; 3] = [&[1, 4, 1], &[4, 5], &[0, 1, 1, 1]];
        for (t, idx) in batches.iter().enumerate() {
            let vals: Vec<f64> = (0..idx.len() * width)
                .map(|k| ((k + 7 * t) as f64 * 0.91).cos())
                .collect();
            let mut dense = vec![0.0; rows * width];
            let mut touched = vec![false; rows];
            for (k, &r) in idx.iter().enumerate() {
                touched[r] = true;
                for j in 0..width {
                    dense[r * width + j] += vals[k * width + j];
                }
            }
            let g = SparseGrad::new(
                idx.to_vec(),
                Tensor::from_vec(vals, &[idx.len(), width]).unwrap(),
            )
            .unwrap();
            opt.step(&[Some(g)]).unwrap();
            reference(
                &mut p,
                &mut m,
                &mut v,
                &touched,
                &dense,
                t as i32 + 1,
                width,
            );
        }
        for (a, b) in table.tensor().to_vec_f64().iter().zip(&p) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        assert_eq!(opt.steps(), vec![3]);
        // row 2 and 3 were never touched
        assert_eq!(p[2 * width], (2.0 * width as f64 * 0.37).sin());
    }

    #[test]
    fn equals_dense_adam_when_every_row_is_touched_every_step_up_to_eps_placement() {
        // with eps = tiny the two eps placements agree; all rows touched: no laziness
        let init = vec![0.5f64, -1.0, 2.0, 0.25];
        let sparse_w = Param::new(Tensor::from_vec(init.clone(), &[2, 2]).unwrap());
        let dense_w = Tensor::from_vec(init, &[2, 2])
            .unwrap()
            .requires_grad_(true);
        let mut sparse = SparseAdam::new(std::slice::from_ref(&sparse_w), 0.1)
            .unwrap()
            .eps(1e-30)
            .unwrap();
        let mut dense =
            Optimizer::new(Adam::new(0.1).eps(1e-30), std::slice::from_ref(&dense_w)).unwrap();
        for _ in 0..5 {
            // loss = sum(w^3): g = 3 w^2
            let g = sparse_w
                .tensor()
                .mul(&sparse_w.tensor())
                .unwrap()
                .mul_scalar(3.0)
                .unwrap();
            sparse
                .step(&[Some(SparseGrad::new(vec![0, 1], g).unwrap())])
                .unwrap();
            dense.zero_grad();
            dense_w
                .mul(&dense_w)
                .unwrap()
                .mul(&dense_w)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            dense.step().unwrap();
        }
        for (a, b) in sparse_w
            .tensor()
            .to_vec_f64()
            .iter()
            .zip(dense_w.to_vec_f64())
        {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }

    #[test]
    fn distinct_rows_in_any_order_and_their_duplicates_give_the_same_bits() {
        // the distinct fast path (rows as given) against the same gradient sorted, and against
        // each row split into two halves that the coalescing sums back (exact in binary)
        let run = |indices: Vec<usize>, rows: Vec<Vec<f32>>| -> Vec<u32> {
            let p = Param::new(
                Tensor::from_vec(
                    (0..12).map(|i| i as f32 * 0.1).collect::<Vec<f32>>(),
                    &[6, 2],
                )
                .unwrap(),
            );
            let mut opt = SparseAdam::new(std::slice::from_ref(&p), 0.05).unwrap();
            for _ in 0..3 {
                let values: Vec<f32> = rows.concat();
                let g = Tensor::from_vec(values, &[indices.len(), 2]).unwrap();
                opt.step(&[Some(SparseGrad::new(indices.clone(), g).unwrap())])
                    .unwrap();
            }
            p.tensor()
                .to_vec::<f32>()
                .unwrap()
                .iter()
                .map(|x| x.to_bits())
                .collect()
        };
        let unsorted = run(
            vec![4, 0, 2],
            vec![vec![0.5, -1.0], vec![2.0, 0.25], vec![-0.75, 1.5]],
        );
        let sorted = run(
            vec![0, 2, 4],
            vec![vec![2.0, 0.25], vec![-0.75, 1.5], vec![0.5, -1.0]],
        );
        let halves = run(
            vec![4, 0, 2, 0, 4, 2],
            vec![
                vec![0.25, -0.5],
                vec![1.0, 0.125],
                vec![-0.375, 0.75],
                vec![1.0, 0.125],
                vec![0.25, -0.5],
                vec![-0.375, 0.75],
            ],
        );
        assert_eq!(unsorted, sorted);
        assert_eq!(unsorted, halves);
    }

    #[test]
    fn maximize_and_errors() {
        let w = Param::new(Tensor::zeros(&[3, 2], DType::F32));
        let mut opt = SparseAdam::new(std::slice::from_ref(&w), 0.1)
            .unwrap()
            .maximize(true);
        let g = SparseGrad::new(vec![2], Tensor::ones(&[1, 2], DType::F32)).unwrap();
        opt.step(&[Some(g)]).unwrap();
        assert!((w.tensor().to_vec_f64()[4] - 0.1).abs() < 1e-6);
        let far = SparseGrad::new(vec![3], Tensor::ones(&[1, 2], DType::F32)).unwrap();
        let e = opt.step(&[Some(far)]).unwrap_err().to_string();
        assert!(
            e.starts_with("parameter 0:") && e.contains("sparse_adam"),
            "{e}"
        );
        let wide = SparseGrad::new(vec![0], Tensor::ones(&[1, 3], DType::F32)).unwrap();
        assert!(opt.step(&[Some(wide)]).is_err());
        assert!(opt.step(&[]).is_err());
        assert!(SparseGrad::new(vec![0, 1], Tensor::ones(&[1, 2], DType::F32)).is_err());
        assert!(SparseAdam::new(&[], -1.0).is_err());
        assert_eq!(
            SparseAdam::new(&[], 1.0)
                .unwrap()
                .betas(1.0, 0.5)
                .unwrap_err()
                .to_string(),
            "Invalid beta parameter at index 0: 1"
        );
        // no gradient: untouched, step count unchanged
        opt.step(&[None]).unwrap();
        assert_eq!(opt.steps(), vec![1]);
    }
}
