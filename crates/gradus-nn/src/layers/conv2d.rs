//! `Conv2d`: 2-D convolution with weight `[out, in/groups, kh, kw]` (PyTorch layout).

use crate::init;
use crate::module::Module;
use crate::param::Param;
use gradus_tensor::ops::conv::Conv2dOptions;
use gradus_tensor::{capture, DType, Result, Rng, Tensor};

/// A 2-D convolution (`torch.nn.Conv2d`) over `[n, in, h, w]`.
///
/// ```
/// use gradus_nn::{layers::Conv2d, Module};
/// use gradus_tensor::{ops::conv::Conv2dOptions, DType, Rng, Tensor};
/// let opts = Conv2dOptions { padding: (2, 2), ..Default::default() };
/// let conv = Conv2d::new(1, 6, (5, 5), opts, true, &mut Rng::seed(0));
/// let y = conv.forward(&Tensor::ones(&[2, 1, 28, 28], DType::F32)).unwrap();
/// assert_eq!(y.shape(), &[2, 6, 28, 28]);
/// ```
#[derive(Debug, Clone)]
pub struct Conv2d {
    /// `[out, in/groups, kh, kw]`
    pub weight: Param,
    /// `[out]`
    pub bias: Option<Param>,
    /// Stride, padding, dilation, groups.
    pub options: Conv2dOptions,
}

impl Conv2d {
    /// A convolution with PyTorch's default init (`U(-1/sqrt(fan_in), ..)`, `fan_in = in/groups*kh*kw`).
    ///
    /// ```
    /// use gradus_nn::layers::Conv2d;
    /// use gradus_tensor::{ops::conv::Conv2dOptions, Rng};
    /// let c = Conv2d::new(4, 6, (3, 3), Conv2dOptions { groups: 2, ..Default::default() }, true, &mut Rng::seed(0));
    /// assert_eq!(c.weight.shape(), vec![6, 2, 3, 3]);
    /// ```
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: (usize, usize),
        options: Conv2dOptions,
        bias: bool,
        rng: &mut Rng,
    ) -> Conv2d {
        let shape = [
            out_channels,
            in_channels / options.groups.max(1),
            kernel.0,
            kernel.1,
        ];
        let weight = Param::new(init::default_weight(&shape, DType::F32, rng));
        let fan_in = init::fans(&shape).0;
        let bias =
            bias.then(|| Param::new(init::default_bias(&[out_channels], fan_in, DType::F32, rng)));
        Conv2d {
            weight,
            bias,
            options,
        }
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let b = self.bias.as_ref().map(Param::tensor);
        let w = self.weight.tensor();
        let y = x.conv2d(&w, b.as_ref(), &self.options)?;
        if !capture::is_active() || self.options.groups > 1 {
            return Ok(y);
        }
        // K-FAC (KFC, Grosse & Martens 2016): the unfolded patches as rows, a probe on the output
        let ws = w.shape();
        let cols = x.detach().unfold((ws[2], ws[3]), &self.options)?; // [n, c*kh*kw, L]
        let (n, k, l) = (cols.shape()[0], cols.shape()[1], cols.shape()[2]);
        let inputs = cols
            .permute(&[0, 2, 1])?
            .contiguous()?
            .reshape(&[n * l, k])?;
        let (probe, y) = capture::probe(&y)?;
        capture::record(capture::LayerCapture {
            weight: w.id(),
            bias: b.as_ref().map(Tensor::id),
            inputs,
            probe,
            layout: capture::OutputLayout::Channels,
            batch: n,
        });
        Ok(y)
    }

    fn own_params(&self) -> Vec<(String, Param)> {
        let mut out = vec![("weight".to_string(), self.weight.clone())];
        out.extend(self.bias.iter().map(|b| ("bias".to_string(), b.clone())));
        out
    }
}
