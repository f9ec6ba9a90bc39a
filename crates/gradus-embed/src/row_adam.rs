//! `RowAdam`: the update of [`gradus_optim::SparseAdam`] (`torch.optim.SparseAdam`) for a table
//! whose gradient rows are already distinct, as [`crate::sgns_grad`] gives them, run in parallel
//! over the rows; equal to `SparseAdam` bit for bit (tested), without its sorting and copies.

use crate::{EmbedError, Result};
use gradus_tensor::{DType, Element, Param, Tensor};
use rayon::prelude::*;

/// Lazy Adam over one table `[rows, dim]` and distinct-row gradients: for each row `i` given,
/// ```text
/// t <- t + 1                                    (per table, per step)
/// m[i] <- b1 m[i] + (1 - b1) g[i]
/// v[i] <- b2 v[i] + (1 - b2) g[i]^2
/// p[i] <- p[i] - lr sqrt(1 - b2^t) / (1 - b1^t) · m[i] / (sqrt(v[i]) + eps)
/// ```
/// in f64, stored in the table's dtype, exactly as [`gradus_optim::SparseAdam`] with torch's
/// defaults (betas 0.9, 0.999; eps 1e-8). Rows not given keep their values and moments.
///
/// ```
/// use gradus_embed::RowAdam;
/// use gradus_tensor::{DType, Param, Tensor};
/// let table = Param::new(Tensor::zeros(&[100, 2], DType::F32));
/// let mut opt = RowAdam::new(table.clone(), 0.1).unwrap();
/// opt.step::<f32>(&[7], &[1.0, -1.0]).unwrap();
/// let w = table.tensor().to_vec::<f32>().unwrap();
/// assert!((w[14] + 0.1).abs() < 1e-6 && (w[15] - 0.1).abs() < 1e-6); // lr against the sign
/// ```
#[derive(Clone, Debug)]
pub struct RowAdam {
    table: Param,
    lr: f64,
    step: u64,
    /// `[rows, dim]` first and second moments, the table's dtype
    m: Tensor,
    v: Tensor,
}

impl RowAdam {
    /// Lazy Adam on `table` with learning rate `lr`.
    ///
    /// # Errors
    /// [`EmbedError::Invalid`] (key `lr`) unless `lr > 0`; (key `table`) for a table that is not
    /// 2-D f32 or f64.
    pub fn new(table: Param, lr: f64) -> Result<RowAdam> {
        if lr.is_nan() || lr <= 0.0 {
            return Err(EmbedError::Invalid {
                key: "lr",
                detail: format!("{lr} must be above 0"),
            });
        }
        let t = table.tensor();
        if t.rank() != 2 || !matches!(t.dtype(), DType::F32 | DType::F64) {
            return Err(EmbedError::Invalid {
                key: "table",
                detail: format!(
                    "is {:?} {:?}; RowAdam takes a 2-D f32 or f64 table",
                    t.shape(),
                    t.dtype()
                ),
            });
        }
        Ok(RowAdam {
            m: t.zeros_like(),
            v: t.zeros_like(),
            table,
            lr,
            step: 0,
        })
    }

    /// One step with the gradient `grad [rows.len(), dim]` of the distinct `rows`.
    ///
    /// # Errors
    /// [`EmbedError::Invalid`] (key `rows`) for a repeated row, a row past the table or a
    /// gradient of the wrong length; a tensor error when `T` is not the table's dtype.
    pub fn step<T: Element>(&mut self, rows: &[usize], grad: &[T]) -> Result<()> {
        let p = self.table.tensor();
        let (n, dim) = (p.shape()[0], p.shape()[1]);
        if grad.len() != rows.len() * dim {
            return Err(invalid(format!(
                "{} rows need {} gradient values, got {}",
                rows.len(),
                rows.len() * dim,
                grad.len()
            )));
        }
        let mut slot = vec![usize::MAX; n];
        for (s, &r) in rows.iter().enumerate() {
            if r >= n || slot[r] != usize::MAX {
                return Err(invalid(format!(
                    "row {r} is repeated or past the table's {n}"
                )));
            }
            slot[r] = s;
        }
        self.step += 1;
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
        let bc1 = 1.0 - b1.powi(self.step as i32);
        let bc2 = 1.0 - b2.powi(self.step as i32);
        let step_size = self.lr * bc2.sqrt() / bc1;
        p.update_data(|p: &mut [T]| {
            self.m.update_data(|m: &mut [T]| {
                self.v.update_data(|v: &mut [T]| {
                    p.par_chunks_mut(dim)
                        .zip(m.par_chunks_mut(dim))
                        .zip(v.par_chunks_mut(dim))
                        .enumerate()
                        .filter(|(r, _)| slot[*r] != usize::MAX)
                        .for_each(|(r, ((pr, mr), vr))| {
                            let g = &grad[slot[r] * dim..(slot[r] + 1) * dim];
                            for j in 0..dim {
                                let gj = g[j].to_f64();
                                let mj = b1 * mr[j].to_f64() + (1.0 - b1) * gj;
                                let vj = b2 * vr[j].to_f64() + (1.0 - b2) * gj * gj;
                                mr[j] = T::from_f64(mj);
                                vr[j] = T::from_f64(vj);
                                pr[j] = T::from_f64(
                                    pr[j].to_f64() - step_size * mj / (vj.sqrt() + eps),
                                );
                            }
                        })
                })
            })
        })???;
        Ok(())
    }
}

fn invalid(detail: String) -> EmbedError {
    EmbedError::Invalid {
        key: "rows",
        detail,
    }
}
