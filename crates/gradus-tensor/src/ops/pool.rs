//! 2-D max and average pooling, composed from `unfold` and a reduction over each window: no
//! backend call of its own (the backend's `im2col` and a reduction do the work), and gradients
//! of any order come from those ops.

use super::conv::Conv2dOptions;
use crate::{Result, Tensor};

/// Window geometry of a pooling layer (PyTorch's defaults: stride = kernel size, no padding).
///
/// ```
/// use gradus_tensor::ops::pool::Pool2d;
/// let p = Pool2d::new((2, 2));
/// assert_eq!(p.stride, (2, 2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2d {
    /// Window size (rows, columns).
    pub kernel: (usize, usize),
    /// Step between windows.
    pub stride: (usize, usize),
    /// Padding on each side (-inf for max pooling, zeros counted in the average for avg pooling).
    pub padding: (usize, usize),
}

impl Pool2d {
    /// A window of `kernel` with stride equal to the kernel and no padding.
    pub fn new(kernel: (usize, usize)) -> Pool2d {
        Pool2d {
            kernel,
            stride: kernel,
            padding: (0, 0),
        }
    }

    fn windows(&self, x: &Tensor, pad_value: f64) -> Result<(Tensor, Vec<usize>)> {
        let s = x.shape();
        if s.len() != 4 {
            return Err(crate::TensorError::InvalidShape {
                op: "pool2d",
                shape: s.to_vec(),
                detail: "expected [batch, channels, height, width]".into(),
            });
        }
        let options = Conv2dOptions {
            stride: self.stride,
            padding: self.padding,
            ..Default::default()
        };
        let planes = x.reshape(&[s[0] * s[1], 1, s[2], s[3]])?;
        let cols = planes.unfold_padded(self.kernel, &options, pad_value)?; // [n*c, kh*kw, oh*ow]
        let span = |size: usize, k: usize, st: usize, p: usize| (size + 2 * p - k) / st + 1;
        let out = vec![
            s[0],
            s[1],
            span(s[2], self.kernel.0, self.stride.0, self.padding.0),
            span(s[3], self.kernel.1, self.stride.1, self.padding.1),
        ];
        Ok((cols, out))
    }
}

impl Tensor {
    /// Max pooling over `[n, c, h, w]`; the gradient flows to each window's first maximum.
    ///
    /// # Errors
    /// On a non-4-D input or a window that does not fit.
    ///
    /// ```
    /// use gradus_tensor::{ops::pool::Pool2d, Tensor};
    /// let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4]).unwrap();
    /// let y = x.max_pool2d(&Pool2d::new((2, 2))).unwrap();
    /// assert_eq!(y.to_vec::<f32>().unwrap(), vec![5.0, 7.0, 13.0, 15.0]);
    /// ```
    pub fn max_pool2d(&self, pool: &Pool2d) -> Result<Tensor> {
        let (cols, out) = pool.windows(self, f64::NEG_INFINITY)?;
        cols.max(1, false)?.reshape(&out)
    }

    /// Average pooling over `[n, c, h, w]`; padded zeros count in the average
    /// (PyTorch's `count_include_pad=True`).
    ///
    /// # Errors
    /// On a non-4-D input or a window that does not fit.
    ///
    /// ```
    /// use gradus_tensor::{ops::pool::Pool2d, Tensor};
    /// let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4]).unwrap();
    /// let y = x.avg_pool2d(&Pool2d::new((2, 2))).unwrap();
    /// assert_eq!(y.to_vec::<f32>().unwrap(), vec![2.5, 4.5, 10.5, 12.5]);
    /// ```
    pub fn avg_pool2d(&self, pool: &Pool2d) -> Result<Tensor> {
        let (cols, out) = pool.windows(self, 0.0)?;
        cols.mean(&[1], false)?.reshape(&out)
    }
}
