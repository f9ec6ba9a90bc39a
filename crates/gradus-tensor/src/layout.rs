//! Shapes, strides and broadcasting: how a tensor's elements sit in its storage.

use crate::{Result, TensorError};

/// Row-major (C order) strides for a shape.
///
/// ```
/// assert_eq!(gradus_tensor::layout::contiguous_strides(&[2, 3, 4]), vec![12, 4, 1]);
/// ```
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

/// The shape that NumPy / PyTorch broadcasting gives two shapes, or an error naming both.
///
/// ```
/// use gradus_tensor::layout::broadcast_shapes;
/// assert_eq!(broadcast_shapes("add", &[4, 1, 3], &[5, 1]).unwrap(), vec![4, 5, 3]);
/// assert!(broadcast_shapes("add", &[2, 3], &[4]).is_err());
/// ```
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(TensorError::ShapeMismatch {
                    op,
                    lhs: a.to_vec(),
                    rhs: b.to_vec(),
                    detail: " (not broadcastable)".into(),
                })
            }
        };
    }
    Ok(out)
}

/// Maps a possibly negative axis (`-1` is the last) to `0..rank`.
///
/// ```
/// use gradus_tensor::layout::normalize_axis;
/// assert_eq!(normalize_axis("sum", -1, &[2, 3]).unwrap(), 1);
/// assert!(normalize_axis("sum", 2, &[2, 3]).is_err());
/// ```
pub fn normalize_axis(op: &'static str, axis: isize, shape: &[usize]) -> Result<usize> {
    let rank = shape.len() as isize;
    let a = if axis < 0 { axis + rank } else { axis };
    if a < 0 || a >= rank {
        return Err(TensorError::AxisOutOfRange {
            op,
            axis,
            shape: shape.to_vec(),
        });
    }
    Ok(a as usize)
}

/// Shape, strides (in elements) and offset of a tensor's view into its storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub(crate) shape: Vec<usize>,
    pub(crate) strides: Vec<usize>,
    pub(crate) offset: usize,
}

impl Layout {
    /// A row-major layout starting at offset 0.
    ///
    /// ```
    /// let l = gradus_tensor::layout::Layout::contiguous(&[2, 3]);
    /// assert!(l.is_contiguous());
    /// assert_eq!(l.numel(), 6);
    /// ```
    pub fn contiguous(shape: &[usize]) -> Layout {
        Layout {
            shape: shape.to_vec(),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The strides, in elements.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when elements are laid out row-major without gaps (size-1 axes may have any stride).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for (&d, &s) in self.shape.iter().zip(&self.strides).rev() {
            if d != 1 && s != expected {
                return false;
            }
            expected *= d;
        }
        true
    }

    /// The layout with axes reordered.
    pub(crate) fn permute(&self, axes: &[usize]) -> Layout {
        Layout {
            shape: axes.iter().map(|&a| self.shape[a]).collect(),
            strides: axes.iter().map(|&a| self.strides[a]).collect(),
            offset: self.offset,
        }
    }

    /// The layout viewed with a broadcast shape (size-1 or missing leading axes get stride 0).
    pub(crate) fn broadcast_to(&self, shape: &[usize]) -> Layout {
        let extra = shape.len() - self.shape.len();
        let mut strides = vec![0; shape.len()];
        for (i, st) in strides.iter_mut().enumerate().skip(extra) {
            let d = self.shape[i - extra];
            *st = if d == 1 && shape[i] != 1 {
                0
            } else {
                self.strides[i - extra]
            };
        }
        Layout {
            shape: shape.to_vec(),
            strides,
            offset: self.offset,
        }
    }

    /// Calls `f` with the storage offset of every element, in row-major order of the view.
    pub(crate) fn for_each_offset(&self, mut f: impl FnMut(usize)) {
        let (inner, inner_stride) = self.row();
        self.for_each_row(|base| (0..inner).for_each(|j| f(base + j * inner_stride)));
    }

    /// The length and stride of the last axis (`(1, 0)` for a scalar).
    pub(crate) fn row(&self) -> (usize, usize) {
        match self.shape.len() {
            0 => (1, 0),
            r => (self.shape[r - 1], self.strides[r - 1]),
        }
    }

    /// Calls `f` with the storage offset of the first element of every row (the last axis), in
    /// row-major order of the view.
    pub(crate) fn for_each_row(&self, mut f: impl FnMut(usize)) {
        if self.numel() == 0 {
            return;
        }
        let outer = self.shape.len().saturating_sub(1);
        let mut index = vec![0usize; outer];
        let mut base = self.offset;
        loop {
            f(base);
            // odometer increment over the outer axes
            let mut axis = outer;
            loop {
                if axis == 0 {
                    return;
                }
                axis -= 1;
                index[axis] += 1;
                base += self.strides[axis];
                if index[axis] < self.shape[axis] {
                    break;
                }
                base -= self.strides[axis] * self.shape[axis];
                index[axis] = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_of_a_transposed_view_walk_columns() {
        let l = Layout::contiguous(&[2, 3]).permute(&[1, 0]);
        let mut seen = vec![];
        l.for_each_offset(|o| seen.push(o));
        assert_eq!(seen, vec![0, 3, 1, 4, 2, 5]);
        assert!(!l.is_contiguous());
    }

    #[test]
    fn broadcast_gives_zero_strides() {
        let l = Layout::contiguous(&[3, 1]).broadcast_to(&[2, 3, 4]);
        assert_eq!(l.strides, vec![0, 1, 0]);
        let mut seen = vec![];
        l.for_each_offset(|o| seen.push(o));
        assert_eq!(seen.len(), 24);
        assert_eq!(&seen[..8], &[0, 0, 0, 0, 1, 1, 1, 1]);
    }
}
