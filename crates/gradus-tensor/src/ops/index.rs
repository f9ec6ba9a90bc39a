//! Indexing ops: `index_select` / `index_add` (rows of an embedding), `gather` / `scatter_add`
//! (picking one element per row, as cross-entropy does), and `one_hot`.
//!
//! Indices are tensors, so they stay on the device that holds them (a batch's labels, token ids).
//! gradus has no integer dtype yet: an index tensor holds whole numbers in a float dtype (f32 or
//! f64, whatever the data's dtype), where PyTorch takes int64. f32 holds every whole number up to
//! 2^24 = 16,777,216 exactly, f64 up to 2^53; use f64 indices for axes longer than 2^24. The
//! backend checks the indices inside the op's one call: a negative, fractional or out-of-range
//! value is an error naming the op, the value's position in the index tensor and the value.

use crate::autodiff::{BackwardOp, Ctx};
use crate::layout::normalize_axis;
use crate::{DType, Result, Tensor, TensorError};

struct IndexSelectOp {
    axis: usize,
    indices: Tensor,
}
impl BackwardOp for IndexSelectOp {
    fn name(&self) -> &'static str {
        "index_select"
    }
    // selected slices' gradients are added back at their source positions
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let zeros = ctx.input(0).zeros_like();
        Ok(vec![Some(zeros.index_add(self.axis, &self.indices, g)?)])
    }
}

struct IndexAddOp {
    axis: usize,
    indices: Tensor,
}
impl BackwardOp for IndexAddOp {
    fn name(&self) -> &'static str {
        "index_add"
    }
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let src = if ctx.input(1).requires_grad() {
            Some(g.index_select(self.axis, &self.indices)?)
        } else {
            None
        };
        Ok(vec![Some(g.clone()), src])
    }
}

struct GatherOp {
    axis: usize,
    index: Tensor,
}
impl BackwardOp for GatherOp {
    fn name(&self) -> &'static str {
        "gather"
    }
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(ctx.input(0).zeros_like().scatter_add(
            self.axis as isize,
            &self.index,
            g,
        )?)])
    }
}

struct ScatterAddOp {
    axis: usize,
    index: Tensor,
}
impl BackwardOp for ScatterAddOp {
    fn name(&self) -> &'static str {
        "scatter_add"
    }
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let src = if ctx.input(1).requires_grad() {
            Some(g.gather(self.axis as isize, &self.index)?)
        } else {
            None
        };
        Ok(vec![Some(g.clone()), src])
    }
}

/// Errors unless `indices` is a list (1-D, or 0-D for one index), as `torch.index_select` wants.
fn check_list(op: &'static str, indices: &Tensor) -> Result<()> {
    if indices.rank() > 1 {
        return Err(TensorError::InvalidShape {
            op,
            shape: indices.shape().to_vec(),
            detail: "the indices must be a 1-D tensor".into(),
        });
    }
    Ok(())
}

/// Errors unless `t` (an index, or `scatter_add`'s src) has `shape` except on `axis`.
fn check_index_shape(
    op: &'static str,
    t: &Tensor,
    shape: &[usize],
    axis: usize,
    detail: &str,
) -> Result<()> {
    let fits = t.rank() == shape.len()
        && t.shape()
            .iter()
            .zip(shape)
            .enumerate()
            .all(|(d, (a, b))| d == axis || a == b);
    if !fits {
        return Err(TensorError::ShapeMismatch {
            op,
            lhs: shape.to_vec(),
            rhs: t.shape().to_vec(),
            detail: detail.into(),
        });
    }
    Ok(())
}

impl Tensor {
    /// The slices at `indices` (a 1-D tensor of whole numbers, see the module docs) along `axis`
    /// (`torch.index_select`; an embedding lookup is `weight.index_select(0, ids)`).
    ///
    /// # Errors
    /// On an axis out of range, indices that are not 1-D, or an index that is negative,
    /// fractional or not below the axis size ([`TensorError::InvalidIndex`]: op, position,
    /// value).
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let w = Tensor::from_vec(vec![0.0f32, 1.0, 10.0, 11.0, 20.0, 21.0], &[3, 2]).unwrap();
    /// let ids = Tensor::from_vec(vec![2.0f32, 0.0], &[2]).unwrap();
    /// let rows = w.index_select(0, &ids).unwrap();
    /// assert_eq!(rows.to_vec::<f32>().unwrap(), vec![20.0, 21.0, 0.0, 1.0]);
    /// let bad = Tensor::from_vec(vec![0.0f32, 3.0], &[2]).unwrap();
    /// assert_eq!(
    ///     w.index_select(0, &bad).unwrap_err().to_string(),
    ///     "index_select: index 3 at position [1] is out of range for an axis of size 3"
    /// );
    /// ```
    pub fn index_select(&self, axis: usize, indices: &Tensor) -> Result<Tensor> {
        let axis = normalize_axis("index_select", axis as isize, self.shape())?;
        check_list("index_select", indices)?;
        let mut shape = self.shape().to_vec();
        shape[axis] = indices.numel();
        let s = Tensor::read_storages(&[self, indices]);
        let out = s
            .get(0)
            .index_select(self.layout(), axis, (s.get(1), indices.layout()))?;
        drop(s);
        let op = IndexSelectOp {
            axis,
            indices: indices.detach(),
        };
        Ok(Tensor::from_op_storage(out, &shape, op, &[self]))
    }

    /// Adds the slices of `src` into this tensor at `indices` (a 1-D tensor of whole numbers)
    /// along `axis`; duplicates add up (`torch.index_add`).
    ///
    /// # Errors
    /// On indices that are not 1-D, a `src` shape that does not match, or a bad index (as
    /// [`Tensor::index_select`]).
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let z = Tensor::zeros(&[3], DType::F64);
    /// let src = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]).unwrap();
    /// let at = Tensor::from_vec(vec![2.0f32, 0.0, 2.0], &[3]).unwrap();
    /// let y = z.index_add(0, &at, &src).unwrap();
    /// assert_eq!(y.to_vec::<f64>().unwrap(), vec![2.0, 0.0, 4.0]);
    /// ```
    pub fn index_add(&self, axis: usize, indices: &Tensor, src: &Tensor) -> Result<Tensor> {
        self.check_same("index_add", src)?;
        let axis = normalize_axis("index_add", axis as isize, self.shape())?;
        check_list("index_add", indices)?;
        let mut expected = self.shape().to_vec();
        expected[axis] = indices.numel();
        if src.shape() != expected.as_slice() {
            return Err(TensorError::ShapeMismatch {
                op: "index_add",
                lhs: expected,
                rhs: src.shape().to_vec(),
                detail: ": src must have the selected shape".into(),
            });
        }
        let s = Tensor::read_storages(&[self, indices, src]);
        let out = s.get(0).index_add(
            self.layout(),
            axis,
            (s.get(1), indices.layout()),
            (s.get(2), src.layout()),
        )?;
        drop(s);
        let op = IndexAddOp {
            axis,
            indices: indices.detach(),
        };
        Ok(Tensor::from_op_storage(out, self.shape(), op, &[self, src]))
    }

    /// Picks elements along `axis`: `out[.., j, ..] = self[.., index[.., j, ..], ..]`
    /// (`torch.gather`). `index` holds whole numbers (see the module docs) and has this tensor's
    /// shape except on `axis`; the output has `index`'s shape. (PyTorch also lets `index` be
    /// smaller on the other axes; gradus wants them equal.)
    ///
    /// # Errors
    /// On an axis out of range, an index of another shape, or a bad index (as
    /// [`Tensor::index_select`]).
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    /// // one class per row, as cross-entropy picks them
    /// let classes = Tensor::from_vec(vec![2.0f32, 0.0], &[2, 1]).unwrap();
    /// assert_eq!(x.gather(1, &classes).unwrap().to_vec::<f32>().unwrap(), vec![3.0, 4.0]);
    /// ```
    pub fn gather(&self, axis: isize, index: &Tensor) -> Result<Tensor> {
        let axis = normalize_axis("gather", axis, self.shape())?;
        check_index_shape(
            "gather",
            index,
            self.shape(),
            axis,
            ": the index must have the input's shape except on the gathered axis",
        )?;
        let s = Tensor::read_storages(&[self, index]);
        let out = s
            .get(0)
            .gather(self.layout(), axis, (s.get(1), index.layout()))?;
        drop(s);
        let op = GatherOp {
            axis,
            index: index.detach(),
        };
        Ok(Tensor::from_op_storage(out, index.shape(), op, &[self]))
    }

    /// The adjoint of [`Tensor::gather`]: adds `src[.., j, ..]` into a copy of this tensor at
    /// `[.., index[.., j, ..], ..]` along `axis` (`torch.scatter_add`). `index` holds whole
    /// numbers and has `src`'s shape, which is this tensor's except on `axis`.
    ///
    /// # Errors
    /// On mismatched shapes or a bad index (as [`Tensor::index_select`]).
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let z = Tensor::zeros(&[2, 3], DType::F32);
    /// let src = Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1]).unwrap();
    /// let at = Tensor::from_vec(vec![2.0f32, 0.0], &[2, 1]).unwrap();
    /// let y = z.scatter_add(1, &at, &src).unwrap();
    /// assert_eq!(y.to_vec::<f32>().unwrap(), vec![0.0, 0.0, 1.0, 2.0, 0.0, 0.0]);
    /// ```
    pub fn scatter_add(&self, axis: isize, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        self.check_same("scatter_add", src)?;
        let axis = normalize_axis("scatter_add", axis, self.shape())?;
        check_index_shape(
            "scatter_add",
            src,
            self.shape(),
            axis,
            ": src must have the input's shape except on the scattered axis",
        )?;
        if index.shape() != src.shape() {
            return Err(TensorError::ShapeMismatch {
                op: "scatter_add",
                lhs: src.shape().to_vec(),
                rhs: index.shape().to_vec(),
                detail: ": the index must have src's shape".into(),
            });
        }
        let s = Tensor::read_storages(&[self, index, src]);
        let out = s.get(0).scatter_add(
            self.layout(),
            axis,
            (s.get(1), index.layout()),
            (s.get(2), src.layout()),
        )?;
        drop(s);
        let op = ScatterAddOp {
            axis,
            index: index.detach(),
        };
        Ok(Tensor::from_op_storage(out, self.shape(), op, &[self, src]))
    }

    /// One-hot rows of `dtype` (`F.one_hot`, which gives int64): shape `[indices.shape..,
    /// num_classes]` with a 1 at each index, on the indices' device. No gradient flows.
    ///
    /// # Errors
    /// On an index that is negative, fractional or `>= num_classes`
    /// ([`TensorError::InvalidIndex`] naming `one_hot`).
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let labels = Tensor::from_vec(vec![2.0f32, 0.0], &[2]).unwrap();
    /// let y = Tensor::one_hot(&labels, 3, DType::F32).unwrap();
    /// assert_eq!(y.shape(), &[2, 3]);
    /// assert_eq!(y.to_vec::<f32>().unwrap(), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    /// ```
    pub fn one_hot(indices: &Tensor, num_classes: usize, dtype: DType) -> Result<Tensor> {
        let mut shape = indices.shape().to_vec();
        shape.push(num_classes);
        let out = indices
            .storage()
            .one_hot(indices.layout(), num_classes, dtype)?;
        Ok(Tensor::from_storage(out, &shape))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f64], shape: &[usize]) -> Tensor {
        Tensor::from_vec(v.to_vec(), shape).unwrap()
    }

    #[test]
    fn index_shapes_are_checked_before_the_backend_call() {
        let x = t(&[0.0; 6], &[2, 3]);
        assert!(matches!(
            x.index_select(0, &t(&[0.0, 1.0], &[1, 2])),
            Err(TensorError::InvalidShape { .. })
        ));
        // gather's index needs the input's rank and its sizes off the gathered axis
        assert!(x.gather(1, &t(&[0.0, 1.0], &[2])).is_err());
        assert!(x.gather(1, &t(&[0.0; 3], &[3, 1])).is_err());
        assert_eq!(
            x.gather(1, &t(&[0.0; 8], &[2, 4])).unwrap().shape(),
            &[2, 4]
        );
        let src = t(&[1.0, 2.0], &[2, 1]);
        assert!(x.scatter_add(1, &t(&[0.0, 1.0], &[1, 2]), &src).is_err());
        assert!(x
            .scatter_add(1, &t(&[0.0], &[1, 1]), &t(&[1.0], &[1, 1]))
            .is_err());
    }

    #[test]
    fn one_hot_keeps_the_index_shape_and_a_zero_dimensional_index_selects_one_slice() {
        let y = Tensor::one_hot(&t(&[1.0, 0.0, 2.0, 2.0], &[2, 2]), 3, DType::F64).unwrap();
        assert_eq!(y.shape(), &[2, 2, 3]);
        assert_eq!(
            y.sum(&[2], false).unwrap().to_vec::<f64>().unwrap(),
            vec![1.0; 4]
        );
        let x = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let row = x
            .index_select(0, &Tensor::full(&[], 1.0, DType::F32))
            .unwrap();
        assert_eq!(row.shape(), &[1, 2]);
        assert_eq!(row.to_vec::<f64>().unwrap(), vec![3.0, 4.0]);
    }
}
