//! Indexing ops: `index_select` / `index_add` (rows of an embedding), `gather` / `scatter_add`
//! (picking one element per row, as cross-entropy does), and `one_hot`.

use crate::autodiff::{BackwardOp, Ctx};
use crate::layout::normalize_axis;
use crate::{DType, Device, Result, Storage, Tensor, TensorError};

fn check_indices(op: &'static str, indices: &[usize], size: usize) -> Result<()> {
    match indices.iter().find(|&&i| i >= size) {
        Some(&index) => Err(TensorError::IndexOutOfRange { op, index, size }),
        None => Ok(()),
    }
}

/// (outer, axis size, inner) of a shape split around `axis`.
fn split(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

struct IndexSelectOp {
    axis: usize,
    indices: Vec<usize>,
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
    indices: Vec<usize>,
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
    index: Vec<usize>,
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
    index: Vec<usize>,
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

impl Tensor {
    /// The slices at `indices` along `axis` (an embedding lookup is `weight.index_select(0, ids)`).
    ///
    /// # Errors
    /// On an index out of range.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let w = Tensor::from_vec(vec![0.0f32, 1.0, 10.0, 11.0, 20.0, 21.0], &[3, 2]).unwrap();
    /// let rows = w.index_select(0, &[2, 0]).unwrap();
    /// assert_eq!(rows.to_vec::<f32>().unwrap(), vec![20.0, 21.0, 0.0, 1.0]);
    /// ```
    pub fn index_select(&self, axis: usize, indices: &[usize]) -> Result<Tensor> {
        let axis = normalize_axis("index_select", axis as isize, self.shape())?;
        check_indices("index_select", indices, self.shape()[axis])?;
        let mut shape = self.shape().to_vec();
        shape[axis] = indices.len();
        let out = self.storage().index_select(self.layout(), axis, indices)?;
        let op = IndexSelectOp {
            axis,
            indices: indices.to_vec(),
        };
        Ok(Tensor::from_op_storage(out, &shape, op, &[self]))
    }

    /// Adds the slices of `src` into this tensor at `indices` along `axis` (duplicates add up).
    ///
    /// # Errors
    /// On an index out of range or a `src` shape that does not match.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let z = Tensor::zeros(&[3], DType::F64);
    /// let src = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]).unwrap();
    /// let y = z.index_add(0, &[2, 0, 2], &src).unwrap();
    /// assert_eq!(y.to_vec::<f64>().unwrap(), vec![2.0, 0.0, 4.0]);
    /// ```
    pub fn index_add(&self, axis: usize, indices: &[usize], src: &Tensor) -> Result<Tensor> {
        self.check_same("index_add", src)?;
        let axis = normalize_axis("index_add", axis as isize, self.shape())?;
        check_indices("index_add", indices, self.shape()[axis])?;
        let mut expected = self.shape().to_vec();
        expected[axis] = indices.len();
        if src.shape() != expected.as_slice() {
            return Err(TensorError::ShapeMismatch {
                op: "index_add",
                lhs: expected,
                rhs: src.shape().to_vec(),
                detail: ": src must have the selected shape".into(),
            });
        }
        let s = Tensor::read_storages(&[self, src]);
        let out = s
            .get(0)
            .index_add(self.layout(), axis, indices, (s.get(1), src.layout()))?;
        drop(s);
        let op = IndexAddOp {
            axis,
            indices: indices.to_vec(),
        };
        Ok(Tensor::from_op_storage(out, self.shape(), op, &[self, src]))
    }

    /// Picks elements along `axis`: the output has this tensor's shape with `axis` resized to
    /// `index.len() / (other axes)`, and `out[.., j, ..] = self[.., index[.., j, ..], ..]`
    /// (`torch.gather` with an index of matching shape).
    ///
    /// # Errors
    /// On an index out of range or an index length that does not fit the shape.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    /// // one class per row, as cross-entropy picks them
    /// assert_eq!(x.gather(1, &[2, 0]).unwrap().to_vec::<f32>().unwrap(), vec![3.0, 4.0]);
    /// ```
    pub fn gather(&self, axis: isize, index: &[usize]) -> Result<Tensor> {
        let axis = normalize_axis("gather", axis, self.shape())?;
        let (outer, size, inner) = split(self.shape(), axis);
        let k = index_axis_len("gather", index.len(), outer * inner, self.shape())?;
        check_indices("gather", index, size)?;
        let mut shape = self.shape().to_vec();
        shape[axis] = k;
        let out = self.storage().gather(self.layout(), axis, index)?;
        let op = GatherOp {
            axis,
            index: index.to_vec(),
        };
        Ok(Tensor::from_op_storage(out, &shape, op, &[self]))
    }

    /// The adjoint of [`Tensor::gather`]: adds `src[.., j, ..]` into a copy of this tensor at
    /// `[.., index[.., j, ..], ..]` along `axis` (`index` has `src`'s shape).
    ///
    /// # Errors
    /// On an index out of range or mismatched shapes.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let z = Tensor::zeros(&[2, 3], DType::F32);
    /// let src = Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1]).unwrap();
    /// let y = z.scatter_add(1, &[2, 0], &src).unwrap();
    /// assert_eq!(y.to_vec::<f32>().unwrap(), vec![0.0, 0.0, 1.0, 2.0, 0.0, 0.0]);
    /// ```
    pub fn scatter_add(&self, axis: isize, index: &[usize], src: &Tensor) -> Result<Tensor> {
        self.check_same("scatter_add", src)?;
        let axis = normalize_axis("scatter_add", axis, self.shape())?;
        let (outer, size, inner) = split(self.shape(), axis);
        let k = index_axis_len("scatter_add", index.len(), outer * inner, self.shape())?;
        check_indices("scatter_add", index, size)?;
        let mut expected = self.shape().to_vec();
        expected[axis] = k;
        if src.shape() != expected.as_slice() {
            return Err(TensorError::ShapeMismatch {
                op: "scatter_add",
                lhs: expected,
                rhs: src.shape().to_vec(),
                detail: ": src must have the index's shape".into(),
            });
        }
        let s = Tensor::read_storages(&[self, src]);
        let out = s
            .get(0)
            .scatter_add(self.layout(), axis, index, (s.get(1), src.layout()))?;
        drop(s);
        let op = ScatterAddOp {
            axis,
            index: index.to_vec(),
        };
        Ok(Tensor::from_op_storage(out, self.shape(), op, &[self, src]))
    }

    /// One-hot rows: `[len(indices), num_classes]` with a 1 at each index.
    ///
    /// # Errors
    /// On an index `>= num_classes`.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// let y = Tensor::one_hot(&[2, 0], 3, DType::F32).unwrap();
    /// assert_eq!(y.to_vec::<f32>().unwrap(), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    /// ```
    pub fn one_hot(indices: &[usize], num_classes: usize, dtype: DType) -> Result<Tensor> {
        check_indices("one_hot", indices, num_classes)?;
        let out = Storage::one_hot(Device::Cpu, indices, num_classes, dtype)?;
        Ok(Tensor::from_storage(out, &[indices.len(), num_classes]))
    }
}

fn index_axis_len(op: &'static str, len: usize, others: usize, shape: &[usize]) -> Result<usize> {
    if others == 0 || len % others != 0 {
        return Err(TensorError::InvalidArgument {
            op,
            detail: format!("{len} indices do not fill whole slices of shape {shape:?}"),
        });
    }
    Ok(len / others)
}
