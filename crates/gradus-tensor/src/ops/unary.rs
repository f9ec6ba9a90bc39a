//! Elementwise functions of one tensor: `neg`, `exp`, `log`, `sqrt`, `abs`, `tanh`, `sigmoid`,
//! `erf`, `powf`, `clamp`, scalar affine ops; and the machinery other unary ops use.

use super::binary::keep_where;
use crate::autodiff::{BackwardOp, Ctx};
use crate::{Element, Result, Tensor};

/// A scalar function of one element, named so that a backend can select its compiled kernel
/// (the CPU backend monomorphizes `f`).
pub(crate) trait UnaryKernel: Copy + Send + Sync + 'static {
    const NAME: &'static str;
    /// The function on one element.
    fn f<T: Element>(&self, x: T) -> T;
}

/// The derivative of a [`UnaryKernel`], written in tensor ops.
pub(crate) trait UnaryGrad: UnaryKernel {
    /// `g * f'(x)`, given the input `x`, the output `out = f(x)`, and the output gradient `g`.
    fn grad(&self, x: &Tensor, out: &Tensor, g: &Tensor) -> Result<Tensor>;
}

struct UnaryOp<K>(K);

impl<K: UnaryGrad> BackwardOp for UnaryOp<K> {
    fn name(&self) -> &'static str {
        K::NAME
    }
    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(self.0.grad(ctx.input(0), ctx.output(), g)?)])
    }
}

/// Applies a differentiable elementwise kernel.
pub(crate) fn unary<K: UnaryGrad>(x: &Tensor, k: K) -> Result<Tensor> {
    let out = x.storage().unary(x.layout(), k)?;
    Ok(Tensor::from_op_storage(out, x.shape(), UnaryOp(k), &[x]))
}

/// Applies an elementwise kernel whose gradient is zero or undefined (masks, signs): the result
/// is a constant for autodiff.
pub(crate) fn map_constant<K: UnaryKernel>(x: &Tensor, k: K) -> Result<Tensor> {
    let out = x.storage().unary(x.layout(), k)?;
    Ok(Tensor::from_storage(out, x.shape()))
}

macro_rules! unary_kernel {
    ($name:ident, $label:literal, |$s:ident, $x:ident| $f:expr, |$k:ident, $xt:ident, $out:ident, $g:ident| $grad:expr) => {
        #[derive(Clone, Copy)]
        pub(crate) struct $name;
        impl UnaryKernel for $name {
            const NAME: &'static str = $label;
            fn f<T: Element>(&self, $x: T) -> T {
                let $s = self;
                let _ = $s;
                $f
            }
        }
        impl UnaryGrad for $name {
            fn grad(&self, $xt: &Tensor, $out: &Tensor, $g: &Tensor) -> Result<Tensor> {
                let $k = self;
                let _ = ($k, $xt, $out);
                $grad
            }
        }
    };
}

// d(-x) = -1
unary_kernel!(Neg, "neg", |_s, x| -x, |_k, _x, _o, g| g.neg());
// d exp(x) = exp(x)
unary_kernel!(Exp, "exp", |_s, x| x.exp(), |_k, _x, out, g| g.mul(out));
// d log(x) = 1/x (inf at 0, as PyTorch)
unary_kernel!(Log, "log", |_s, x| x.ln(), |_k, x, _o, g| g.div(x));
// d sqrt(x) = 1 / (2 sqrt(x)) (inf at 0, as PyTorch)
unary_kernel!(Sqrt, "sqrt", |_s, x| x.sqrt(), |_k, _x, out, g| g
    .div(&out.mul_scalar(2.0)?));
// d |x| = sign(x)  (0 at 0, as PyTorch)
unary_kernel!(Abs, "abs", |_s, x| x.abs(), |_k, x, _o, g| g
    .mul(&x.sign()?));
// d tanh(x) = 1 - tanh(x)^2
unary_kernel!(Tanh, "tanh", |_s, x| x.tanh(), |_k, _x, out, g| g
    .mul(&out.mul(out)?.neg()?.add_scalar(1.0)?));
// d sigmoid(x) = s (1 - s)
unary_kernel!(Sigmoid, "sigmoid", |_s, x| sigmoid(x), |_k, _x, out, g| g
    .mul(&out.mul(&out.neg()?.add_scalar(1.0)?)?));
// d erf(x) = 2/sqrt(pi) exp(-x^2)
unary_kernel!(Erf, "erf", |_s, x| x.erf(), |_k, x, _o, g| g.mul(
    &x.mul(x)?
        .neg()?
        .exp()?
        .mul_scalar(std::f64::consts::FRAC_2_SQRT_PI)?
));

/// A numerically stable logistic function.
pub(crate) fn sigmoid<T: Element>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

#[derive(Clone, Copy)]
struct PowScalar(f64);
impl UnaryKernel for PowScalar {
    const NAME: &'static str = "powf";
    fn f<T: Element>(&self, x: T) -> T {
        x.powf(T::from_f64(self.0))
    }
}
impl UnaryGrad for PowScalar {
    // d x^p = p x^(p-1); 0 for p = 0 (PyTorch: not 0 * 0^-1 = NaN at x = 0). At x = 0 with
    // 0 < p < 1 the slope is inf, as PyTorch's (and sqrt's).
    fn grad(&self, x: &Tensor, _out: &Tensor, g: &Tensor) -> Result<Tensor> {
        if self.0 == 0.0 {
            return Ok(g.zeros_like());
        }
        g.mul(&x.powf(self.0 - 1.0)?.mul_scalar(self.0)?)
    }
}

#[derive(Clone, Copy)]
struct Affine {
    scale: f64,
    shift: f64,
}
impl UnaryKernel for Affine {
    const NAME: &'static str = "affine";
    fn f<T: Element>(&self, x: T) -> T {
        x * T::from_f64(self.scale) + T::from_f64(self.shift)
    }
}
impl UnaryGrad for Affine {
    // d (a x + b) = a
    fn grad(&self, _x: &Tensor, _out: &Tensor, g: &Tensor) -> Result<Tensor> {
        if self.scale == 1.0 {
            Ok(g.clone())
        } else {
            g.mul_scalar(self.scale)
        }
    }
}

#[derive(Clone, Copy)]
struct Clamp {
    min: f64,
    max: f64,
}
impl UnaryKernel for Clamp {
    const NAME: &'static str = "clamp";
    fn f<T: Element>(&self, x: T) -> T {
        // NaN stays NaN, as in PyTorch (`f64::max` would return the bound)
        if x.is_nan() {
            return x;
        }
        x.max(T::from_f64(self.min)).min(T::from_f64(self.max))
    }
}
impl UnaryGrad for Clamp {
    // the gradient passes where min <= x <= max (PyTorch's convention at the bounds), selected
    // rather than multiplied by a 0/1 mask (an infinite gradient outside the range gives 0)
    fn grad(&self, x: &Tensor, _out: &Tensor, g: &Tensor) -> Result<Tensor> {
        let inside = map_constant(
            x,
            InRange {
                min: self.min,
                max: self.max,
            },
        )?;
        keep_where(&inside, g)
    }
}

/// 1 where `min <= x <= max` (compared in f64), else 0 (NaN gives 0): clamp's gradient mask.
#[derive(Clone, Copy)]
struct InRange {
    min: f64,
    max: f64,
}
impl UnaryKernel for InRange {
    const NAME: &'static str = "in_range";
    fn f<T: Element>(&self, x: T) -> T {
        let v = x.to_f64();
        if v >= self.min && v <= self.max {
            T::one()
        } else {
            T::zero()
        }
    }
}

/// The sign: -1, 0 or 1 (NaN gives 0).
#[derive(Clone, Copy)]
struct Sign;
impl UnaryKernel for Sign {
    const NAME: &'static str = "sign";
    fn f<T: Element>(&self, x: T) -> T {
        if x > T::zero() {
            T::one()
        } else if x < T::zero() {
            -T::one()
        } else {
            T::zero()
        }
    }
}

/// 1 where the element is non-zero (NaN included), else 0.
#[derive(Clone, Copy)]
struct NonZero;
impl UnaryKernel for NonZero {
    const NAME: &'static str = "ne_zero";
    fn f<T: Element>(&self, x: T) -> T {
        if x != T::zero() {
            T::one()
        } else {
            T::zero()
        }
    }
}

impl Tensor {
    /// `-x`.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, -2.0], &[2]).unwrap();
    /// assert_eq!(x.neg().unwrap().to_vec::<f32>().unwrap(), vec![-1.0, 2.0]);
    /// ```
    pub fn neg(&self) -> Result<Tensor> {
        unary(self, Neg)
    }

    /// `e^x`.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// assert_eq!(Tensor::scalar(0.0f64).exp().unwrap().item().unwrap(), 1.0);
    /// ```
    pub fn exp(&self) -> Result<Tensor> {
        unary(self, Exp)
    }

    /// Natural logarithm.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// assert_eq!(Tensor::scalar(1.0f64).log().unwrap().item().unwrap(), 0.0);
    /// ```
    pub fn log(&self) -> Result<Tensor> {
        unary(self, Log)
    }

    /// Square root.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// assert_eq!(Tensor::scalar(9.0f64).sqrt().unwrap().item().unwrap(), 3.0);
    /// ```
    pub fn sqrt(&self) -> Result<Tensor> {
        unary(self, Sqrt)
    }

    /// Absolute value.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// assert_eq!(Tensor::scalar(-2.0f64).abs().unwrap().item().unwrap(), 2.0);
    /// ```
    pub fn abs(&self) -> Result<Tensor> {
        unary(self, Abs)
    }

    /// Hyperbolic tangent.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// assert_eq!(Tensor::scalar(0.0f64).tanh().unwrap().item().unwrap(), 0.0);
    /// ```
    pub fn tanh(&self) -> Result<Tensor> {
        unary(self, Tanh)
    }

    /// Logistic sigmoid `1 / (1 + e^-x)`, stable for large |x|.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// assert_eq!(Tensor::scalar(0.0f64).sigmoid().unwrap().item().unwrap(), 0.5);
    /// ```
    pub fn sigmoid(&self) -> Result<Tensor> {
        unary(self, Sigmoid)
    }

    /// The error function.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// assert_eq!(Tensor::scalar(0.0f64).erf().unwrap().item().unwrap(), 0.0);
    /// ```
    pub fn erf(&self) -> Result<Tensor> {
        unary(self, Erf)
    }

    /// `x^p` for a scalar exponent.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// assert_eq!(Tensor::scalar(3.0f64).powf(2.0).unwrap().item().unwrap(), 9.0);
    /// ```
    pub fn powf(&self, p: f64) -> Result<Tensor> {
        unary(self, PowScalar(p))
    }

    /// `x + c`.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// assert_eq!(Tensor::scalar(1.0f64).add_scalar(2.0).unwrap().item().unwrap(), 3.0);
    /// ```
    pub fn add_scalar(&self, c: f64) -> Result<Tensor> {
        unary(
            self,
            Affine {
                scale: 1.0,
                shift: c,
            },
        )
    }

    /// `x * c`.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// assert_eq!(Tensor::scalar(1.5f64).mul_scalar(2.0).unwrap().item().unwrap(), 3.0);
    /// ```
    pub fn mul_scalar(&self, c: f64) -> Result<Tensor> {
        unary(
            self,
            Affine {
                scale: c,
                shift: 0.0,
            },
        )
    }

    /// `x * scale + shift` in one pass.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// assert_eq!(Tensor::scalar(2.0f64).affine(3.0, 1.0).unwrap().item().unwrap(), 7.0);
    /// ```
    pub fn affine(&self, scale: f64, shift: f64) -> Result<Tensor> {
        unary(self, Affine { scale, shift })
    }

    /// Limits values to `[min, max]`; the gradient passes where `min <= x <= max`.
    ///
    /// # Errors
    /// When `min > max`.
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![-2.0f64, 0.5, 3.0], &[3]).unwrap();
    /// assert_eq!(x.clamp(-1.0, 1.0).unwrap().to_vec::<f64>().unwrap(), vec![-1.0, 0.5, 1.0]);
    /// ```
    pub fn clamp(&self, min: f64, max: f64) -> Result<Tensor> {
        if min > max {
            return Err(crate::TensorError::InvalidArgument {
                op: "clamp",
                detail: format!("min {min} is greater than max {max}"),
            });
        }
        unary(self, Clamp { min, max })
    }

    /// The sign (-1, 0 or 1) of each element; a constant for autodiff.
    ///
    /// # Errors
    /// When the backend fails (never on the CPU).
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![-2.0f32, 0.0, 3.0], &[3]).unwrap();
    /// assert_eq!(x.sign().unwrap().to_vec::<f32>().unwrap(), vec![-1.0, 0.0, 1.0]);
    /// ```
    pub fn sign(&self) -> Result<Tensor> {
        map_constant(self, Sign)
    }

    /// 1 where the element is non-zero (NaN included), else 0 (a constant for autodiff).
    ///
    /// # Errors
    /// When the backend fails (never on the CPU).
    ///
    /// ```
    /// use gradus_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![0.0f64, -2.0], &[2]).unwrap();
    /// assert_eq!(a.ne_zero().unwrap().to_vec::<f64>().unwrap(), vec![0.0, 1.0]);
    /// ```
    pub fn ne_zero(&self) -> Result<Tensor> {
        map_constant(self, NonZero)
    }
}
