//! Hessian-vector products of an [`Objective`], matrix-free, by double backward (Pearlmutter
//! 1994; as PyHessian's `hessian_vector_product`): `H v = ∇(∇L · v)`, one batch at a time. The
//! Hessian is never formed; a product costs about two gradient evaluations.

use crate::objective::accumulate;
use crate::vector::ParamVector;
use crate::{AnalysisError, Objective, Result};
use gradus_tensor::autodiff::{grad, no_grad};
use gradus_tensor::Tensor;

impl Objective<'_> {
    /// The Hessian-vector product `H v` of the objective at the parameters' current values.
    ///
    /// # Errors
    /// When `v` does not hold one tensor of each parameter's shape (naming the parameter), or a
    /// batch loss fails.
    ///
    /// ```
    /// use gradus_analysis::Objective;
    /// use gradus_tensor::{Param, Tensor};
    /// // L(x) = x0² x1 at (3, 5): H = [[2 x1, 2 x0], [2 x0, 0]] = [[10, 6], [6, 0]]
    /// let x = Param::new(Tensor::from_vec(vec![3.0f64, 5.0], &[2]).unwrap());
    /// let p = x.clone();
    /// let f = Objective::new(vec![("x".into(), x)], vec![1.0], move |_| {
    ///     let t = p.tensor();
    ///     let x0 = t.narrow(0, 0, 1)?;
    ///     Ok(x0.mul(&x0)?.mul(&t.narrow(0, 1, 1)?)?.sum_all()?)
    /// }).unwrap();
    /// let v = vec![Tensor::from_vec(vec![1.0f64, 0.0], &[2]).unwrap()];
    /// assert_eq!(f.hvp(&v).unwrap()[0].to_vec::<f64>().unwrap(), vec![10.0, 6.0]);
    /// ```
    pub fn hvp(&self, v: &[Tensor]) -> Result<ParamVector> {
        self.check_shapes(v, "the vector of a Hessian-vector product")?;
        let values = self.values();
        let inputs: Vec<&Tensor> = values.iter().collect();
        let v: Vec<Tensor> = v.iter().map(Tensor::detach).collect();
        let mut total: Option<ParamVector> = None;
        for (b, &w) in self.weights().iter().enumerate() {
            let hv = batch_hvp(self, b, &values, &inputs, &v)?;
            total = Some(accumulate(total, w, &hv)?);
        }
        total.ok_or_else(|| AnalysisError::Invalid("no batch".into()))
    }
}

/// `H_b v` for one batch: the gradient with its graph, its dot product with `v`, differentiated.
fn batch_hvp(
    f: &Objective<'_>,
    b: usize,
    values: &[Tensor],
    inputs: &[&Tensor],
    v: &[Tensor],
) -> Result<ParamVector> {
    let zeros = || values.iter().map(Tensor::zeros_like).collect();
    let Some(g) = gradient_graph(f, b, values, inputs)? else {
        return Ok(zeros());
    };
    let mut gv: Option<Tensor> = None;
    for (gi, vi) in g.iter().zip(v) {
        let term = gi.mul(vi)?.sum_all()?;
        gv = Some(match gv {
            None => term,
            Some(s) => s.add(&term)?,
        });
    }
    match gv {
        Some(gv) if gv.requires_grad() => Ok(grad(&gv, inputs, None, false)?),
        // the gradient does not depend on the parameters: the loss is linear, H = 0
        _ => Ok(no_grad(zeros)),
    }
}

/// Batch `b`'s gradient with its graph (`None` when the loss does not depend on the
/// parameters), from the objective's kept graphs when they are for these parameter tensors.
fn gradient_graph(
    f: &Objective<'_>,
    b: usize,
    values: &[Tensor],
    inputs: &[&Tensor],
) -> Result<Option<ParamVector>> {
    let ids: Vec<_> = values.iter().map(Tensor::id).collect();
    if let Some(cache) = f.graphs() {
        let cache = cache.borrow();
        if cache.ids == ids {
            if let Some(Some(g)) = cache.grads.get(b) {
                return Ok(Some(g.clone()));
            }
        }
    }
    let loss = f.batch_loss(b)?;
    let g = if loss.requires_grad() {
        Some(grad(&loss, inputs, None, true)?)
    } else {
        None
    };
    if let Some(cache) = f.graphs() {
        let mut cache = cache.borrow_mut();
        if cache.ids != ids {
            cache.ids = ids;
            cache.grads = vec![None; f.weights().len()];
        }
        cache.grads[b] = g.clone();
    }
    Ok(g)
}
