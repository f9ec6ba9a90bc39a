//! Reductions: `sum`, `mean`, `max`, `argmax`, `var` over any axes (keepdim or not), and
//! `sum_to`, which undoes broadcasting in backward passes.

use super::unary::{map_constant, UnaryKernel};
use crate::autodiff::{BackwardOp, Ctx};
use crate::layout::normalize_axis;
use crate::{Element, Result, Storage, Tensor, TensorError};

/// Sorted, de-duplicated, non-negative axes.
pub(crate) fn normalize_axes(
    op: &'static str,
    axes: &[isize],
    shape: &[usize],
) -> Result<Vec<usize>> {
    let mut out = axes
        .iter()
        .map(|&a| normalize_axis(op, a, shape))
        .collect::<Result<Vec<_>>>()?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

pub(crate) fn reduced_shape(shape: &[usize], axes: &[usize], keepdim: bool) -> Vec<usize> {
    let mut out = Vec::with_capacity(shape.len());
    for (i, &d) in shape.iter().enumerate() {
        if !axes.contains(&i) {
            out.push(d);
        } else if keepdim {
            out.push(1);
        }
    }
    out
}

struct SumOp {
    input_shape: Vec<usize>,
    keep_shape: Vec<usize>,
}
impl BackwardOp for SumOp {
    fn name(&self) -> &'static str {
        "sum"
    }
    // d sum(x) / dx = 1: the gradient is broadcast back over the reduced axes
    fn backward(&self, _ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(
            g.reshape(&self.keep_shape)?.expand(&self.input_shape)?,
        )])
    }
}

struct SumSquaresOp;
impl BackwardOp for SumSquaresOp {
    fn name(&self) -> &'static str {
        "sum_squares"
    }
    // d sum(x^2) / dx = 2x, in the input's dtype
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let x = ctx.input(0);
        Ok(vec![Some(
            x.mul_scalar(2.0)?
                .mul(&g.to_dtype(x.dtype())?.expand(x.shape())?)?,
        )])
    }
}

struct SquaredDistanceOp;
impl BackwardOp for SquaredDistanceOp {
    fn name(&self) -> &'static str {
        "squared_distance"
    }
    // d sum((a - b)^2) / da = 2 (a - b), / db = -2 (a - b), in the inputs' dtype
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let (a, b) = (ctx.input(0), ctx.input(1));
        let da = a
            .sub(b)?
            .mul_scalar(2.0)?
            .mul(&g.to_dtype(a.dtype())?.expand(a.shape())?)?;
        let db = if b.requires_grad() {
            Some(da.neg()?)
        } else {
            None
        };
        Ok(vec![Some(da), db])
    }
}

struct MaxOp {
    axis: usize,
    input_shape: Vec<usize>,
    keep_shape: Vec<usize>,
    /// The (first) maximum's index along `axis`, shaped `keep_shape` (f64 whole numbers).
    argmax: Tensor,
}
impl BackwardOp for MaxOp {
    fn name(&self) -> &'static str {
        "max"
    }
    // the gradient flows to the (first) position of the maximum
    fn backward(&self, _ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let g = g.reshape(&self.keep_shape)?;
        let zeros = Tensor::zeros(&self.input_shape, g.dtype());
        Ok(vec![Some(zeros.scatter_add(
            self.axis as isize,
            &self.argmax,
            &g,
        )?)])
    }
}

struct MaxAllOp;
impl BackwardOp for MaxAllOp {
    fn name(&self) -> &'static str {
        "max_all"
    }
    // g / k to each of the k elements equal to the maximum
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let x = ctx.input(0);
        let best = ctx.output().detach();
        // the places holding the maximum: the NaNs when it is NaN (then no element equals it),
        // else the elements equal to it (then there is no NaN); no host read either way
        let hit = map_constant(x, IsNan)?.add(&x.detach().eq_elem(&best)?)?;
        let count = hit.sum_all()?.to_dtype(g.dtype())?;
        let share = g.div(&count)?.expand(x.shape())?;
        Ok(vec![Some(super::binary::keep_where(&hit, &share)?)])
    }
}

/// 1 where the element is NaN, else 0: where `max_all`'s gradient goes when the maximum is NaN.
#[derive(Clone, Copy)]
struct IsNan;
impl UnaryKernel for IsNan {
    const NAME: &'static str = "isnan";
    fn f<T: Element>(&self, x: T) -> T {
        if x.is_nan() {
            T::one()
        } else {
            T::zero()
        }
    }
}

impl Tensor {
    /// Sum over `axes` (negative axes count from the end); `keepdim` keeps them as size 1.
    ///
    /// # Errors
    /// On an axis out of range.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    /// assert_eq!(x.sum(&[0], false).unwrap().to_vec::<f32>().unwrap(), vec![5.0, 7.0, 9.0]);
    /// assert_eq!(x.sum(&[-1], true).unwrap().shape(), &[2, 1]);
    /// ```
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let axes = normalize_axes("sum", axes, self.shape())?;
        let keep_shape = reduced_shape(self.shape(), &axes, true);
        let out_shape = reduced_shape(self.shape(), &axes, keepdim);
        let op = SumOp {
            input_shape: self.shape().to_vec(),
            keep_shape,
        };
        let out = self.storage().reduce_sum(self.layout(), &axes)?;
        Ok(Tensor::from_op_storage(out, &out_shape, op, &[self]))
    }

    /// Sum of all elements, as a 0-dimensional tensor.
    ///
    /// # Errors
    /// Never for valid tensors; kept fallible like every op.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]).unwrap();
    /// assert_eq!(x.sum_all().unwrap().item().unwrap(), 6.0);
    /// ```
    pub fn sum_all(&self) -> Result<Tensor> {
        let axes: Vec<isize> = (0..self.rank() as isize).collect();
        self.sum(&axes, false)
    }

    /// `sum(x^2)` of all elements as a 0-dimensional **f64** tensor, whatever the input's dtype:
    /// the squares are taken and added in f64 in one pass without a copy (as
    /// `torch.sum(x.double() ** 2)`, without materializing the cast). Gradient norms of big f32
    /// models use it. The order is fixed by the element count: the elements in row-major order, in
    /// blocks of 65,536 from 262,144 elements on (the blocks in parallel), go round 32 partial sums
    /// added pairwise, and the blocks' sums are added in order, so the bits depend on neither the
    /// CPU nor the thread count.
    ///
    /// # Errors
    /// Never for valid tensors; kept fallible like every op.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let x = Tensor::from_vec(vec![3.0f32, 4.0], &[2]).unwrap();
    /// let s = x.sum_squares().unwrap();
    /// assert_eq!((s.dtype(), s.item().unwrap()), (DType::F64, 25.0));
    /// ```
    pub fn sum_squares(&self) -> Result<Tensor> {
        let out = self.storage().sum_squares_f64(self.layout())?;
        Ok(Tensor::from_op_storage(out, &[], SumSquaresOp, &[self]))
    }

    /// `sum((self - other)^2)` as a 0-dimensional **f64** tensor, for two tensors of one shape and
    /// dtype: each difference taken, squared and added in f64, in one pass over both without a
    /// copy (as `torch.sum((a.double() - b.double()) ** 2)`). The update-to-parameter ratios of
    /// training diagnostics use it. Added in the order of [`sum_squares`](Tensor::sum_squares).
    ///
    /// # Errors
    /// [`TensorError::DTypeMismatch`] or [`TensorError::ShapeMismatch`] (no broadcasting).
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let a = Tensor::from_vec(vec![3.0f32, 4.5], &[2]).unwrap();
    /// let b = Tensor::from_vec(vec![3.0f32, 4.0], &[2]).unwrap();
    /// let d = a.squared_distance(&b).unwrap();
    /// assert_eq!((d.dtype(), d.item().unwrap()), (DType::F64, 0.25));
    /// ```
    pub fn squared_distance(&self, other: &Tensor) -> Result<Tensor> {
        self.check_same("squared_distance", other)?;
        if self.shape() != other.shape() {
            return Err(TensorError::ShapeMismatch {
                op: "squared_distance",
                lhs: self.shape().to_vec(),
                rhs: other.shape().to_vec(),
                detail: " (no broadcasting)".into(),
            });
        }
        let out = {
            let s = Tensor::read_storages(&[self, other]);
            s.get(0)
                .squared_distance_f64(self.layout(), (s.get(1), other.layout()))?
        };
        Ok(Tensor::from_op_storage(
            out,
            &[],
            SquaredDistanceOp,
            &[self, other],
        ))
    }

    /// Mean over `axes`.
    ///
    /// # Errors
    /// On an axis out of range.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    /// assert_eq!(x.mean(&[1], false).unwrap().to_vec::<f64>().unwrap(), vec![1.5, 3.5]);
    /// ```
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let norm = normalize_axes("mean", axes, self.shape())?;
        let count: usize = norm.iter().map(|&a| self.shape()[a]).product();
        self.sum(axes, keepdim)?.mul_scalar(1.0 / count as f64)
    }

    /// Mean of all elements.
    ///
    /// # Errors
    /// Never for valid tensors.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f64, 3.0], &[2]).unwrap();
    /// assert_eq!(x.mean_all().unwrap().item().unwrap(), 2.0);
    /// ```
    pub fn mean_all(&self) -> Result<Tensor> {
        self.sum_all()?.mul_scalar(1.0 / self.numel() as f64)
    }

    /// Variance over `axes` with Bessel's `correction` (1: unbiased, as `torch.var`; 0: biased):
    /// the sum of squared deviations divided by `n - correction`.
    ///
    /// As in `torch.var`, when `correction >= n` the divisor is 0 and the result is NaN (or inf
    /// where the deviations are not all 0): an unbiased variance of one sample is undefined.
    ///
    /// # Errors
    /// On an axis out of range.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[4]).unwrap();
    /// assert_eq!(x.var(&[0], 0, false).unwrap().item().unwrap(), 1.25);
    /// let one = Tensor::from_vec(vec![3.0f64], &[1]).unwrap();
    /// assert!(one.var(&[0], 1, false).unwrap().item().unwrap().is_nan());
    /// ```
    pub fn var(&self, axes: &[isize], correction: usize, keepdim: bool) -> Result<Tensor> {
        let norm = normalize_axes("var", axes, self.shape())?;
        let count: usize = norm.iter().map(|&a| self.shape()[a]).product();
        let centered = self.sub(&self.mean(axes, true)?)?;
        // no clamping: a divisor of 0 gives 0 * inf = NaN (or inf), as torch.var
        let denom = count.saturating_sub(correction) as f64;
        centered
            .mul(&centered)?
            .sum(axes, keepdim)?
            .mul_scalar(1.0 / denom)
    }

    /// Maximum along one axis; the gradient flows to the first maximal element.
    ///
    /// # Errors
    /// On an axis out of range or an empty axis.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 2.0], &[2, 2]).unwrap();
    /// assert_eq!(x.max(1, false).unwrap().to_vec::<f32>().unwrap(), vec![5.0, 3.0]);
    /// ```
    pub fn max(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        let (values, argmax, axis) = self.max_with_index("max", axis)?;
        let keep_shape = reduced_shape(self.shape(), &[axis], true);
        let argmax = Tensor::from_storage(argmax, &keep_shape);
        let out_shape = reduced_shape(self.shape(), &[axis], keepdim);
        let op = MaxOp {
            axis,
            input_shape: self.shape().to_vec(),
            keep_shape,
            argmax,
        };
        Ok(Tensor::from_op_storage(values, &out_shape, op, &[self]))
    }

    /// Maximum of all elements. The gradient is split evenly among the elements equal to the
    /// maximum (NaN ones when it is NaN), as PyTorch's `max()` without an axis.
    ///
    /// # Errors
    /// On an empty tensor.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 2.0], &[2, 2]).unwrap();
    /// assert_eq!(x.max_all().unwrap().item().unwrap(), 5.0);
    /// ```
    pub fn max_all(&self) -> Result<Tensor> {
        let flat = crate::autodiff::no_grad(|| self.reshape(&[self.numel()]))?;
        let (values, _, _) = flat.max_with_index("max_all", 0)?;
        Ok(Tensor::from_op_storage(values, &[], MaxAllOp, &[self]))
    }

    /// Index of the first maximum along `axis` (as a `Vec` in row-major order of the other axes).
    /// A host boundary: the indices are read on the host (predicted classes to print or compare).
    ///
    /// # Errors
    /// On an axis out of range or an empty axis.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 2.0], &[2, 2]).unwrap();
    /// assert_eq!(x.argmax(1).unwrap(), vec![1, 0]);
    /// ```
    pub fn argmax(&self, axis: isize) -> Result<Vec<usize>> {
        let (_, index, axis) = self.max_with_index("argmax", axis)?;
        let shape = reduced_shape(self.shape(), &[axis], false);
        let index = Tensor::from_storage(index, &shape).to_vec::<f64>()?;
        Ok(index.into_iter().map(|i| i as usize).collect())
    }

    /// The maxima along `axis` (a contiguous buffer in row-major order of the other axes), the
    /// index of each (an f64 buffer of whole numbers, in the same order), and the normalized axis.
    fn max_with_index(&self, op: &'static str, axis: isize) -> Result<(Storage, Storage, usize)> {
        let axis = normalize_axis(op, axis, self.shape())?;
        if self.shape()[axis] == 0 {
            return Err(TensorError::InvalidShape {
                op,
                shape: self.shape().to_vec(),
                detail: format!("axis {axis} is empty"),
            });
        }
        let (values, index) = self.storage().reduce_max(self.layout(), axis)?;
        Ok((values, index, axis))
    }

    /// Sums a broadcast result back to `shape` (the adjoint of [`Tensor::expand`]).
    ///
    /// # Errors
    /// When `shape` does not broadcast to this tensor's shape.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let g = Tensor::ones(&[4, 2, 3], DType::F64);
    /// let s = g.sum_to(&[2, 1]).unwrap();
    /// assert_eq!(s.to_vec::<f64>().unwrap(), vec![12.0, 12.0]);
    /// ```
    pub fn sum_to(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let extra =
            self.rank()
                .checked_sub(shape.len())
                .ok_or_else(|| TensorError::ShapeMismatch {
                    op: "sum_to",
                    lhs: self.shape().to_vec(),
                    rhs: shape.to_vec(),
                    detail: ": target has more axes".into(),
                })?;
        let mut axes: Vec<isize> = (0..extra as isize).collect();
        for (i, &d) in shape.iter().enumerate() {
            let have = self.shape()[extra + i];
            if d == 1 && have != 1 {
                axes.push((extra + i) as isize);
            } else if d != have {
                return Err(TensorError::ShapeMismatch {
                    op: "sum_to",
                    lhs: self.shape().to_vec(),
                    rhs: shape.to_vec(),
                    detail: String::new(),
                });
            }
        }
        self.sum(&axes, true)?.reshape(shape)
    }
}
