//! The task family a learned optimizer is meta-trained on (and evaluated on): random
//! ill-conditioned quadratics and small MLP classifiers on random subsets of a dataset. A task
//! is a loss of a list of parameter tensors and the parameters it starts from.

use crate::{OptimError, Result};
use gradus_tensor::{DType, Rng, Tensor};

/// An optimization problem: a scalar loss of parameters, and where they start.
pub trait Task {
    /// The starting parameters (fresh tensors, no gradient).
    fn init_params(&self) -> Vec<Tensor>;
    /// The loss at `params` (a scalar tensor, differentiable in `params`).
    ///
    /// # Errors
    /// When `params` do not fit the task.
    fn loss(&self, params: &[Tensor]) -> Result<Tensor>;
}

/// `f(θ) = ½ |A (θ - θ*)|² / n` in `n` dimensions with `A = G diag(s)`: `G` Gaussian with
/// variance `1/n`, scales `s` log-uniform in `[s_min, 1]`, so the Hessian's condition number is
/// about `1/s_min²`; `θ*` standard normal, start at `θ = 0`. The minimum is 0.
#[derive(Clone, Debug)]
pub struct Quadratic {
    a: Tensor,      // (n, n)
    target: Tensor, // (n): A θ*
}

impl Quadratic {
    /// A random quadratic in `dim` dimensions with column scales down to `s_min` (f64).
    pub fn sample(dim: usize, s_min: f64, rng: &mut Rng) -> Quadratic {
        let g = rng.normal(&[dim, dim], 0.0, 1.0 / (dim as f64).sqrt(), DType::F64);
        let scales: Vec<f64> = (0..dim).map(|_| s_min.powf(rng.uniform_f64())).collect();
        let s = Tensor::from_vec(scales, &[dim]).expect("dim scales");
        let a = g.mul(&s).expect("(n, n) * (n)");
        let theta = rng.normal(&[dim, 1], 0.0, 1.0, DType::F64);
        let target = a
            .matmul(&theta)
            .expect("(n, n) @ (n, 1)")
            .reshape(&[dim])
            .expect("n");
        Quadratic { a, target }
    }
}

impl Task for Quadratic {
    fn init_params(&self) -> Vec<Tensor> {
        vec![Tensor::zeros(&[self.target.numel()], DType::F64)]
    }

    fn loss(&self, params: &[Tensor]) -> Result<Tensor> {
        let [theta] = params else {
            return Err(OptimError::StateMismatch(format!(
                "a quadratic has 1 parameter, got {}",
                params.len()
            )));
        };
        let n = self.target.numel();
        let r = self
            .a
            .matmul(&theta.reshape(&[n, 1])?)?
            .reshape(&[n])?
            .sub(&self.target)?;
        Ok(r.mul(&r)?.sum_all()?.mul_scalar(0.5 / n as f64)?)
    }
}

/// A one-hidden-layer ReLU MLP classifier trained full-batch with the mean cross-entropy:
/// `logits = relu(x w1 + b1) w2 + b2`, `w1 (D, H)`, `w2 (H, C)`, He-normal init from a seed.
#[derive(Clone, Debug)]
pub struct MlpClassifier {
    x: Tensor, // (N, D), f64
    y: Tensor, // (N, C) one-hot
    hidden: usize,
    seed: u64,
}

/// Standardized features `(N, D)` (f64) and labels `0..C` of a numeric CSV file's text whose
/// last column is the class (the layout of `data/sklearn/*.csv`).
///
/// # Errors
/// [`OptimError::InvalidHyperparameter`] naming the line of a value that is not a number or a
/// row of another length.
pub fn read_classification_csv(text: &str) -> Result<(Tensor, Vec<usize>)> {
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let row: std::result::Result<Vec<f64>, _> =
            line.split(',').map(|v| v.trim().parse::<f64>()).collect();
        let row =
            row.map_err(|e| OptimError::InvalidHyperparameter(format!("csv line {}: {e}", i + 1)))?;
        if rows.first().is_some_and(|r| r.len() != row.len()) || row.len() < 2 {
            return Err(OptimError::InvalidHyperparameter(format!(
                "csv line {}: {} columns",
                i + 1,
                row.len()
            )));
        }
        rows.push(row);
    }
    let (n, d) = (rows.len(), rows.first().map_or(0, |r| r.len() - 1));
    let labels: Vec<usize> = rows.iter().map(|r| r[d].max(0.0) as usize).collect();
    let mut x = vec![0.0; n * d];
    for j in 0..d {
        let mean = rows.iter().map(|r| r[j]).sum::<f64>() / n as f64;
        let var = rows.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / n as f64;
        let sd = if var > 0.0 { var.sqrt() } else { 1.0 };
        for (i, r) in rows.iter().enumerate() {
            x[i * d + j] = (r[j] - mean) / sd;
        }
    }
    Ok((Tensor::from_vec(x, &[n, d])?, labels))
}

impl MlpClassifier {
    /// The classifier on the rows `rows` of `x (N, D)` with `labels`, `hidden` units, its
    /// initial weights drawn from `seed`.
    ///
    /// # Errors
    /// When a row index is out of range.
    pub fn new(
        x: &Tensor,
        labels: &[usize],
        rows: &[usize],
        hidden: usize,
        seed: u64,
    ) -> Result<MlpClassifier> {
        let classes = labels.iter().max().map_or(1, |m| m + 1);
        let idx = Tensor::from_vec(
            rows.iter().map(|&r| r as f64).collect::<Vec<_>>(),
            &[rows.len()],
        )?;
        let x = x.index_select(0, &idx)?;
        let picked = Tensor::from_vec(
            rows.iter().map(|&r| labels[r] as f64).collect::<Vec<_>>(),
            &[rows.len()],
        )?;
        let y = Tensor::one_hot(&picked, classes, DType::F64)?;
        Ok(MlpClassifier { x, y, hidden, seed })
    }
}

impl Task for MlpClassifier {
    fn init_params(&self) -> Vec<Tensor> {
        let (d, c, h) = (self.x.shape()[1], self.y.shape()[1], self.hidden);
        let mut rng = Rng::seed(self.seed);
        vec![
            rng.normal(&[d, h], 0.0, (2.0 / d as f64).sqrt(), DType::F64),
            Tensor::zeros(&[h], DType::F64),
            rng.normal(&[h, c], 0.0, (1.0 / h as f64).sqrt(), DType::F64),
            Tensor::zeros(&[c], DType::F64),
        ]
    }

    fn loss(&self, params: &[Tensor]) -> Result<Tensor> {
        let [w1, b1, w2, b2] = params else {
            return Err(OptimError::StateMismatch(format!(
                "the MLP has 4 parameters, got {}",
                params.len()
            )));
        };
        let logits = self.x.matmul(w1)?.add(b1)?.relu()?.matmul(w2)?.add(b2)?;
        let n = self.x.shape()[0] as f64;
        Ok(logits
            .log_softmax(1)?
            .mul(&self.y)?
            .sum_all()?
            .mul_scalar(-1.0 / n)?)
    }
}
