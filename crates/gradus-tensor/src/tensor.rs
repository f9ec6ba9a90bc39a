//! The `Tensor` type: a shared, immutable view of a buffer plus its place in the autodiff graph.

use crate::autodiff::{self, BackwardOp, Node};
use crate::backend::cpu::CpuStorage;
use crate::dtype::with_dtype;
use crate::layout::Layout;
use crate::{DType, Element, Result, Storage, TensorError};
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

/// A unique id per tensor, used to key gradients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(u64);

impl TensorId {
    fn next() -> TensorId {
        static COUNTER: AtomicU64 = AtomicU64::new(1);
        TensorId(COUNTER.fetch_add(1, Ordering::Relaxed))
    }
}

pub(crate) struct Inner {
    pub(crate) id: TensorId,
    pub(crate) storage: Arc<RwLock<Storage>>,
    pub(crate) layout: Layout,
    pub(crate) dtype: DType,
    /// How this tensor was computed, when it is part of a graph that needs gradients.
    pub(crate) node: Option<Node>,
    pub(crate) requires_grad: bool,
    /// Gradient accumulated by `backward` (leaves only).
    pub(crate) grad: Mutex<Option<Tensor>>,
}

/// An n-dimensional array of `f32` or `f64` with reverse-mode autodiff.
///
/// Cloning is cheap (a reference count); views (reshape, transpose, slicing) share storage.
/// Operations return `Result` so that a shape mismatch caused by user data becomes an error, not a
/// panic.
///
/// ```
/// use gradus_tensor::Tensor;
/// # fn main() -> gradus_tensor::Result<()> {
/// let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3])?.requires_grad_(true);
/// let y = x.mul(&x)?.sum_all()?; // y = sum x^2
/// y.backward()?;
/// assert_eq!(x.grad().unwrap().to_vec::<f64>()?, vec![2.0, 4.0, 6.0]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<Inner>);

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let values = self.to_vec_f64();
        let shown = &values[..values.len().min(8)];
        write!(
            f,
            "Tensor({:?}, {:?}, {:?}",
            self.shape(),
            self.dtype(),
            shown
        )?;
        if values.len() > 8 {
            write!(f, "...")?;
        }
        if let Some(node) = &self.0.node {
            write!(f, ", grad_fn={}", node.op.name())?;
        }
        write!(f, ")")
    }
}

impl Tensor {
    // ---- construction -------------------------------------------------------------------------

    pub(crate) fn from_parts(
        storage: Arc<RwLock<Storage>>,
        layout: Layout,
        dtype: DType,
    ) -> Tensor {
        Tensor(Arc::new(Inner {
            id: TensorId::next(),
            storage,
            layout,
            dtype,
            node: None,
            requires_grad: false,
            grad: Mutex::new(None),
        }))
    }

    pub(crate) fn from_storage(storage: Storage, shape: &[usize]) -> Tensor {
        let dtype = storage.dtype();
        debug_assert_eq!(storage.len(), shape.iter().product::<usize>());
        Tensor::from_parts(
            Arc::new(RwLock::new(storage)),
            Layout::contiguous(shape),
            dtype,
        )
    }

    pub(crate) fn from_data<T: Element>(data: Vec<T>, shape: &[usize]) -> Tensor {
        Tensor::from_storage(Storage::cpu(CpuStorage::from_vec(data)), shape)
    }

    /// Wraps a computed result; records `op` in the graph when gradients are enabled and an input
    /// requires them.
    pub(crate) fn from_op(
        storage: Arc<RwLock<Storage>>,
        layout: Layout,
        op: impl BackwardOp + 'static,
        inputs: &[&Tensor],
    ) -> Tensor {
        let dtype = storage.read().expect("storage lock").dtype();
        let track = autodiff::is_grad_enabled() && inputs.iter().any(|t| t.requires_grad());
        if !track {
            return Tensor::from_parts(storage, layout, dtype);
        }
        let inputs: Vec<Tensor> = inputs.iter().map(|&t| t.clone()).collect();
        Tensor(Arc::new(Inner {
            id: TensorId::next(),
            storage,
            layout,
            dtype,
            node: Some(Node {
                op: Box::new(op),
                inputs,
            }),
            requires_grad: true,
            grad: Mutex::new(None),
        }))
    }

    /// A new contiguous result of an op.
    pub(crate) fn from_op_data<T: Element>(
        data: Vec<T>,
        shape: &[usize],
        op: impl BackwardOp + 'static,
        inputs: &[&Tensor],
    ) -> Tensor {
        Tensor::from_op(
            Arc::new(RwLock::new(Storage::cpu(CpuStorage::from_vec(data)))),
            Layout::contiguous(shape),
            op,
            inputs,
        )
    }

    /// A new contiguous result of an op from the buffer a backend call returned.
    pub(crate) fn from_op_storage(
        storage: Storage,
        shape: &[usize],
        op: impl BackwardOp + 'static,
        inputs: &[&Tensor],
    ) -> Tensor {
        debug_assert_eq!(storage.len(), shape.iter().product::<usize>());
        Tensor::from_op(
            Arc::new(RwLock::new(storage)),
            Layout::contiguous(shape),
            op,
            inputs,
        )
    }

    /// The storage, read-locked: ops make their backend call on it.
    pub(crate) fn storage(&self) -> RwLockReadGuard<'_, Storage> {
        self.0.storage.read().expect("storage lock")
    }

    /// A view of this tensor's storage with another layout, recorded as `op`.
    pub(crate) fn view_op(&self, layout: Layout, op: impl BackwardOp + 'static) -> Tensor {
        Tensor::from_op(self.0.storage.clone(), layout, op, &[self])
    }

    /// A tensor of the given shape from row-major data.
    ///
    /// # Errors
    /// When `data.len()` differs from the product of `shape`.
    ///
    /// ```
    /// let t = gradus_tensor::Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    /// assert_eq!(t.shape(), &[2, 2]);
    /// assert!(gradus_tensor::Tensor::from_vec(vec![1.0f32], &[2]).is_err());
    /// ```
    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize]) -> Result<Tensor> {
        let numel: usize = shape.iter().product();
        if data.len() != numel {
            return Err(TensorError::InvalidShape {
                op: "from_vec",
                shape: shape.to_vec(),
                detail: format!("needs {numel} elements, got {}", data.len()),
            });
        }
        Ok(Tensor::from_data(data, shape))
    }

    /// A 0-dimensional tensor holding one value.
    ///
    /// ```
    /// let s = gradus_tensor::Tensor::scalar(2.5f64);
    /// assert_eq!(s.item().unwrap(), 2.5);
    /// ```
    pub fn scalar<T: Element>(value: T) -> Tensor {
        Tensor::from_data(vec![value], &[])
    }

    /// A tensor filled with `value`.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let t = Tensor::full(&[2], 7.0, DType::F64);
    /// assert_eq!(t.to_vec::<f64>().unwrap(), vec![7.0, 7.0]);
    /// ```
    pub fn full(shape: &[usize], value: f64, dtype: DType) -> Tensor {
        let n = shape.iter().product();
        with_dtype!(dtype, T => Tensor::from_data(vec![T::from_f64(value); n], shape))
    }

    /// A tensor of zeros.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// assert_eq!(Tensor::zeros(&[3], DType::F32).sum_all().unwrap().item().unwrap(), 0.0);
    /// ```
    pub fn zeros(shape: &[usize], dtype: DType) -> Tensor {
        Tensor::full(shape, 0.0, dtype)
    }

    /// A tensor of ones.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// assert_eq!(Tensor::ones(&[3], DType::F32).sum_all().unwrap().item().unwrap(), 3.0);
    /// ```
    pub fn ones(shape: &[usize], dtype: DType) -> Tensor {
        Tensor::full(shape, 1.0, dtype)
    }

    /// Zeros with this tensor's shape and dtype.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let z = Tensor::ones(&[2, 2], DType::F64).zeros_like();
    /// assert_eq!(z.to_vec::<f64>().unwrap(), vec![0.0; 4]);
    /// ```
    pub fn zeros_like(&self) -> Tensor {
        Tensor::zeros(self.shape(), self.dtype())
    }

    /// Ones with this tensor's shape and dtype.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// assert_eq!(Tensor::zeros(&[2], DType::F32).ones_like().to_vec::<f32>().unwrap(), vec![1.0, 1.0]);
    /// ```
    pub fn ones_like(&self) -> Tensor {
        Tensor::ones(self.shape(), self.dtype())
    }

    /// Values `start, start + step, ...` below `end`, as a 1-D tensor.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let t = Tensor::arange(0.0, 2.0, 0.5, DType::F64).unwrap();
    /// assert_eq!(t.to_vec::<f64>().unwrap(), vec![0.0, 0.5, 1.0, 1.5]);
    /// ```
    ///
    /// # Errors
    /// When `step` is zero or points away from `end`.
    pub fn arange(start: f64, end: f64, step: f64, dtype: DType) -> Result<Tensor> {
        if step == 0.0 || (end - start) * step < 0.0 || !step.is_finite() {
            return Err(TensorError::InvalidArgument {
                op: "arange",
                detail: format!("step {step} cannot go from {start} to {end}"),
            });
        }
        let n = ((end - start) / step).ceil().max(0.0) as usize;
        Ok(with_dtype!(dtype, T => Tensor::from_data(
            (0..n).map(|i| T::from_f64(start + i as f64 * step)).collect::<Vec<T>>(),
            &[n],
        )))
    }

    // ---- accessors ----------------------------------------------------------------------------

    /// The shape.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// assert_eq!(Tensor::zeros(&[2, 5], DType::F32).shape(), &[2, 5]);
    /// ```
    pub fn shape(&self) -> &[usize] {
        &self.0.layout.shape
    }

    /// Number of axes.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// assert_eq!(Tensor::zeros(&[2, 5], DType::F32).rank(), 2);
    /// ```
    pub fn rank(&self) -> usize {
        self.shape().len()
    }

    /// Number of elements.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// assert_eq!(Tensor::zeros(&[2, 5], DType::F32).numel(), 10);
    /// ```
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }

    /// The element type.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// assert_eq!(Tensor::zeros(&[1], DType::F64).dtype(), DType::F64);
    /// ```
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }

    /// The device holding the elements.
    ///
    /// ```
    /// use gradus_tensor::{DType, Device, Tensor};
    /// assert_eq!(Tensor::zeros(&[1], DType::F32).device(), Device::Cpu);
    /// ```
    pub fn device(&self) -> crate::Device {
        self.storage().device()
    }

    /// The view's layout (shape, strides, offset).
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let t = Tensor::zeros(&[2, 3], DType::F32).t().unwrap();
    /// assert_eq!(t.layout().strides(), &[1, 3]);
    /// ```
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }

    /// True when the view is row-major without gaps.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let t = Tensor::zeros(&[2, 3], DType::F32);
    /// assert!(t.is_contiguous() && !t.t().unwrap().is_contiguous());
    /// ```
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }

    /// This tensor's unique id.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let a = Tensor::zeros(&[1], DType::F32);
    /// assert_ne!(a.id(), a.zeros_like().id());
    /// ```
    pub fn id(&self) -> TensorId {
        self.0.id
    }

    /// True when gradients flow to or through this tensor.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// assert!(Tensor::zeros(&[1], DType::F32).requires_grad_(true).requires_grad());
    /// ```
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// True when this tensor was not computed by a recorded op (a parameter, an input, a constant).
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let w = Tensor::ones(&[2], DType::F64).requires_grad_(true);
    /// assert!(w.is_leaf() && !w.exp().unwrap().is_leaf());
    /// ```
    pub fn is_leaf(&self) -> bool {
        self.0.node.is_none()
    }

    /// The name of the op that made this tensor, if recorded (`"matmul"`, `"relu"`...).
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let w = Tensor::ones(&[2], DType::F64).requires_grad_(true);
    /// assert_eq!(w.exp().unwrap().op_name(), Some("exp"));
    /// ```
    pub fn op_name(&self) -> Option<&'static str> {
        self.0.node.as_ref().map(|n| n.op.name())
    }

    /// A leaf sharing this tensor's storage whose `requires_grad` is `flag`.
    ///
    /// Like PyTorch's `requires_grad_`, but by value: the result is the new handle to use.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let w = Tensor::zeros(&[3], DType::F32).requires_grad_(true);
    /// assert!(w.requires_grad());
    /// ```
    pub fn requires_grad_(self, flag: bool) -> Tensor {
        Tensor(Arc::new(Inner {
            id: TensorId::next(),
            storage: self.0.storage.clone(),
            layout: self.0.layout.clone(),
            dtype: self.0.dtype,
            node: None,
            requires_grad: flag,
            grad: Mutex::new(None),
        }))
    }

    /// The same values, cut from the graph: no gradient flows back through the result.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let w = Tensor::ones(&[2], DType::F64).requires_grad_(true);
    /// assert!(!w.exp().unwrap().detach().requires_grad());
    /// ```
    pub fn detach(&self) -> Tensor {
        Tensor::from_parts(self.0.storage.clone(), self.0.layout.clone(), self.dtype())
    }

    /// The gradient accumulated by [`Tensor::backward`], for leaves that require it.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let w = Tensor::from_vec(vec![3.0f64], &[1]).unwrap().requires_grad_(true);
    /// w.mul(&w).unwrap().sum_all().unwrap().backward().unwrap();
    /// assert_eq!(w.grad().unwrap().to_vec::<f64>().unwrap(), vec![6.0]);
    /// ```
    pub fn grad(&self) -> Option<Tensor> {
        self.0.grad.lock().expect("grad lock").clone()
    }

    /// Replaces the accumulated gradient (`None` clears it, as `zero_grad` does).
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let w = Tensor::ones(&[2], DType::F32).requires_grad_(true);
    /// w.set_grad(Some(Tensor::ones(&[2], DType::F32)));
    /// w.set_grad(None);
    /// assert!(w.grad().is_none());
    /// ```
    pub fn set_grad(&self, grad: Option<Tensor>) {
        *self.0.grad.lock().expect("grad lock") = grad;
    }

    // ---- data access --------------------------------------------------------------------------

    /// Runs `f` on the elements in row-major order (borrowed when contiguous, else copied).
    ///
    /// # Errors
    /// When `T` is not this tensor's element type.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap();
    /// let total = t.with_data(|v: &[f32]| v.iter().sum::<f32>()).unwrap();
    /// assert_eq!(total, 3.0);
    /// ```
    pub fn with_data<T: Element, R>(&self, f: impl FnOnce(&[T]) -> R) -> Result<R> {
        self.check_dtype::<T>("with_data")?;
        Ok(self.with_slice(f))
    }

    /// Internal: `with_data` without the dtype check (callers dispatch on dtype first).
    pub(crate) fn with_slice<T: Element, R>(&self, f: impl FnOnce(&[T]) -> R) -> R {
        let guard = self.0.storage.read().expect("storage lock");
        let all = guard.as_cpu().slice::<T>();
        let layout = &self.0.layout;
        if layout.is_contiguous() {
            f(&all[layout.offset..layout.offset + layout.numel()])
        } else {
            f(&crate::backend::cpu::kernels::elementwise::gather_strided(
                all, layout,
            ))
        }
    }

    /// The elements as one row-major slice that stays readable while other tensors are read
    /// too: borrowed from the storage when the tensor is contiguous, copied otherwise (internal;
    /// dtype must match).
    pub(crate) fn elements<T: Element>(&self) -> Elements<'_, T> {
        let layout = &self.0.layout;
        if layout.is_contiguous() {
            let guard = self.0.storage.read().expect("storage lock");
            let range = layout.offset..layout.offset + layout.numel();
            Elements::Borrowed(guard, range)
        } else {
            Elements::Copied(self.contiguous_vec())
        }
    }

    /// A row-major copy of the elements.
    ///
    /// # Errors
    /// When `T` is not this tensor's element type.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    /// assert_eq!(t.t().unwrap().to_vec::<f64>().unwrap(), vec![1.0, 3.0, 2.0, 4.0]);
    /// ```
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        self.with_data(|v: &[T]| v.to_vec())
    }

    /// A row-major copy of the elements converted to f64, whatever the dtype.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let t = Tensor::from_vec(vec![0.5f32], &[1]).unwrap();
    /// assert_eq!(t.to_vec_f64(), vec![0.5]);
    /// ```
    pub fn to_vec_f64(&self) -> Vec<f64> {
        with_dtype!(self.dtype(), T => self.with_slice(|v: &[T]| v.iter().map(|x| x.to_f64()).collect()))
    }

    /// The value of a one-element tensor, as f64.
    ///
    /// # Errors
    /// When the tensor has more or fewer than one element.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// assert_eq!(Tensor::scalar(4.0f32).item().unwrap(), 4.0);
    /// ```
    pub fn item(&self) -> Result<f64> {
        if self.numel() != 1 {
            return Err(TensorError::InvalidShape {
                op: "item",
                shape: self.shape().to_vec(),
                detail: "item() needs exactly one element".into(),
            });
        }
        Ok(self.to_vec_f64()[0])
    }

    /// Overwrites this tensor's elements in place: for optimizers updating parameters.
    ///
    /// The closure sees the elements of the view; the tensor must be contiguous. In-place updates
    /// are not recorded by autodiff: call this on leaves outside the graph (between steps).
    ///
    /// # Errors
    /// On a dtype mismatch or a non-contiguous view.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let w = Tensor::ones(&[3], DType::F32);
    /// w.update_data(|v: &mut [f32]| v.iter_mut().for_each(|x| *x *= 2.0)).unwrap();
    /// assert_eq!(w.to_vec::<f32>().unwrap(), vec![2.0; 3]);
    /// ```
    pub fn update_data<T: Element, R>(&self, f: impl FnOnce(&mut [T]) -> R) -> Result<R> {
        self.check_dtype::<T>("update_data")?;
        if !self.is_contiguous() {
            return Err(TensorError::InvalidArgument {
                op: "update_data",
                detail: format!(
                    "needs a contiguous tensor, got strides {:?}",
                    self.layout().strides()
                ),
            });
        }
        let mut guard = self.0.storage.write().expect("storage lock");
        let (start, n) = (self.0.layout.offset, self.numel());
        Ok(f(&mut guard.as_cpu_mut().slice_mut::<T>()[start..start + n]))
    }

    /// Copies `src`'s values into this tensor in place (same shape and dtype).
    ///
    /// # Errors
    /// On a shape or dtype mismatch.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let w = Tensor::zeros(&[2], DType::F64);
    /// w.copy_from(&Tensor::ones(&[2], DType::F64)).unwrap();
    /// assert_eq!(w.to_vec::<f64>().unwrap(), vec![1.0, 1.0]);
    /// ```
    pub fn copy_from(&self, src: &Tensor) -> Result<()> {
        self.check_same("copy_from", src)?;
        if self.shape() != src.shape() {
            return Err(TensorError::ShapeMismatch {
                op: "copy_from",
                lhs: self.shape().to_vec(),
                rhs: src.shape().to_vec(),
                detail: String::new(),
            });
        }
        with_dtype!(self.dtype(), T => {
            let values = src.contiguous_vec::<T>();
            self.update_data(|dst: &mut [T]| dst.copy_from_slice(&values))
        })
    }

    /// A row-major `Vec` of the elements (internal; dtype must match).
    pub(crate) fn contiguous_vec<T: Element>(&self) -> Vec<T> {
        self.with_slice(|v: &[T]| v.to_vec())
    }

    pub(crate) fn check_dtype<T: Element>(&self, op: &'static str) -> Result<()> {
        if self.dtype() != T::DTYPE {
            return Err(TensorError::DTypeMismatch {
                op,
                lhs: self.dtype(),
                rhs: T::DTYPE,
            });
        }
        Ok(())
    }

    /// Errors unless `other` has the same dtype.
    pub(crate) fn check_same(&self, op: &'static str, other: &Tensor) -> Result<()> {
        if self.dtype() != other.dtype() {
            return Err(TensorError::DTypeMismatch {
                op,
                lhs: self.dtype(),
                rhs: other.dtype(),
            });
        }
        Ok(())
    }

    /// True when both handles view the same storage.
    pub(crate) fn shares_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0.storage, &other.0.storage)
    }
}

impl Tensor {
    /// Runs `f` on the full storage slices of two tensors (one lock when they share storage).
    pub(crate) fn with_storages<T: Element, R>(
        &self,
        other: &Tensor,
        f: impl FnOnce(&[T], &[T]) -> R,
    ) -> R {
        let a = self.0.storage.read().expect("storage lock");
        if self.shares_storage(other) {
            let s = a.as_cpu().slice::<T>();
            return f(s, s);
        }
        let b = other.0.storage.read().expect("storage lock");
        f(a.as_cpu().slice::<T>(), b.as_cpu().slice::<T>())
    }
}

/// A tensor's elements as a row-major slice: see [`Tensor::elements`].
pub(crate) enum Elements<'a, T> {
    Borrowed(RwLockReadGuard<'a, Storage>, std::ops::Range<usize>),
    Copied(Vec<T>),
}

impl<T: Element> Deref for Elements<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match self {
            Elements::Borrowed(guard, range) => &guard.as_cpu().slice::<T>()[range.clone()],
            Elements::Copied(v) => v,
        }
    }
}
