//! Conversion to and from `ndarray` arrays.

use crate::{Element, Result, Tensor, TensorError};
use ndarray::{ArrayD, IxDyn};

impl<T: Element> From<ArrayD<T>> for Tensor {
    /// Copies an `ndarray` array (any memory order) into a row-major tensor.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let a = ndarray::ArrayD::<f32>::zeros(ndarray::IxDyn(&[2, 3]));
    /// assert_eq!(Tensor::from(a).shape(), &[2, 3]);
    /// ```
    fn from(array: ArrayD<T>) -> Tensor {
        let shape = array.shape().to_vec();
        let data: Vec<T> = array.iter().copied().collect();
        Tensor::from_data(data, &shape)
    }
}

impl Tensor {
    /// A copy of the elements as an `ndarray` array.
    ///
    /// # Errors
    /// When `T` is not this tensor's element type.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f64, 2.0], &[1, 2]).unwrap();
    /// let a = t.to_ndarray::<f64>().unwrap();
    /// assert_eq!(a[[0, 1]], 2.0);
    /// ```
    pub fn to_ndarray<T: Element>(&self) -> Result<ArrayD<T>> {
        let data = self.to_vec::<T>()?;
        ArrayD::from_shape_vec(IxDyn(self.shape()), data).map_err(|e| {
            TensorError::InvalidArgument {
                op: "to_ndarray",
                detail: e.to_string(),
            }
        })
    }
}
