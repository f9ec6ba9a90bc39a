//! 2-D max and average pooling. Average pooling and padded max pooling are composed from `unfold`
//! and a reduction over each window; unpadded max pooling (LeNet's) is one backend pass
//! (`max_pool2d`: maxima and their positions) whose backward is a `scatter_add`, tested equal to
//! the composed form. Gradients of any order come from those ops.

use super::conv::{window, Conv2dOptions};
use crate::autodiff::{BackwardOp, Ctx};
use crate::{Result, Tensor};

/// Unpadded max pooling: each output's gradient goes to its window's first maximum.
struct MaxPoolOp {
    input_shape: Vec<usize>,
    /// `[n * c, oh * ow]`: the plane position (`y * w + x`, f64 whole numbers) of each maximum.
    index: Tensor,
}
impl BackwardOp for MaxPoolOp {
    fn name(&self) -> &'static str {
        "max_pool2d"
    }
    // dx[plane, index[plane, o]] += g[plane, o] (scatter_add: linear in g, so differentiable again)
    fn backward(&self, _ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let s = &self.input_shape;
        let zeros = Tensor::zeros(&[s[0] * s[1], s[2] * s[3]], g.dtype());
        let g = g.reshape(self.index.shape())?;
        Ok(vec![Some(
            zeros.scatter_add(1, &self.index, &g)?.reshape(s)?,
        )])
    }
}

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
        if pool.padding == (0, 0) {
            return self.max_pool2d_direct(pool);
        }
        self.max_pool2d_unfolded(pool)
    }

    /// The composed form (`unfold` with -inf padding, then `max` over each window): the
    /// reference the direct pass is tested against, and the path for padded windows.
    pub(crate) fn max_pool2d_unfolded(&self, pool: &Pool2d) -> Result<Tensor> {
        let (cols, out) = pool.windows(self, f64::NEG_INFINITY)?;
        cols.max(1, false)?.reshape(&out)
    }

    /// Unpadded max pooling in one backend pass (values and the plane position of each
    /// window's first maximum); the backward scatters into the planes.
    fn max_pool2d_direct(&self, pool: &Pool2d) -> Result<Tensor> {
        let options = Conv2dOptions {
            stride: pool.stride,
            ..Default::default()
        };
        let win = window("max_pool2d", self.shape(), pool.kernel, &options)?;
        let (oh, ow) = win.output_size().expect("checked");
        let s = self.shape();
        let (values, index) = self.storage().max_pool2d(self.layout(), &win)?;
        let index = Tensor::from_storage(index, &[s[0] * s[1], oh * ow]);
        let op = MaxPoolOp {
            input_shape: s.to_vec(),
            index,
        };
        Ok(Tensor::from_op_storage(
            values,
            &[s[0], s[1], oh, ow],
            op,
            &[self],
        ))
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

#[cfg(test)]
mod tests {
    use super::Pool2d;
    use crate::{DType, Tensor};

    /// Values and gradients (of `sum(y * g)`, `g` whole numbers so that sums are exact).
    fn run(x: &Tensor, y: Tensor) -> (Vec<f64>, Vec<f64>) {
        let g = Tensor::from_vec(
            (0..y.numel()).map(|i| (i % 7) as f64 - 3.0).collect(),
            y.shape(),
        )
        .unwrap()
        .to_dtype(y.dtype())
        .unwrap();
        y.mul(&g).unwrap().sum_all().unwrap().backward().unwrap();
        let grad = x.grad().unwrap().to_vec_f64();
        x.set_grad(None);
        (y.to_vec_f64(), grad)
    }

    #[test]
    fn direct_max_pooling_equals_the_unfolded_form_bit_for_bit() {
        let cases = [
            (8, 8, (2, 2), (2, 2)),
            (7, 9, (2, 2), (2, 2)),
            (7, 9, (3, 2), (2, 3)),
            (6, 5, (3, 3), (1, 1)),
            (5, 4, (2, 3), (3, 1)),
        ];
        for ((h, w, kernel, stride), dtype) in cases
            .into_iter()
            .flat_map(|c| [(c, DType::F64), (c, DType::F32)])
        {
            // values on a coarse grid: ties inside windows; NaNs, one alone in its window and
            // two in one window
            let mut v: Vec<f64> = (0..2 * 3 * h * w).map(|i| ((i * 7) % 5) as f64).collect();
            v[h * w + 3] = f64::NAN;
            v[2 * h * w + w + 1] = f64::NAN;
            v[2 * h * w + w + 2] = f64::NAN;
            let x = Tensor::from_vec(v, &[2, 3, h, w])
                .unwrap()
                .to_dtype(dtype)
                .unwrap()
                .requires_grad_(true);
            let pool = Pool2d {
                kernel,
                stride,
                padding: (0, 0),
            };
            let (yd, gd) = run(&x, x.max_pool2d(&pool).unwrap());
            let (yr, gr) = run(&x, x.max_pool2d_unfolded(&pool).unwrap());
            let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&yd), bits(&yr), "values {pool:?} {dtype:?}");
            assert_eq!(bits(&gd), bits(&gr), "gradients {pool:?} {dtype:?}");
        }
        // a strided view reads the same as its contiguous copy
        let x = Tensor::randn(&[2, 3, 6, 4], DType::F32, 5);
        let t = x.transpose(2, 3).unwrap();
        let pool = Pool2d::new((2, 2));
        assert_eq!(
            t.max_pool2d(&pool).unwrap().to_vec::<f32>().unwrap(),
            t.contiguous()
                .unwrap()
                .max_pool2d_unfolded(&pool)
                .unwrap()
                .to_vec::<f32>()
                .unwrap()
        );
    }
}
