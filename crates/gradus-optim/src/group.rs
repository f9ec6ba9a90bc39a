//! [`ParamGroup`]: the parameter handles of one group of an [`Optimizer`](crate::Optimizer), its
//! transformation and its state, kept fitting the parameters as they change.
//!
//! The group holds the same [`Param`] handles the modules hold (PyTorch's `param_groups`), and
//! reads each parameter's current tensor at every step, so that after the optimizer was built:
//! - a frozen parameter (`requires_grad` false) is skipped and keeps its state, as PyTorch skips
//!   parameters whose `grad` is `None`; unfreezing it resumes its updates from that state. The
//!   transformation then sees only the trainable parameters (a global-norm clip measures those),
//!   and the group's step count advances once per step, as optax counts steps per
//!   transformation;
//! - a parameter cast to another dtype (`Module::to`, `Param::cast`) has its state buffers cast
//!   to match before the step (buffers that had the parameter's old dtype get its new one);
//! - a parameter replaced by `Param::set` is updated in its new values; if their shape differs,
//!   the step fails with [`OptimError::ParamReshaped`].
//!
//! Errors that point at a parameter ([`OptimError::param`]) name it by the name it was given
//! ([`Optimizer::with_named_params`](crate::Optimizer::with_named_params): its module path, such
//! as `layers.0.weight`), else by its group and index in the group.

use crate::{GradientTransformation, OptimError, ParamRef, Result, State};
use gradus_tensor::{DType, Param, Tensor};

/// One parameter group: its parameters, its transformation (its own lr, weight decay...) and
/// state.
///
/// ```
/// use gradus_optim::{Optimizer, Sgd};
/// use gradus_tensor::{DType, Param, Tensor};
/// let w = Param::new(Tensor::ones(&[2], DType::F32));
/// let opt = Optimizer::with_params(Sgd::new(0.1), &[w.clone()]).unwrap();
/// assert!(opt.groups()[0].params()[0].same_as(&w));
/// ```
pub struct ParamGroup {
    params: Vec<Param>,
    /// Each parameter's name (its module path), when the group was given one.
    names: Vec<Option<String>>,
    /// The shape and dtype of each parameter that `state` was made for (or last cast to).
    fitted: Vec<(Vec<usize>, DType)>,
    transform: Box<dyn GradientTransformation>,
    pub(crate) state: State,
}

impl ParamGroup {
    /// A group over `params` named `names` (one per parameter, `None` for a parameter without a
    /// name), its state made by `transform.init`.
    pub(crate) fn new(
        transform: Box<dyn GradientTransformation>,
        params: Vec<Param>,
        names: Vec<Option<String>>,
    ) -> Result<ParamGroup> {
        debug_assert_eq!(params.len(), names.len());
        let tensors = current(&params);
        let state = transform.init(&tensors)?;
        Ok(ParamGroup {
            fitted: layouts(&tensors),
            params,
            names,
            transform,
            state,
        })
    }

    /// The parameter handles, in the order the state holds them.
    ///
    /// ```
    /// use gradus_optim::{Optimizer, Sgd};
    /// use gradus_tensor::{DType, Tensor};
    /// let w = Tensor::ones(&[2], DType::F32).requires_grad_(true);
    /// let opt = Optimizer::new(Sgd::new(0.1), &[w.clone()]).unwrap();
    /// assert_eq!(opt.groups()[0].params()[0].tensor().id(), w.id());
    /// ```
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Each parameter's name (its module path), in the order of [`ParamGroup::params`]; `None`
    /// for a parameter given without one.
    ///
    /// ```
    /// use gradus_optim::{Optimizer, Sgd};
    /// use gradus_tensor::{DType, Param, Tensor};
    /// let w = Param::new(Tensor::ones(&[2], DType::F32));
    /// let opt = Optimizer::with_named_params(Sgd::new(0.1), &[("fc.weight".to_string(), w)]).unwrap();
    /// assert_eq!(opt.groups()[0].names(), &[Some("fc.weight".to_string())]);
    /// ```
    pub fn names(&self) -> &[Option<String>] {
        &self.names
    }

    /// Names the parameters without a name that are among `named` (the same handle,
    /// [`Param::same_as`], or a handle holding the same tensor, as an optimizer built from plain
    /// tensors holds them); the first name of a handle listed twice (tied weights) wins. Returns
    /// how many it named.
    pub(crate) fn set_names(&mut self, named: &[(String, Param)]) -> usize {
        if self.names.iter().all(Option::is_some) {
            return 0;
        }
        let ids: Vec<_> = named.iter().map(|(_, q)| q.tensor().id()).collect();
        let mut count = 0;
        let unnamed = self
            .params
            .iter()
            .zip(&mut self.names)
            .filter(|(_, n)| n.is_none());
        for (p, name) in unnamed {
            let id = p.tensor().id();
            let found = named
                .iter()
                .zip(&ids)
                .find(|((_, q), &q_id)| q.same_as(p) || q_id == id);
            if let Some(((n, _), _)) = found {
                *name = Some(n.clone());
                count += 1;
            }
        }
        count
    }

    /// Parameter `index` of group `group`, as errors name it.
    fn param_ref(&self, group: usize, index: usize) -> ParamRef {
        let name = self.names.get(index).cloned().flatten();
        ParamRef::in_group(group, index, name)
    }

    /// One step from the parameters' `.grad()`, skipping frozen ones (see the module doc).
    ///
    /// # Errors
    /// [`OptimError::MissingGrad`] for a trainable parameter without a gradient,
    /// [`OptimError::ParamReshaped`], or the transformation's error; errors that point at a
    /// parameter name it (see the module doc).
    pub(crate) fn step(&mut self, group: usize) -> Result<()> {
        let tensors = current(&self.params);
        self.fit_state(group, &tensors)?;
        let mut active = Vec::with_capacity(tensors.len());
        let mut grads = Vec::with_capacity(tensors.len());
        for (index, t) in tensors.iter().enumerate() {
            if t.requires_grad() {
                let missing = || OptimError::MissingGrad {
                    param: self.param_ref(group, index),
                };
                grads.push(t.grad().ok_or_else(missing)?);
                active.push(index);
            }
        }
        if active.len() == tensors.len() {
            return self
                .transform
                .apply(&tensors, &grads, &mut self.state)
                .map_err(|e| e.locate(group, |i| i, &self.names));
        }
        if active.is_empty() {
            return Ok(());
        }
        let n = tensors.len();
        let params: Vec<Tensor> = active.iter().map(|&i| tensors[i].clone()).collect();
        let mut sub = take_rows(&mut self.state, &active, n)?;
        let stepped = self.transform.apply(&params, &grads, &mut sub);
        put_rows(&mut self.state, sub, &active, n)?;
        // the transformation saw the trainable parameters only: its index `i` is `active[i]`
        stepped.map_err(|e| e.locate(group, |i| active.get(i).copied().unwrap_or(i), &self.names))
    }

    /// One step with explicit gradients for every parameter (frozen or not: the caller chose
    /// them).
    ///
    /// # Errors
    /// [`OptimError::ParamReshaped`], or the transformation's error.
    pub(crate) fn step_with(&mut self, group: usize, grads: &[Tensor]) -> Result<()> {
        let tensors = current(&self.params);
        self.fit_state(group, &tensors)?;
        self.transform
            .apply(&tensors, grads, &mut self.state)
            .map_err(|e| e.locate(group, |i| i, &self.names))
    }

    /// Checks the parameters against the state as [`ParamGroup::step`] does (casting the state of
    /// a parameter whose dtype changed), without stepping: for wrappers that move the parameters
    /// before the step (SAM's perturbation).
    ///
    /// # Errors
    /// [`OptimError::ParamReshaped`].
    pub(crate) fn fit(&mut self, group: usize) -> Result<()> {
        let tensors = current(&self.params);
        self.fit_state(group, &tensors)
    }

    /// Clears every parameter's gradient.
    pub(crate) fn zero_grad(&self) {
        self.params.iter().for_each(Param::zero_grad);
    }

    /// Takes `state` as made for the parameters as they are now (a restored checkpoint).
    pub(crate) fn set_state(&mut self, state: State) {
        self.fitted = layouts(&current(&self.params));
        self.state = state;
    }

    /// Casts the state of parameters whose dtype changed since it was made; errors on a changed
    /// shape.
    fn fit_state(&mut self, group: usize, tensors: &[Tensor]) -> Result<()> {
        let n = tensors.len();
        for (index, (t, (shape, dtype))) in tensors.iter().zip(&mut self.fitted).enumerate() {
            let at = || ParamRef::in_group(group, index, self.names[index].clone());
            if t.shape() != shape.as_slice() {
                return Err(OptimError::ParamReshaped {
                    param: at(),
                    from: shape.clone(),
                    to: t.shape().to_vec(),
                });
            }
            if t.dtype() != *dtype {
                cast_rows(&mut self.state, index, n, *dtype, t.dtype()).map_err(|e| {
                    OptimError::AtParam {
                        param: at(),
                        source: Box::new(e),
                    }
                })?;
                *dtype = t.dtype();
            }
        }
        Ok(())
    }
}

/// The tensors the handles hold now.
fn current(params: &[Param]) -> Vec<Tensor> {
    params.iter().map(Param::tensor).collect()
}

fn layouts(tensors: &[Tensor]) -> Vec<(Vec<usize>, DType)> {
    tensors
        .iter()
        .map(|t| (t.shape().to_vec(), t.dtype()))
        .collect()
}

/// Whether `state` holds one row of buffers per parameter of `n` (else it holds none), after
/// checking that it does one or the other.
fn has_rows(state: &State, n: usize) -> Result<bool> {
    match state.slots.len() {
        len if len == n => Ok(true),
        0 => Ok(false),
        len => Err(OptimError::StateMismatch(format!(
            "state has {len} parameters, group has {n}"
        ))),
    }
}

/// Casts the buffers of parameter `index` (of `n`) that hold `from` to `to`, in `state` and the
/// states it is made of.
fn cast_rows(state: &mut State, index: usize, n: usize, from: DType, to: DType) -> Result<()> {
    if has_rows(state, n)? {
        for b in state.slots[index].iter_mut().filter(|b| b.dtype() == from) {
            *b = crate::Buffer::copy_of(&b.to_tensor()?.to_dtype(to)?)?;
        }
    }
    for inner in &mut state.inner {
        cast_rows(inner, index, n, from, to)?;
    }
    Ok(())
}

/// Moves the rows of the parameters `keep` (of `n`) out of `state` and the states it is made of,
/// into a state for those parameters alone; [`put_rows`] moves them back.
fn take_rows(state: &mut State, keep: &[usize], n: usize) -> Result<State> {
    let slots = if has_rows(state, n)? {
        keep.iter()
            .map(|&i| std::mem::take(&mut state.slots[i]))
            .collect()
    } else {
        Vec::new()
    };
    let inner = state
        .inner
        .iter_mut()
        .map(|s| take_rows(s, keep, n))
        .collect::<Result<Vec<_>>>()?;
    Ok(State {
        count: state.count,
        slot_names: state.slot_names.clone(),
        slots,
        scalars: state.scalars.clone(),
        inner,
    })
}

/// Puts back the rows [`take_rows`] moved into `sub`, with the counts and scalars `sub` advanced.
fn put_rows(state: &mut State, sub: State, keep: &[usize], n: usize) -> Result<()> {
    if !same_layout(state, &sub, keep.len(), n) {
        return Err(OptimError::StateMismatch(
            "the transformation changed the layout of its state during a step".into(),
        ));
    }
    restore(state, sub, keep, n);
    Ok(())
}

/// Whether `sub` still has the layout [`take_rows`] gave it from `state`.
fn same_layout(state: &State, sub: &State, kept: usize, n: usize) -> bool {
    let rows = if state.slots.len() == n { kept } else { 0 };
    sub.slots.len() == rows
        && sub.inner.len() == state.inner.len()
        && state
            .inner
            .iter()
            .zip(&sub.inner)
            .all(|(s, t)| same_layout(s, t, kept, n))
}

fn restore(state: &mut State, sub: State, keep: &[usize], n: usize) {
    if state.slots.len() == n {
        for (row, &i) in sub.slots.into_iter().zip(keep) {
            state.slots[i] = row;
        }
    }
    state.count = sub.count;
    state.scalars = sub.scalars;
    for (s, inner) in state.inner.iter_mut().zip(sub.inner) {
        restore(s, inner, keep, n);
    }
}
