//! Shape ops: `reshape`, `permute`, `transpose`, `squeeze`/`unsqueeze`, `flatten`, `expand`,
//! `narrow` (slicing), `pad_axis`, `concat`, `stack`, `contiguous`, `to_dtype`. Views share
//! storage; the rest copy.

use crate::autodiff::{BackwardOp, Ctx};
use crate::layout::{normalize_axis, Layout};
use crate::{DType, Result, Storage, Tensor, TensorError};

struct ReshapeOp(Vec<usize>);
impl BackwardOp for ReshapeOp {
    fn name(&self) -> &'static str {
        "reshape"
    }
    fn backward(&self, _ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(g.reshape(&self.0)?)])
    }
}

struct PermuteOp(Vec<usize>);
impl BackwardOp for PermuteOp {
    fn name(&self) -> &'static str {
        "permute"
    }
    // the inverse permutation
    fn backward(&self, _ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let mut inverse = vec![0; self.0.len()];
        for (i, &a) in self.0.iter().enumerate() {
            inverse[a] = i;
        }
        Ok(vec![Some(g.permute(&inverse)?)])
    }
}

struct ExpandOp(Vec<usize>);
impl BackwardOp for ExpandOp {
    fn name(&self) -> &'static str {
        "expand"
    }
    fn backward(&self, _ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(g.sum_to(&self.0)?)])
    }
}

struct IdentityOp(&'static str);
impl BackwardOp for IdentityOp {
    fn name(&self) -> &'static str {
        self.0
    }
    fn backward(&self, _ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(g.clone())])
    }
}

struct NarrowOp {
    axis: usize,
    start: usize,
    size: usize,
}
impl BackwardOp for NarrowOp {
    fn name(&self) -> &'static str {
        "narrow"
    }
    // the slice's gradient, padded with zeros back to the full axis
    fn backward(&self, _ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let after = self.size - self.start - g.shape()[self.axis];
        Ok(vec![Some(g.pad_axis(self.axis, self.start, after)?)])
    }
    fn slice_of_input(&self) -> Option<(usize, usize)> {
        Some((self.axis, self.start))
    }
}

struct PadOp {
    axis: usize,
    before: usize,
}
impl BackwardOp for PadOp {
    fn name(&self) -> &'static str {
        "pad_axis"
    }
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(g.narrow(
            self.axis,
            self.before,
            ctx.input(0).shape()[self.axis],
        )?)])
    }
}

struct ConcatOp {
    axis: usize,
    sizes: Vec<usize>,
}
impl BackwardOp for ConcatOp {
    fn name(&self) -> &'static str {
        "concat"
    }
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let mut start = 0;
        let mut grads = Vec::with_capacity(self.sizes.len());
        for (input, &size) in ctx.inputs.iter().zip(&self.sizes) {
            grads.push(if input.requires_grad() {
                Some(g.narrow(self.axis, start, size)?)
            } else {
                None
            });
            start += size;
        }
        Ok(grads)
    }
}

struct CastOp(DType);
impl BackwardOp for CastOp {
    fn name(&self) -> &'static str {
        "to_dtype"
    }
    fn backward(&self, _ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(g.to_dtype(self.0)?)])
    }
}

impl Tensor {
    /// The same elements with another shape (a view when contiguous, else a copy).
    ///
    /// # Errors
    /// When the element counts differ.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec((0..6).map(|v| v as f32).collect(), &[2, 3]).unwrap();
    /// assert_eq!(x.reshape(&[3, 2]).unwrap().shape(), &[3, 2]);
    /// assert!(x.reshape(&[4]).is_err());
    /// ```
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if shape.iter().product::<usize>() != self.numel() {
            return Err(TensorError::ShapeMismatch {
                op: "reshape",
                lhs: self.shape().to_vec(),
                rhs: shape.to_vec(),
                detail: ": element counts differ".into(),
            });
        }
        if shape == self.shape() {
            return Ok(self.clone());
        }
        let source = self.contiguous()?;
        let layout = Layout {
            offset: source.layout().offset,
            ..Layout::contiguous(shape)
        };
        Ok(Tensor::from_op(
            source.0.storage.clone(),
            layout,
            ReshapeOp(self.shape().to_vec()),
            &[&source],
        ))
    }

    /// Merges axes `start..=end` into one.
    ///
    /// # Errors
    /// On axes out of range or `start > end`.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let x = Tensor::zeros(&[2, 3, 4], DType::F32);
    /// assert_eq!(x.flatten(1, -1).unwrap().shape(), &[2, 12]);
    /// ```
    pub fn flatten(&self, start: isize, end: isize) -> Result<Tensor> {
        if self.rank() == 0 {
            return self.reshape(&[1]);
        }
        let (s, e) = (
            normalize_axis("flatten", start, self.shape())?,
            normalize_axis("flatten", end, self.shape())?,
        );
        if s > e {
            return Err(TensorError::InvalidArgument {
                op: "flatten",
                detail: format!("start axis {s} is after end axis {e}"),
            });
        }
        let mut shape = self.shape()[..s].to_vec();
        shape.push(self.shape()[s..=e].iter().product());
        shape.extend_from_slice(&self.shape()[e + 1..]);
        self.reshape(&shape)
    }

    /// Reorders axes (a view).
    ///
    /// # Errors
    /// When `axes` is not a permutation of `0..rank`.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let x = Tensor::zeros(&[2, 3, 4], DType::F32);
    /// assert_eq!(x.permute(&[2, 0, 1]).unwrap().shape(), &[4, 2, 3]);
    /// ```
    pub fn permute(&self, axes: &[usize]) -> Result<Tensor> {
        let mut seen = vec![false; self.rank()];
        let valid = axes.len() == self.rank()
            && axes
                .iter()
                .all(|&a| a < self.rank() && !std::mem::replace(&mut seen[a], true));
        if !valid {
            return Err(TensorError::InvalidArgument {
                op: "permute",
                detail: format!(
                    "{axes:?} is not a permutation of the axes of shape {:?}",
                    self.shape()
                ),
            });
        }
        Ok(self.view_op(self.layout().permute(axes), PermuteOp(axes.to_vec())))
    }

    /// Swaps two axes (a view).
    ///
    /// # Errors
    /// On axes out of range.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let x = Tensor::zeros(&[2, 3, 4], DType::F32);
    /// assert_eq!(x.transpose(0, -1).unwrap().shape(), &[4, 3, 2]);
    /// ```
    pub fn transpose(&self, a: isize, b: isize) -> Result<Tensor> {
        let (a, b) = (
            normalize_axis("transpose", a, self.shape())?,
            normalize_axis("transpose", b, self.shape())?,
        );
        let mut axes: Vec<usize> = (0..self.rank()).collect();
        axes.swap(a, b);
        self.permute(&axes)
    }

    /// Transpose of a matrix (swaps the last two axes).
    ///
    /// # Errors
    /// On a tensor with fewer than two axes.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// assert_eq!(Tensor::zeros(&[2, 3], DType::F32).t().unwrap().shape(), &[3, 2]);
    /// ```
    pub fn t(&self) -> Result<Tensor> {
        self.transpose(-2, -1)
    }

    /// Inserts a size-1 axis at `axis` (which may equal the rank).
    ///
    /// # Errors
    /// On an axis out of range.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// assert_eq!(Tensor::zeros(&[3], DType::F32).unsqueeze(0).unwrap().shape(), &[1, 3]);
    /// ```
    pub fn unsqueeze(&self, axis: isize) -> Result<Tensor> {
        let rank = self.rank() as isize;
        let a = if axis < 0 { axis + rank + 1 } else { axis };
        if a < 0 || a > rank {
            return Err(TensorError::AxisOutOfRange {
                op: "unsqueeze",
                axis,
                shape: self.shape().to_vec(),
            });
        }
        let mut shape = self.shape().to_vec();
        shape.insert(a as usize, 1);
        self.reshape(&shape)
    }

    /// Removes a size-1 axis.
    ///
    /// # Errors
    /// On an axis out of range or of size other than 1.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// assert_eq!(Tensor::zeros(&[3, 1], DType::F32).squeeze(1).unwrap().shape(), &[3]);
    /// ```
    pub fn squeeze(&self, axis: isize) -> Result<Tensor> {
        let a = normalize_axis("squeeze", axis, self.shape())?;
        if self.shape()[a] != 1 {
            return Err(TensorError::InvalidShape {
                op: "squeeze",
                shape: self.shape().to_vec(),
                detail: format!("axis {a} has size {}, not 1", self.shape()[a]),
            });
        }
        let mut shape = self.shape().to_vec();
        shape.remove(a);
        self.reshape(&shape)
    }

    /// Broadcasts to `shape` without copying (size-1 and missing leading axes repeat).
    ///
    /// # Errors
    /// When this shape does not broadcast to `shape`.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let x = Tensor::ones(&[3, 1], DType::F32).expand(&[2, 3, 4]).unwrap();
    /// assert_eq!(x.sum_all().unwrap().item().unwrap(), 24.0);
    /// ```
    pub fn expand(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let target = crate::layout::broadcast_shapes("expand", self.shape(), shape)?;
        if target != shape {
            return Err(TensorError::ShapeMismatch {
                op: "expand",
                lhs: self.shape().to_vec(),
                rhs: shape.to_vec(),
                detail: String::new(),
            });
        }
        Ok(self.view_op(
            self.layout().broadcast_to(shape),
            ExpandOp(self.shape().to_vec()),
        ))
    }

    /// A row-major copy if this view is not contiguous, else the tensor itself.
    ///
    /// # Errors
    /// Never for valid tensors.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let x = Tensor::zeros(&[2, 3], DType::F32).t().unwrap();
    /// assert!(x.contiguous().unwrap().is_contiguous());
    /// ```
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() {
            return Ok(self.clone());
        }
        let out = self.storage().copy(self.layout())?;
        Ok(Tensor::from_op_storage(
            out,
            self.shape(),
            IdentityOp("contiguous"),
            &[self],
        ))
    }

    /// The elements `start..start + len` along `axis` (a view), like `torch.narrow`.
    ///
    /// # Errors
    /// When the range exceeds the axis.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![0.0f32, 1.0, 2.0, 3.0], &[4]).unwrap();
    /// assert_eq!(x.narrow(0, 1, 2).unwrap().to_vec::<f32>().unwrap(), vec![1.0, 2.0]);
    /// ```
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Tensor> {
        let axis = normalize_axis("narrow", axis as isize, self.shape())?;
        let size = self.shape()[axis];
        if start + len > size {
            return Err(TensorError::IndexOutOfRange {
                op: "narrow",
                index: start + len,
                size,
            });
        }
        let mut layout = self.layout().clone();
        layout.offset += start * layout.strides[axis];
        layout.shape[axis] = len;
        Ok(self.view_op(layout, NarrowOp { axis, start, size }))
    }

    /// Pads `axis` with `before` zeros in front and `after` behind.
    ///
    /// # Errors
    /// On an axis out of range.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32], &[1]).unwrap();
    /// assert_eq!(x.pad_axis(0, 1, 2).unwrap().to_vec::<f32>().unwrap(), vec![0.0, 1.0, 0.0, 0.0]);
    /// ```
    pub fn pad_axis(&self, axis: usize, before: usize, after: usize) -> Result<Tensor> {
        let axis = normalize_axis("pad_axis", axis as isize, self.shape())?;
        let mut shape = self.shape().to_vec();
        shape[axis] += before + after;
        let out = self
            .storage()
            .pad_axis(self.layout(), axis, before, after)?;
        Ok(Tensor::from_op_storage(
            out,
            &shape,
            PadOp { axis, before },
            &[self],
        ))
    }

    /// Joins tensors along an existing axis.
    ///
    /// # Errors
    /// On an empty list, or shapes that differ outside `axis`, or mixed dtypes.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let a = Tensor::zeros(&[2, 3], DType::F32);
    /// let b = Tensor::ones(&[2, 1], DType::F32);
    /// assert_eq!(Tensor::concat(&[&a, &b], 1).unwrap().shape(), &[2, 4]);
    /// ```
    pub fn concat(tensors: &[&Tensor], axis: isize) -> Result<Tensor> {
        let first = tensors.first().ok_or(TensorError::InvalidArgument {
            op: "concat",
            detail: "no tensors to join".into(),
        })?;
        let axis = normalize_axis("concat", axis, first.shape())?;
        for t in tensors {
            first.check_same("concat", t)?;
            let same_rank = t.rank() == first.rank();
            if !same_rank
                || t.shape()
                    .iter()
                    .zip(first.shape())
                    .enumerate()
                    .any(|(i, (a, b))| i != axis && a != b)
            {
                return Err(TensorError::ShapeMismatch {
                    op: "concat",
                    lhs: first.shape().to_vec(),
                    rhs: t.shape().to_vec(),
                    detail: format!(" (must agree except on axis {axis})"),
                });
            }
        }
        let sizes: Vec<usize> = tensors.iter().map(|t| t.shape()[axis]).collect();
        let mut shape = first.shape().to_vec();
        shape[axis] = sizes.iter().sum();
        let storages = Tensor::read_storages(tensors);
        let parts: Vec<(&Storage, &Layout)> = tensors
            .iter()
            .enumerate()
            .map(|(i, t)| (storages.get(i), t.layout()))
            .collect();
        let out = Storage::concat(&parts, axis)?;
        drop(storages);
        Ok(Tensor::from_op_storage(
            out,
            &shape,
            ConcatOp { axis, sizes },
            tensors,
        ))
    }

    /// Joins same-shaped tensors along a new axis.
    ///
    /// # Errors
    /// On an empty list or differing shapes.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let a = Tensor::zeros(&[3], DType::F32);
    /// assert_eq!(Tensor::stack(&[&a, &a], 0).unwrap().shape(), &[2, 3]);
    /// ```
    pub fn stack(tensors: &[&Tensor], axis: isize) -> Result<Tensor> {
        let expanded = tensors
            .iter()
            .map(|t| t.unsqueeze(axis))
            .collect::<Result<Vec<_>>>()?;
        Tensor::concat(&expanded.iter().collect::<Vec<_>>(), axis)
    }

    /// Converts to another dtype (gradients convert back).
    ///
    /// # Errors
    /// Never for supported dtypes.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let x = Tensor::ones(&[2], DType::F32).to_dtype(DType::F64).unwrap();
    /// assert_eq!(x.dtype(), DType::F64);
    /// ```
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        let out = self.storage().cast(self.layout(), dtype)?;
        Ok(Tensor::from_op_storage(
            out,
            self.shape(),
            CastOp(self.dtype()),
            &[self],
        ))
    }
}
