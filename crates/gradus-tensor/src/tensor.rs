//! The `Tensor` type: a shared, immutable view of a buffer plus its place in the autodiff graph.

use crate::autodiff::{self, BackwardOp, Node};
use crate::dtype::with_any_dtype;
use crate::layout::Layout;
use crate::{DType, Device, Element, Result, Storage, TensorError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A unique id per tensor, used to key gradients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(u64);

static TENSOR_IDS: AtomicU64 = AtomicU64::new(1);

impl TensorId {
    fn next() -> TensorId {
        TensorId(TENSOR_IDS.fetch_add(1, Ordering::Relaxed))
    }

    /// The id the next tensor will get: every tensor made afterwards has an id at least this.
    pub(crate) fn watermark() -> TensorId {
        TensorId(TENSOR_IDS.load(Ordering::Relaxed))
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
        let storage = Storage::from_host_vec(Device::Cpu, data).expect("host memory");
        Tensor::from_storage(storage, shape)
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
        Tensor::from_vec_on(data, shape, Device::Cpu)
    }

    /// A tensor of the given shape on `device` from row-major host data: copies the elements
    /// from host memory (on the CPU the `Vec` is moved in), as `torch.tensor(data, device=)`.
    ///
    /// # Errors
    /// When `data.len()` differs from the product of `shape`.
    ///
    /// ```
    /// use gradus_tensor::{Device, Tensor};
    /// let t = Tensor::from_vec_on(vec![1.0f32, 2.0], &[2], Device::Cpu).unwrap();
    /// assert_eq!(t.device(), Device::Cpu);
    /// ```
    pub fn from_vec_on<T: Element>(
        data: Vec<T>,
        shape: &[usize],
        device: Device,
    ) -> Result<Tensor> {
        let numel: usize = shape.iter().product();
        if data.len() != numel {
            return Err(TensorError::InvalidShape {
                op: "from_vec",
                shape: shape.to_vec(),
                detail: format!("needs {numel} elements, got {}", data.len()),
            });
        }
        Ok(Tensor::from_storage(
            Storage::from_host_vec(device, data)?,
            shape,
        ))
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
        Tensor::full_on(shape, value, dtype, Device::Cpu)
    }

    /// A tensor filled with `value` on `device` (`torch.full(..., device=)`).
    ///
    /// ```
    /// use gradus_tensor::{DType, Device, Tensor};
    /// let t = Tensor::full_on(&[2], 7.0, DType::F32, Device::Cpu);
    /// assert_eq!((t.device(), t.to_vec::<f32>().unwrap()), (Device::Cpu, vec![7.0, 7.0]));
    /// ```
    pub fn full_on(shape: &[usize], value: f64, dtype: DType, device: Device) -> Tensor {
        let n = shape.iter().product();
        let storage = Storage::full(device, n, value, dtype).expect("device memory");
        Tensor::from_storage(storage, shape)
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

    /// A tensor of zeros on `device` (`torch.zeros(..., device=)`).
    ///
    /// ```
    /// use gradus_tensor::{DType, Device, Tensor};
    /// assert_eq!(Tensor::zeros_on(&[3], DType::F64, Device::Cpu).to_vec::<f64>().unwrap(), vec![0.0; 3]);
    /// ```
    pub fn zeros_on(shape: &[usize], dtype: DType, device: Device) -> Tensor {
        Tensor::full_on(shape, 0.0, dtype, device)
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

    /// A tensor of ones on `device` (`torch.ones(..., device=)`).
    ///
    /// ```
    /// use gradus_tensor::{DType, Device, Tensor};
    /// assert_eq!(Tensor::ones_on(&[2], DType::F32, Device::Cpu).to_vec::<f32>().unwrap(), vec![1.0; 2]);
    /// ```
    pub fn ones_on(shape: &[usize], dtype: DType, device: Device) -> Tensor {
        Tensor::full_on(shape, 1.0, dtype, device)
    }

    /// Zeros with this tensor's shape, dtype and device.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let z = Tensor::ones(&[2, 2], DType::F64).zeros_like();
    /// assert_eq!(z.to_vec::<f64>().unwrap(), vec![0.0; 4]);
    /// ```
    pub fn zeros_like(&self) -> Tensor {
        Tensor::zeros_on(self.shape(), self.dtype(), self.device())
    }

    /// Ones with this tensor's shape, dtype and device.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// assert_eq!(Tensor::zeros(&[2], DType::F32).ones_like().to_vec::<f32>().unwrap(), vec![1.0, 1.0]);
    /// ```
    pub fn ones_like(&self) -> Tensor {
        Tensor::ones_on(self.shape(), self.dtype(), self.device())
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
        Ok(with_any_dtype!(dtype, T => Tensor::from_data(
            (0..n).map(|i| <T as Element>::from_f64(start + i as f64 * step)).collect::<Vec<T>>(),
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

    // ---- host transfers: each one backend call -------------------------------------------------

    /// Runs `f` on the elements in host memory, row-major: a transfer to the host (on the CPU
    /// the elements are borrowed when the tensor is contiguous, else copied). For host
    /// boundaries (files, printing), not for computing: ops run on the tensor's device.
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
        self.storage().with_host_slice(self.layout(), f)
    }

    /// Copies the elements to host memory, row-major.
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
        self.check_dtype::<T>("to_vec")?;
        self.storage().to_host_vec(self.layout())
    }

    /// Copies the elements to host memory converted to f64, whatever the dtype.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let t = Tensor::from_vec(vec![0.5f32], &[1]).unwrap();
    /// assert_eq!(t.to_vec_f64(), vec![0.5]);
    /// ```
    pub fn to_vec_f64(&self) -> Vec<f64> {
        self.storage()
            .to_host_vec_f64(self.layout())
            .expect("a transfer to host memory")
    }

    /// Copies the value of a one-element tensor to the host, as f64 (a synchronization point
    /// on an asynchronous device, like torch's `.item()`).
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
        Ok(self.storage().to_host_vec_f64(self.layout())?[0])
    }

    /// Overwrites this tensor's elements in place from host code: `f` sees the elements in host
    /// memory and what it writes is kept (on the CPU in place; on another device a copy to the
    /// host and back). For host boundaries (loading a file); ops and optimizer rules run on the
    /// tensor's device instead.
    ///
    /// The tensor must be contiguous. In-place updates are not recorded by autodiff: call this on
    /// leaves outside the graph.
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
        self.storage_mut().with_host_slice_mut(self.layout(), f)
    }

    /// Copies `src`'s values into this tensor in place (same shape and dtype), on the device
    /// (no host transfer when both live on one). Not recorded by autodiff.
    ///
    /// # Errors
    /// On a shape or dtype mismatch, or a non-contiguous destination.
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
        if !self.is_contiguous() {
            return Err(TensorError::InvalidArgument {
                op: "copy_from",
                detail: format!(
                    "needs a contiguous destination, got strides {:?}",
                    self.layout().strides()
                ),
            });
        }
        if self.shares_storage(src) {
            // one buffer cannot be read and written at once: copy the source out first
            let values = src.storage().copy(src.layout())?;
            let layout = Layout::contiguous(src.shape());
            return self
                .storage_mut()
                .copy_into(self.layout(), (&values, &layout));
        }
        let from = src.storage();
        self.storage_mut()
            .copy_into(self.layout(), (&from, src.layout()))
    }

    /// This tensor on `device`, as torch's `.to(device)`: the tensor itself when it is there
    /// already, else a copy recorded by autodiff (gradients flow back to the source device).
    ///
    /// # Errors
    /// When the device cannot hold the tensor.
    ///
    /// ```
    /// use gradus_tensor::{DType, Device, Tensor};
    /// let x = Tensor::ones(&[2], DType::F32).requires_grad_(true);
    /// let y = x.to_device(Device::Cpu).unwrap();
    /// assert_eq!(y.id(), x.id()); // already there: the same tensor
    /// ```
    pub fn to_device(&self, device: Device) -> Result<Tensor> {
        if device == self.device() {
            return Ok(self.clone());
        }
        let storage = self.storage().to_device(self.layout(), device)?;
        let op = ToDeviceOp(self.device());
        Ok(Tensor::from_op_storage(storage, self.shape(), op, &[self]))
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
    /// The storage, write-locked: for in-place backend calls on a tensor no other handle reads.
    pub(crate) fn storage_mut(&self) -> RwLockWriteGuard<'_, Storage> {
        self.0.storage.write().expect("storage lock")
    }

    /// Read locks on the storages of `tensors`, each distinct storage locked once (a thread never
    /// read-locks one storage twice): `get(i)` is the storage of `tensors[i]`.
    pub(crate) fn read_storages<'a>(tensors: &[&'a Tensor]) -> StorageGuards<'a> {
        let mut guards: Vec<RwLockReadGuard<'a, Storage>> = Vec::with_capacity(tensors.len());
        let mut owners: Vec<&Tensor> = Vec::with_capacity(tensors.len());
        let mut slot = Vec::with_capacity(tensors.len());
        for &t in tensors {
            match owners.iter().position(|o| o.shares_storage(t)) {
                Some(i) => slot.push(i),
                None => {
                    slot.push(guards.len());
                    owners.push(t);
                    guards.push(t.0.storage.read().expect("storage lock"));
                }
            }
        }
        StorageGuards { guards, slot }
    }
}

/// Read-locked storages of several tensors: see [`Tensor::read_storages`].
pub(crate) struct StorageGuards<'a> {
    guards: Vec<RwLockReadGuard<'a, Storage>>,
    slot: Vec<usize>,
}

impl StorageGuards<'_> {
    /// The storage of the `i`-th tensor.
    pub(crate) fn get(&self, i: usize) -> &Storage {
        &self.guards[self.slot[i]]
    }
}

/// `to_device`: the gradient goes back to the source device.
struct ToDeviceOp(Device);
impl BackwardOp for ToDeviceOp {
    fn name(&self) -> &'static str {
        "to_device"
    }
    fn backward(&self, _ctx: &autodiff::Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(g.to_device(self.0)?)])
    }
}
