//! The core abstraction: [`GradientTransformation`], [`Chain`] and the [`Optimizer`] that applies a
//! transformation to parameter groups.

use crate::kernel::{check_pairs, fused_update, owned_all, AddUpdate, Target as FusedTarget};
use crate::{OptimError, ParamGroup, Result, State};
use gradus_tensor::{DType, Param, Tensor};

/// A gradient transformation in the optax style: state made from the parameters, and an update
/// that turns gradients into updates (which are *added* to the parameters).
///
/// `update` receives owned update buffers (initially the gradients) and may overwrite them in
/// place or replace them. `apply` is `update` followed by `p += u`; optimizers override it with a
/// fused kernel that reads `p, g` and their state and writes `p` and the state in one pass.
///
/// ```
/// use gradus_optim::{GradientTransformation, Sgd};
/// use gradus_tensor::Tensor;
/// let p = Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap();
/// let g = Tensor::from_vec(vec![0.5f64, -1.0], &[2]).unwrap();
/// let sgd = Sgd::new(0.1);
/// let mut state = sgd.init(&[p.clone()]).unwrap();
/// let mut updates = vec![g.mul_scalar(1.0).unwrap()];
/// sgd.update(&mut updates, &mut state, &[p.clone()]).unwrap();
/// assert_eq!(updates[0].to_vec::<f64>().unwrap(), vec![-0.05, 0.1]);
/// sgd.apply(&[p.clone()], &[g], &mut state).unwrap();
/// assert_eq!(p.to_vec::<f64>().unwrap(), vec![0.95, 2.1]);
/// ```
pub trait GradientTransformation: Send + Sync {
    /// The initial state for these parameters (validates hyperparameters).
    ///
    /// # Errors
    /// On invalid hyperparameters.
    fn init(&self, params: &[Tensor]) -> Result<State>;

    /// Turns `updates` (gradients on entry, owned buffers) into updates, advancing `state`.
    ///
    /// # Errors
    /// When `updates`, `state` and `params` do not fit together.
    fn update(&self, updates: &mut [Tensor], state: &mut State, params: &[Tensor]) -> Result<()>;

    /// Updates the parameters in place from their gradients: `p += update(g)`.
    ///
    /// # Errors
    /// As [`GradientTransformation::update`].
    fn apply(&self, params: &[Tensor], grads: &[Tensor], state: &mut State) -> Result<()> {
        check_pairs(params, grads)?;
        let mut updates = owned_all(grads)?;
        self.update(&mut updates, state, params)?;
        apply_updates(params, &updates)
    }

    /// This transformation with its state buffers held in `dtype` instead of the parameters'
    /// (optax's `mu_dtype`): e.g. f64 moments for f32 parameters, or f32 moments for a
    /// lower-precision parameter. The per-element rules then compute in `dtype` on the parameter
    /// and gradient converted to it, and round the new parameter (or the update) once into the
    /// parameter's dtype. Checkpoints store the buffers in `dtype` and check it on loading.
    ///
    /// ```
    /// use gradus_optim::{Adam, GradientTransformation, Optimizer};
    /// use gradus_tensor::{DType, Tensor};
    /// # fn main() -> gradus_optim::Result<()> {
    /// let w = Tensor::from_vec(vec![1.0f32, -2.0], &[2])?.requires_grad_(true);
    /// let mut opt = Optimizer::new(Adam::new(0.1).state_dtype(DType::F64), &[w.clone()])?;
    /// w.mul(&w)?.sum_all()?.backward()?;
    /// opt.step()?;
    /// let exp_avg = &opt.states()[0].slots[0][0];
    /// assert_eq!((exp_avg.dtype(), w.dtype()), (DType::F64, DType::F32));
    /// # Ok(()) }
    /// ```
    fn state_dtype(self, dtype: DType) -> crate::StateDtype<Self>
    where
        Self: Sized,
    {
        crate::StateDtype::new(self, dtype)
    }
}

impl<G: GradientTransformation + ?Sized> GradientTransformation for Box<G> {
    fn init(&self, params: &[Tensor]) -> Result<State> {
        (**self).init(params)
    }
    fn update(&self, updates: &mut [Tensor], state: &mut State, params: &[Tensor]) -> Result<()> {
        (**self).update(updates, state, params)
    }
    fn apply(&self, params: &[Tensor], grads: &[Tensor], state: &mut State) -> Result<()> {
        (**self).apply(params, grads, state)
    }
}

/// `p += u` for every pair, in place.
///
/// # Errors
/// On a shape or dtype mismatch, or a non-contiguous parameter.
///
/// ```
/// use gradus_tensor::Tensor;
/// let p = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap();
/// gradus_optim::apply_updates(&[p.clone()], &[Tensor::from_vec(vec![0.5f32, 0.5], &[2]).unwrap()]).unwrap();
/// assert_eq!(p.to_vec::<f32>().unwrap(), vec![1.5, 2.5]);
/// ```
pub fn apply_updates(params: &[Tensor], updates: &[Tensor]) -> Result<()> {
    check_pairs(params, updates)?;
    for (i, (p, u)) in params.iter().zip(updates).enumerate() {
        fused_update(FusedTarget::Params, p, u, [], &AddUpdate).map_err(crate::error::at(i))?;
    }
    Ok(())
}

/// Transformations applied one after another; its state holds one inner state per part.
///
/// ```
/// use gradus_optim::{AdamW, Chain, ClipByGlobalNorm, GradientTransformation, Schedule};
/// let opt = Chain::new()
///     .then(ClipByGlobalNorm::new(1.0))
///     .then(AdamW::new(Schedule::cosine(3e-4, 1000, 0.0)?).weight_decay(0.05));
/// # let _ = opt;
/// # Ok::<(), gradus_optim::OptimError>(())
/// ```
#[derive(Default)]
pub struct Chain {
    parts: Vec<Box<dyn GradientTransformation>>,
}

impl Chain {
    /// An empty chain (the identity).
    pub fn new() -> Chain {
        Chain::default()
    }

    /// Appends a transformation.
    pub fn then(mut self, t: impl GradientTransformation + 'static) -> Chain {
        self.parts.push(Box::new(t));
        self
    }

    fn check(&self, state: &State) -> Result<()> {
        if state.inner.len() != self.parts.len() {
            return Err(OptimError::StateMismatch(format!(
                "chain of {} transforms, state of {}",
                self.parts.len(),
                state.inner.len()
            )));
        }
        Ok(())
    }
}

/// A chain of the given boxed transformations (see [`Chain`]).
///
/// ```
/// use gradus_optim::{chain, ClipByValue, GradientTransformation, Sgd};
/// let opt = chain(vec![Box::new(ClipByValue::new(1.0)), Box::new(Sgd::new(0.1))]);
/// # let _ = opt;
/// ```
pub fn chain(parts: Vec<Box<dyn GradientTransformation>>) -> Chain {
    Chain { parts }
}

impl GradientTransformation for Chain {
    fn init(&self, params: &[Tensor]) -> Result<State> {
        let inner = self
            .parts
            .iter()
            .map(|t| t.init(params))
            .collect::<Result<Vec<_>>>()?;
        Ok(State {
            inner,
            ..State::default()
        })
    }

    fn update(&self, updates: &mut [Tensor], state: &mut State, params: &[Tensor]) -> Result<()> {
        self.check(state)?;
        for (t, s) in self.parts.iter().zip(&mut state.inner) {
            t.update(updates, s, params)?;
        }
        state.count += 1;
        Ok(())
    }

    fn apply(&self, params: &[Tensor], grads: &[Tensor], state: &mut State) -> Result<()> {
        self.check(state)?;
        let Some((last, first)) = self.parts.split_last() else {
            return Ok(());
        };
        let (last_state, first_states) = state.inner.split_last_mut().expect("checked length");
        if first.is_empty() {
            last.apply(params, grads, last_state)?;
        } else {
            check_pairs(params, grads)?;
            let mut updates = owned_all(grads)?;
            for (t, s) in first.iter().zip(first_states) {
                t.update(&mut updates, s, params)?;
            }
            last.apply(params, &updates, last_state)?;
        }
        state.count += 1;
        Ok(())
    }
}

/// Applies transformations to parameter groups: the convenience for the common case.
///
/// The optimizer holds [`Param`] handles (PyTorch's `param_groups`): built from a model's
/// `parameters()` with [`Optimizer::with_params`], it holds the very handles the model holds, so
/// freezing, casting or replacing a parameter afterwards reaches it (see [`ParamGroup`] for what
/// each does to the step). [`Optimizer::new`] takes plain tensors and wraps each in a handle of
/// its own.
///
/// ```
/// use gradus_optim::{Adam, Optimizer};
/// use gradus_tensor::Tensor;
/// # fn main() -> gradus_optim::Result<()> {
/// let w = Tensor::from_vec(vec![1.0f64, -2.0], &[2])?.requires_grad_(true);
/// let mut opt = Optimizer::new(Adam::new(0.1), &[w.clone()])?;
/// for _ in 0..100 {
///     opt.zero_grad();
///     w.mul(&w)?.sum_all()?.backward()?; // minimise |w|^2
///     opt.step()?;
/// }
/// assert!(w.to_vec::<f64>()?.iter().all(|x| x.abs() < 0.1));
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct Optimizer {
    groups: Vec<ParamGroup>,
}

impl Optimizer {
    /// An optimizer with one group over plain tensors, each held as it is (a
    /// [`Param::from_tensor`] handle of its own), so the caller's tensors are updated in place.
    ///
    /// # Errors
    /// On invalid hyperparameters.
    pub fn new(
        transform: impl GradientTransformation + 'static,
        params: &[Tensor],
    ) -> Result<Optimizer> {
        let mut opt = Optimizer::default();
        opt.add_group(transform, params)?;
        Ok(opt)
    }

    /// An optimizer with one group over parameter handles, typically a model's
    /// `parameters()`: it holds the same handles, so it follows the parameters when they are
    /// frozen, cast or replaced after it was built.
    ///
    /// # Errors
    /// On invalid hyperparameters.
    ///
    /// ```
    /// use gradus_optim::{Optimizer, Sgd};
    /// use gradus_tensor::{DType, Param, Tensor};
    /// # fn main() -> gradus_optim::Result<()> {
    /// let w = Param::new(Tensor::ones(&[2], DType::F64));
    /// let mut opt = Optimizer::with_params(Sgd::new(0.5), &[w.clone()])?;
    /// w.cast(DType::F32)?; // the optimizer follows the handle
    /// w.tensor().sum_all()?.backward()?;
    /// opt.step()?;
    /// assert_eq!(w.tensor().to_vec::<f32>()?, vec![0.5, 0.5]);
    /// # Ok(()) }
    /// ```
    pub fn with_params(
        transform: impl GradientTransformation + 'static,
        params: &[Param],
    ) -> Result<Optimizer> {
        let mut opt = Optimizer::default();
        opt.add_param_group(transform, params)?;
        Ok(opt)
    }

    /// An optimizer with one group over named parameter handles, typically a model's
    /// `named_parameters()`: as [`Optimizer::with_params`], and errors that point at a
    /// parameter name it by its name (`parameter \`layers.0.weight\``) instead of its group and
    /// index. A handle listed twice (tied weights) is held once, under its first name.
    ///
    /// # Errors
    /// On invalid hyperparameters.
    ///
    /// ```
    /// use gradus_optim::{Optimizer, Sgd};
    /// use gradus_tensor::{DType, Param, Tensor};
    /// # fn main() -> gradus_optim::Result<()> {
    /// let w = Param::new(Tensor::ones(&[2], DType::F32));
    /// let mut opt = Optimizer::with_named_params(Sgd::new(0.5), &[("layers.0.weight".into(), w.clone())])?;
    /// w.set(Tensor::ones(&[3], DType::F32)); // new values of another shape
    /// w.tensor().sum_all()?.backward()?;
    /// let err = opt.step().unwrap_err().to_string();
    /// assert!(err.starts_with("parameter `layers.0.weight` changed shape from [2] to [3]"), "{err}");
    /// # Ok(()) }
    /// ```
    pub fn with_named_params(
        transform: impl GradientTransformation + 'static,
        params: &[(String, Param)],
    ) -> Result<Optimizer> {
        let mut opt = Optimizer::default();
        opt.add_named_param_group(transform, params)?;
        Ok(opt)
    }

    /// Adds a group of plain tensors with its own transformation (e.g. no weight decay on
    /// biases); see [`Optimizer::new`].
    ///
    /// # Errors
    /// On invalid hyperparameters.
    pub fn add_group(
        &mut self,
        transform: impl GradientTransformation + 'static,
        params: &[Tensor],
    ) -> Result<()> {
        let handles: Vec<Param> = params.iter().cloned().map(Param::from_tensor).collect();
        self.add_param_group(transform, &handles)
    }

    /// Adds a group of parameter handles with its own transformation (PyTorch's
    /// `add_param_group`); see [`Optimizer::with_params`].
    ///
    /// # Errors
    /// On invalid hyperparameters.
    pub fn add_param_group(
        &mut self,
        transform: impl GradientTransformation + 'static,
        params: &[Param],
    ) -> Result<()> {
        let names = vec![None; params.len()];
        let group = ParamGroup::new(Box::new(transform), params.to_vec(), names)?;
        self.groups.push(group);
        Ok(())
    }

    /// Adds a group of named parameter handles with its own transformation; see
    /// [`Optimizer::with_named_params`].
    ///
    /// # Errors
    /// On invalid hyperparameters.
    pub fn add_named_param_group(
        &mut self,
        transform: impl GradientTransformation + 'static,
        params: &[(String, Param)],
    ) -> Result<()> {
        let mut handles: Vec<Param> = Vec::with_capacity(params.len());
        let mut names = Vec::with_capacity(params.len());
        for (name, p) in params {
            if !handles.iter().any(|q| q.same_as(p)) {
                handles.push(p.clone());
                names.push(Some(name.clone()));
            }
        }
        let group = ParamGroup::new(Box::new(transform), handles, names)?;
        self.groups.push(group);
        Ok(())
    }

    /// Names the parameters this optimizer holds without a name that are among `named` (the
    /// same handle, or the same tensor for an optimizer built from plain tensors), for an optimizer built with [`Optimizer::with_params`] from a model whose
    /// `named_parameters()` are at hand (the trainer does this when a run starts); the first
    /// name of a handle listed twice (tied weights) wins, and names given before are kept.
    /// Returns how many parameters it named.
    ///
    /// ```
    /// use gradus_optim::{Optimizer, Sgd};
    /// use gradus_tensor::{DType, Param, Tensor};
    /// let w = Param::new(Tensor::ones(&[2], DType::F32));
    /// let mut opt = Optimizer::with_params(Sgd::new(0.1), &[w.clone()]).unwrap();
    /// assert_eq!(opt.name_params(&[("fc.weight".to_string(), w)]), 1);
    /// assert_eq!(opt.groups()[0].names()[0].as_deref(), Some("fc.weight"));
    /// ```
    pub fn name_params(&mut self, named: &[(String, Param)]) -> usize {
        self.groups.iter_mut().map(|g| g.set_names(named)).sum()
    }

    /// The groups.
    pub fn groups(&self) -> &[ParamGroup] {
        &self.groups
    }

    /// One step using every trainable parameter's `.grad()`; frozen parameters (`requires_grad`
    /// false) are skipped and keep their state, as PyTorch skips parameters without a gradient.
    ///
    /// # Errors
    /// [`OptimError::MissingGrad`] when a parameter that requires grad has no gradient,
    /// [`OptimError::ParamReshaped`] when one was given values of another shape,
    /// [`OptimError::GradMismatch`] when a gradient does not fit its parameter; these and every
    /// other error at one parameter name it by its name when it has one (see
    /// [`Optimizer::with_named_params`]), else by group and index ([`OptimError::param`]).
    pub fn step(&mut self) -> Result<()> {
        for (gi, group) in self.groups.iter_mut().enumerate() {
            group.step(gi)?;
        }
        Ok(())
    }

    /// One step with explicit gradients, group after group in parameter order (every parameter
    /// is updated, frozen or not).
    ///
    /// # Errors
    /// When the number of gradients differs from the number of parameters.
    pub fn step_with(&mut self, grads: &[Tensor]) -> Result<()> {
        let total: usize = self.groups.iter().map(|g| g.params().len()).sum();
        if grads.len() != total {
            return Err(OptimError::StateMismatch(format!(
                "{total} parameters but {} gradients",
                grads.len()
            )));
        }
        let mut rest = grads;
        for (gi, group) in self.groups.iter_mut().enumerate() {
            let (mine, tail) = rest.split_at(group.params().len());
            group.step_with(gi, mine)?;
            rest = tail;
        }
        Ok(())
    }

    /// Clears every parameter's gradient.
    pub fn zero_grad(&self) {
        self.groups.iter().for_each(ParamGroup::zero_grad);
    }

    /// The state of every group, for checkpoints (serialize it with serde).
    pub fn state_dict(&self) -> Vec<State> {
        self.groups.iter().map(|g| g.state.clone()).collect()
    }

    /// The state of every group, borrowed (a checkpoint writer streams its buffers from here
    /// without copying them).
    pub fn states(&self) -> Vec<&State> {
        self.groups.iter().map(|g| &g.state).collect()
    }

    /// The state of every group, mutably (a checkpoint reader decodes saved buffers straight
    /// into them). Buffers must keep their shapes (the parameters') and their dtypes (the
    /// declared state dtype).
    pub fn states_mut(&mut self) -> Vec<&mut State> {
        self.groups.iter_mut().map(|g| &mut g.state).collect()
    }

    /// Restores states saved by [`Optimizer::state_dict`].
    ///
    /// # Errors
    /// When the number of groups differs.
    pub fn load_state_dict(&mut self, states: Vec<State>) -> Result<()> {
        if states.len() != self.groups.len() {
            return Err(OptimError::StateMismatch(format!(
                "{} groups but {} states",
                self.groups.len(),
                states.len()
            )));
        }
        for (g, s) in self.groups.iter_mut().zip(states) {
            g.set_state(s);
        }
        Ok(())
    }
}
