//! Activation functions: `relu`, `leaky_relu`, `elu`, `softplus` (primitives) and `gelu`,
//! `gelu_tanh`, `silu` (composites of primitives, so every order of derivative is exact).

use super::binary::keep_where;
use super::unary::{map_constant, unary, UnaryGrad, UnaryKernel};
use crate::{Element, Result, Tensor};

#[derive(Clone, Copy)]
struct Relu;
impl UnaryKernel for Relu {
    const NAME: &'static str = "relu";
    fn f<T: Element>(&self, x: T) -> T {
        if x > T::zero() {
            x
        } else {
            T::zero()
        }
    }
}
impl UnaryGrad for Relu {
    // d relu(x) = 1 if x > 0 else 0, by selection (PyTorch's `where(x <= 0, 0, g)`: an infinite
    // gradient where x <= 0 gives 0, not 0 * inf = NaN)
    fn grad(&self, x: &Tensor, _out: &Tensor, g: &Tensor) -> Result<Tensor> {
        keep_where(&map_constant(x, Positive)?, g)
    }
}

#[derive(Clone, Copy)]
struct LeakyRelu(f64);
impl UnaryKernel for LeakyRelu {
    const NAME: &'static str = "leaky_relu";
    fn f<T: Element>(&self, x: T) -> T {
        if x > T::zero() {
            x
        } else {
            x * T::from_f64(self.0)
        }
    }
}
impl UnaryGrad for LeakyRelu {
    // d = 1 if x > 0 else slope
    fn grad(&self, x: &Tensor, _out: &Tensor, g: &Tensor) -> Result<Tensor> {
        g.mul(&map_constant(x, LeakyReluSlope(self.0))?)
    }
}

#[derive(Clone, Copy)]
struct Elu(f64);
impl UnaryKernel for Elu {
    const NAME: &'static str = "elu";
    fn f<T: Element>(&self, x: T) -> T {
        if x > T::zero() {
            x
        } else {
            T::from_f64(self.0) * x.exp_m1()
        }
    }
}
impl UnaryGrad for Elu {
    // d = 1 if x > 0 else alpha e^x = out + alpha (picked, not masked by a product: at x = inf
    // the unused out + alpha is inf, and inf * 0 would be NaN)
    fn grad(&self, x: &Tensor, out: &Tensor, g: &Tensor) -> Result<Tensor> {
        let positive = map_constant(x, Positive)?;
        let negative_slope = keep_where(&positive.affine(-1.0, 1.0)?, &out.add_scalar(self.0)?)?;
        g.mul(&positive.add(&negative_slope)?)
    }
}

#[derive(Clone, Copy)]
struct Softplus {
    beta: f64,
    threshold: f64,
}
impl UnaryKernel for Softplus {
    const NAME: &'static str = "softplus";
    fn f<T: Element>(&self, x: T) -> T {
        let bx = x * T::from_f64(self.beta);
        if bx > T::from_f64(self.threshold) {
            x
        } else {
            // log(1 + e^bx) / beta, stable for very negative bx
            (bx.max(T::zero()) + (-bx.abs()).exp().ln_1p()) / T::from_f64(self.beta)
        }
    }
}
impl UnaryGrad for Softplus {
    // d = sigmoid(beta x) below the threshold, 1 above it (PyTorch's linear region)
    fn grad(&self, x: &Tensor, _out: &Tensor, g: &Tensor) -> Result<Tensor> {
        let linear = map_constant(x, Above(self.threshold / self.beta))?;
        let s = x.mul_scalar(self.beta)?.sigmoid()?;
        let slope = s.mul(&linear.neg()?.add_scalar(1.0)?)?.add(&linear)?;
        g.mul(&slope)
    }
}

/// 1 where `x > 0`, else 0 (NaN gives 0): the masks of ReLU's and ELU's gradients. Compared in
/// the element type (the same answer as in f64, since 0 is exact in every dtype), so that the loop
/// runs at the element type's vector width rather than widening each element to f64 first.
#[derive(Clone, Copy)]
struct Positive;
impl UnaryKernel for Positive {
    const NAME: &'static str = "gt_zero";
    fn f<T: Element>(&self, x: T) -> T {
        if x > T::zero() {
            T::one()
        } else {
            T::zero()
        }
    }
}

/// 1 where `x > t` (compared in f64), else 0 (NaN gives 0): softplus's linear-region mask.
#[derive(Clone, Copy)]
struct Above(f64);
impl UnaryKernel for Above {
    const NAME: &'static str = "gt_scalar";
    fn f<T: Element>(&self, x: T) -> T {
        if x.to_f64() > self.0 {
            T::one()
        } else {
            T::zero()
        }
    }
}

/// Leaky ReLU's slope: 1 where `x > 0`, else the negative slope.
#[derive(Clone, Copy)]
struct LeakyReluSlope(f64);
impl UnaryKernel for LeakyReluSlope {
    const NAME: &'static str = "leaky_relu_slope";
    fn f<T: Element>(&self, x: T) -> T {
        if x > T::zero() {
            T::one()
        } else {
            T::from_f64(self.0)
        }
    }
}

impl Tensor {
    /// `max(x, 0)`.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![-1.0f32, 2.0], &[2]).unwrap();
    /// assert_eq!(x.relu().unwrap().to_vec::<f32>().unwrap(), vec![0.0, 2.0]);
    /// ```
    pub fn relu(&self) -> Result<Tensor> {
        unary(self, Relu)
    }

    /// `x` for positive inputs, `slope * x` otherwise (PyTorch's default slope is 0.01).
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![-1.0f64, 2.0], &[2]).unwrap();
    /// assert_eq!(x.leaky_relu(0.1).unwrap().to_vec::<f64>().unwrap(), vec![-0.1, 2.0]);
    /// ```
    pub fn leaky_relu(&self, slope: f64) -> Result<Tensor> {
        unary(self, LeakyRelu(slope))
    }

    /// `x` for positive inputs, `alpha (e^x - 1)` otherwise.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let y = Tensor::scalar(0.0f64).elu(1.0).unwrap();
    /// assert_eq!(y.item().unwrap(), 0.0);
    /// ```
    pub fn elu(&self, alpha: f64) -> Result<Tensor> {
        unary(self, Elu(alpha))
    }

    /// `log(1 + e^(beta x)) / beta`, linear above `threshold` (PyTorch: beta 1, threshold 20).
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let y = Tensor::scalar(0.0f64).softplus(1.0, 20.0).unwrap();
    /// assert!((y.item().unwrap() - 2f64.ln()).abs() < 1e-15);
    /// ```
    pub fn softplus(&self, beta: f64, threshold: f64) -> Result<Tensor> {
        unary(self, Softplus { beta, threshold })
    }

    /// Exact GELU: `x Φ(x) = x (1 + erf(x / √2)) / 2`.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// assert_eq!(Tensor::scalar(0.0f64).gelu().unwrap().item().unwrap(), 0.0);
    /// ```
    pub fn gelu(&self) -> Result<Tensor> {
        if self.numel() == 0 {
            return self.gelu_composed();
        }
        super::nn::gelu::gelu(self)
    }

    /// Exact GELU from primitive ops (every order of derivative).
    pub(crate) fn gelu_composed(&self) -> Result<Tensor> {
        let phi = self
            .mul_scalar(std::f64::consts::FRAC_1_SQRT_2)?
            .erf()?
            .affine(0.5, 0.5)?;
        self.mul(&phi)
    }

    /// GELU's tanh approximation: `x (1 + tanh(√(2/π) (x + 0.044715 x³))) / 2`.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let y = Tensor::scalar(1.0f64).gelu_tanh().unwrap().item().unwrap();
    /// assert!((y - 0.8411919906082768).abs() < 1e-12);
    /// ```
    pub fn gelu_tanh(&self) -> Result<Tensor> {
        let c = (2.0 / std::f64::consts::PI).sqrt();
        let inner = self
            .add(&self.powf(3.0)?.mul_scalar(0.044715)?)?
            .mul_scalar(c)?;
        self.mul(&inner.tanh()?.affine(0.5, 0.5)?)
    }

    /// SiLU (swish): `x sigmoid(x)`.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// assert_eq!(Tensor::scalar(0.0f64).silu().unwrap().item().unwrap(), 0.0);
    /// ```
    pub fn silu(&self) -> Result<Tensor> {
        self.mul(&self.sigmoid()?)
    }
}
