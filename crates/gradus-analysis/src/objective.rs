//! [`Objective`]: a model's training loss as a function of its parameters, the thing whose
//! curvature this crate measures. The loss is a weighted sum of batch losses (the mean over the
//! samples of the batches, when the weights are the batches' shares of the samples), so the
//! Hessian of many batches is taken without holding them in one graph.

use crate::vector::ParamVector;
use crate::{AnalysisError, Result};
use gradus_tensor::autodiff::{grad, no_grad};
use gradus_tensor::{Param, Tensor, TensorId};
use std::cell::RefCell;
use std::rc::Rc;

/// The loss of batch `b` as a differentiable scalar tensor.
pub type BatchLoss<'a> = Rc<dyn Fn(usize) -> Result<Tensor> + 'a>;

/// Each batch's gradient with its graph, for the parameter tensors whose ids are kept.
#[derive(Default)]
pub(crate) struct GraphCache {
    pub(crate) ids: Vec<TensorId>,
    pub(crate) grads: Vec<Option<ParamVector>>,
}

/// `L(θ) = Σ_b w_b · loss_b(θ)` over named parameters `θ`.
///
/// ```
/// use gradus_analysis::Objective;
/// use gradus_tensor::{Param, Tensor};
/// // L(x) = x0² + 3 x1²
/// let x = Param::new(Tensor::from_vec(vec![1.0f64, 1.0], &[2]).unwrap());
/// let p = x.clone();
/// let c = Tensor::from_vec(vec![1.0f64, 3.0], &[2]).unwrap();
/// let f = Objective::new(vec![("x".into(), x)], vec![1.0], move |_| {
///     Ok(p.tensor().mul(&p.tensor())?.mul(&c)?.sum_all()?)
/// }).unwrap();
/// assert_eq!(f.loss().unwrap(), 4.0);
/// assert_eq!(f.gradient().unwrap()[0].to_vec::<f64>().unwrap(), vec![2.0, 6.0]);
/// ```
#[derive(Clone)]
pub struct Objective<'a> {
    names: Vec<String>,
    params: Vec<Param>,
    weights: Vec<f64>,
    loss: BatchLoss<'a>,
    graphs: Option<Rc<RefCell<GraphCache>>>,
}

impl<'a> Objective<'a> {
    /// The objective over `params` (those that do not require gradients are left out, as frozen
    /// weights are by the optimizer): `loss(b)` computes batch `b`'s loss from the parameters'
    /// current tensors, `weights[b]` its weight (one batch per weight).
    ///
    /// # Errors
    /// [`AnalysisError::Invalid`] when no parameter requires gradients, or there is no weight, or
    /// a weight is negative or not finite (naming it).
    pub fn new(
        params: Vec<(String, Param)>,
        weights: Vec<f64>,
        loss: impl Fn(usize) -> Result<Tensor> + 'a,
    ) -> Result<Objective<'a>> {
        let (names, params): (Vec<_>, Vec<_>) = params
            .into_iter()
            .filter(|(_, p)| p.requires_grad())
            .unzip();
        if params.is_empty() {
            return Err(AnalysisError::Invalid(
                "no parameter requires gradients: there is no curvature to measure".into(),
            ));
        }
        if weights.is_empty() {
            return Err(AnalysisError::Invalid(
                "no batch: the objective needs at least one batch weight".into(),
            ));
        }
        if let Some((b, w)) = weights
            .iter()
            .enumerate()
            .find(|(_, w)| !w.is_finite() || **w < 0.0)
        {
            return Err(AnalysisError::Invalid(format!(
                "the weight of batch {b} is {w}: weights must be finite and non-negative"
            )));
        }
        Ok(Objective {
            names,
            params,
            weights,
            loss: Rc::new(loss),
            graphs: None,
        })
    }

    /// Keeps each batch's gradient graph between Hessian-vector products (PyHessian's
    /// `retain_graph=True`), so a product costs one double-backward pass instead of a forward, a
    /// backward and a double backward: about twice as fast, for the memory of one training step's
    /// graph per batch. The graphs are rebuilt when the parameters' values change.
    pub fn keep_gradient_graphs(mut self) -> Objective<'a> {
        self.graphs = Some(Rc::default());
        self
    }

    /// The gradient graphs, when kept.
    pub(crate) fn graphs(&self) -> Option<&RefCell<GraphCache>> {
        self.graphs.as_deref()
    }

    /// The parameters' names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The parameters, in order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The batches' weights.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The number of scalar parameters (the Hessian's side).
    pub fn dim(&self) -> usize {
        self.params.iter().map(Param::numel).sum()
    }

    /// The parameters' current values (handles to their tensors).
    pub fn values(&self) -> ParamVector {
        self.params.iter().map(Param::tensor).collect()
    }

    /// Replaces the parameters' values with detached copies of `values` (one per parameter).
    ///
    /// # Errors
    /// When the count or a shape differs (naming the parameter).
    pub fn set_values(&self, values: &[Tensor]) -> Result<()> {
        self.check_shapes(values, "values")?;
        for (p, v) in self.params.iter().zip(values) {
            p.set(v.clone());
        }
        Ok(())
    }

    /// The objective restricted to parameter `i` (the others held fixed): its Hessian is the
    /// diagonal block of parameter `i`.
    ///
    /// # Errors
    /// When `i` is out of range.
    pub fn block(&self, i: usize) -> Result<Objective<'a>> {
        let (Some(name), Some(param)) = (self.names.get(i), self.params.get(i)) else {
            return Err(AnalysisError::Invalid(format!(
                "parameter {i} out of range: the objective has {}",
                self.params.len()
            )));
        };
        Ok(Objective {
            names: vec![name.clone()],
            params: vec![param.clone()],
            weights: self.weights.clone(),
            loss: self.loss.clone(),
            graphs: self.graphs.as_ref().map(|_| Rc::default()),
        })
    }

    /// The loss of batch `b` as a differentiable tensor.
    pub(crate) fn batch_loss(&self, b: usize) -> Result<Tensor> {
        (self.loss)(b)
    }

    /// The loss value `Σ_b w_b · loss_b`, computed without recording a graph.
    ///
    /// # Errors
    /// When a batch loss fails or is not a scalar.
    pub fn loss(&self) -> Result<f64> {
        no_grad(|| {
            self.weights
                .iter()
                .enumerate()
                .try_fold(0.0, |acc, (b, w)| Ok(acc + w * self.batch_loss(b)?.item()?))
        })
    }

    /// The gradient `∇L` (one tensor per parameter).
    ///
    /// # Errors
    /// When a batch loss fails or is not a scalar.
    pub fn gradient(&self) -> Result<ParamVector> {
        let values = self.values();
        let inputs: Vec<&Tensor> = values.iter().collect();
        let mut total: Option<ParamVector> = None;
        for (b, &w) in self.weights.iter().enumerate() {
            let loss = self.batch_loss(b)?;
            let g = if loss.requires_grad() {
                grad(&loss, &inputs, None, false)?
            } else {
                values.iter().map(Tensor::zeros_like).collect()
            };
            total = Some(accumulate(total, w, &g)?);
        }
        total.ok_or_else(|| AnalysisError::Invalid("no batch".into()))
    }

    /// Checks that `v` holds one tensor of each parameter's shape.
    pub(crate) fn check_shapes(&self, v: &[Tensor], what: &str) -> Result<()> {
        if v.len() != self.params.len() {
            return Err(AnalysisError::Invalid(format!(
                "{what} hold {} tensors for {} parameters",
                v.len(),
                self.params.len()
            )));
        }
        for ((name, p), t) in self.names.iter().zip(&self.params).zip(v) {
            if p.shape() != t.shape() {
                return Err(AnalysisError::Invalid(format!(
                    "{what}: the tensor for parameter `{name}` has shape {:?}, the parameter {:?}",
                    t.shape(),
                    p.shape()
                )));
            }
        }
        Ok(())
    }
}

/// `total + w·g` (or `w·g` for the first batch), without recording a graph.
pub(crate) fn accumulate(total: Option<ParamVector>, w: f64, g: &[Tensor]) -> Result<ParamVector> {
    no_grad(|| match total {
        None => g.iter().map(|t| Ok(t.mul_scalar(w)?)).collect(),
        Some(total) => crate::vector::axpy(&total, w, g),
    })
}
