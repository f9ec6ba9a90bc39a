//! Initializers, seeded with [`Rng`], and PyTorch's per-layer defaults.
//!
//! Fans follow `torch.nn.init._calculate_fan_in_and_fan_out`: for a weight `[out, in, k...]`,
//! `fan_in = in * prod(k)` and `fan_out = out * prod(k)`.

use gradus_tensor::{DType, Result, Rng, Tensor};

/// Which fan scales a Kaiming initializer.
///
/// ```
/// use gradus_nn::init::{kaiming_normal, FanMode, Nonlinearity};
/// use gradus_tensor::{DType, Rng};
/// let w = kaiming_normal(&[4, 2], FanMode::FanOut, Nonlinearity::Linear, DType::F32, &mut Rng::seed(0));
/// assert_eq!(w.shape(), &[4, 2]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanMode {
    /// Preserve the forward pass variance (PyTorch's default).
    FanIn,
    /// Preserve the backward pass variance.
    FanOut,
}

/// A nonlinearity for [`gain`] (`torch.nn.init.calculate_gain`).
///
/// ```
/// use gradus_nn::init::{gain, Nonlinearity};
/// assert_eq!(gain(Nonlinearity::Tanh), 5.0 / 3.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Nonlinearity {
    /// Gain 1.
    Linear,
    /// Gain 1.
    Sigmoid,
    /// Gain 5/3.
    Tanh,
    /// Gain sqrt(2).
    ReLU,
    /// Gain sqrt(2 / (1 + slope^2)).
    LeakyReLU(f64),
    /// Gain 3/4.
    Selu,
}

/// The recommended gain for a nonlinearity.
///
/// ```
/// use gradus_nn::init::{gain, Nonlinearity};
/// assert!((gain(Nonlinearity::ReLU) - 2f64.sqrt()).abs() < 1e-12);
/// ```
pub fn gain(nl: Nonlinearity) -> f64 {
    match nl {
        Nonlinearity::Linear | Nonlinearity::Sigmoid => 1.0,
        Nonlinearity::Tanh => 5.0 / 3.0,
        Nonlinearity::ReLU => 2f64.sqrt(),
        Nonlinearity::LeakyReLU(a) => (2.0 / (1.0 + a * a)).sqrt(),
        Nonlinearity::Selu => 0.75,
    }
}

/// `(fan_in, fan_out)` of a weight shape (at least 2-D; a 1-D shape has fan_in = fan_out = len).
///
/// ```
/// assert_eq!(gradus_nn::init::fans(&[6, 2, 5, 5]), (50, 150));
/// ```
pub fn fans(shape: &[usize]) -> (usize, usize) {
    match shape.len() {
        0 => (1, 1),
        1 => (shape[0], shape[0]),
        _ => {
            let receptive: usize = shape[2..].iter().product();
            (shape[1] * receptive, shape[0] * receptive)
        }
    }
}

/// `U(low, high)`.
///
/// ```
/// use gradus_tensor::{DType, Rng};
/// let t = gradus_nn::init::uniform(&[100], -1.0, 1.0, DType::F32, &mut Rng::seed(0));
/// assert!(t.to_vec_f64().iter().all(|v| (-1.0..1.0).contains(v)));
/// ```
pub fn uniform(shape: &[usize], low: f64, high: f64, dtype: DType, rng: &mut Rng) -> Tensor {
    rng.uniform(shape, low, high, dtype)
}

/// `N(mean, std^2)`.
///
/// ```
/// use gradus_tensor::{DType, Rng};
/// let t = gradus_nn::init::normal(&[3], 0.0, 1.0, DType::F64, &mut Rng::seed(0));
/// assert_eq!(t.shape(), &[3]);
/// ```
pub fn normal(shape: &[usize], mean: f64, std: f64, dtype: DType, rng: &mut Rng) -> Tensor {
    rng.normal(shape, mean, std, dtype)
}

/// A constant tensor.
///
/// ```
/// use gradus_tensor::DType;
/// assert_eq!(gradus_nn::init::constant(&[2], 0.5, DType::F32).to_vec_f64(), vec![0.5, 0.5]);
/// ```
pub fn constant(shape: &[usize], value: f64, dtype: DType) -> Tensor {
    Tensor::full(shape, value, dtype)
}

/// Xavier/Glorot uniform: `U(-b, b)`, `b = gain * sqrt(6 / (fan_in + fan_out))`.
///
/// ```
/// use gradus_tensor::{DType, Rng};
/// let t = gradus_nn::init::xavier_uniform(&[4, 4], 1.0, DType::F32, &mut Rng::seed(0));
/// assert!(t.to_vec_f64().iter().all(|v| v.abs() <= (6.0f64 / 8.0).sqrt()));
/// ```
pub fn xavier_uniform(shape: &[usize], gain: f64, dtype: DType, rng: &mut Rng) -> Tensor {
    let (fi, fo) = fans(shape);
    let bound = gain * (6.0 / (fi + fo) as f64).sqrt();
    rng.uniform(shape, -bound, bound, dtype)
}

/// Xavier/Glorot normal: `N(0, std^2)`, `std = gain * sqrt(2 / (fan_in + fan_out))`.
///
/// ```
/// use gradus_tensor::{DType, Rng};
/// let t = gradus_nn::init::xavier_normal(&[4, 4], 1.0, DType::F32, &mut Rng::seed(0));
/// assert_eq!(t.shape(), &[4, 4]);
/// ```
pub fn xavier_normal(shape: &[usize], gain: f64, dtype: DType, rng: &mut Rng) -> Tensor {
    let (fi, fo) = fans(shape);
    rng.normal(shape, 0.0, gain * (2.0 / (fi + fo) as f64).sqrt(), dtype)
}

fn kaiming_std(shape: &[usize], mode: FanMode, nl: Nonlinearity) -> f64 {
    let (fi, fo) = fans(shape);
    let fan = if mode == FanMode::FanIn { fi } else { fo };
    gain(nl) / (fan as f64).sqrt()
}

/// Kaiming/He uniform: `U(-b, b)`, `b = sqrt(3) * gain / sqrt(fan)`.
///
/// ```
/// use gradus_nn::init::{kaiming_uniform, FanMode, Nonlinearity};
/// use gradus_tensor::{DType, Rng};
/// let t = kaiming_uniform(&[8, 4], FanMode::FanIn, Nonlinearity::ReLU, DType::F32, &mut Rng::seed(0));
/// assert!(t.to_vec_f64().iter().all(|v| v.abs() <= (6.0f64 / 4.0).sqrt()));
/// ```
pub fn kaiming_uniform(
    shape: &[usize],
    mode: FanMode,
    nl: Nonlinearity,
    dtype: DType,
    rng: &mut Rng,
) -> Tensor {
    let bound = 3f64.sqrt() * kaiming_std(shape, mode, nl);
    rng.uniform(shape, -bound, bound, dtype)
}

/// Kaiming/He normal: `N(0, (gain / sqrt(fan))^2)`.
///
/// ```
/// use gradus_nn::init::{kaiming_normal, FanMode, Nonlinearity};
/// use gradus_tensor::{DType, Rng};
/// let t = kaiming_normal(&[8, 4], FanMode::FanOut, Nonlinearity::ReLU, DType::F32, &mut Rng::seed(0));
/// assert_eq!(t.shape(), &[8, 4]);
/// ```
pub fn kaiming_normal(
    shape: &[usize],
    mode: FanMode,
    nl: Nonlinearity,
    dtype: DType,
    rng: &mut Rng,
) -> Tensor {
    rng.normal(shape, 0.0, kaiming_std(shape, mode, nl), dtype)
}

/// PyTorch's default for Linear and Conv weights: `kaiming_uniform(a = sqrt(5))`, which is
/// `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`.
///
/// ```
/// use gradus_tensor::{DType, Rng};
/// let w = gradus_nn::init::default_weight(&[3, 4], DType::F32, &mut Rng::seed(0));
/// assert!(w.to_vec_f64().iter().all(|v| v.abs() <= 0.5));
/// ```
pub fn default_weight(shape: &[usize], dtype: DType, rng: &mut Rng) -> Tensor {
    kaiming_uniform(
        shape,
        FanMode::FanIn,
        Nonlinearity::LeakyReLU(5f64.sqrt()),
        dtype,
        rng,
    )
}

/// PyTorch's default bias: `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` with the weight's fan_in
/// (also the RNN default with `fan_in = hidden_size`).
///
/// ```
/// use gradus_tensor::{DType, Rng};
/// let b = gradus_nn::init::default_bias(&[3], 4, DType::F32, &mut Rng::seed(0));
/// assert!(b.to_vec_f64().iter().all(|v| v.abs() <= 0.5));
/// ```
pub fn default_bias(shape: &[usize], fan_in: usize, dtype: DType, rng: &mut Rng) -> Tensor {
    let bound = if fan_in > 0 {
        1.0 / (fan_in as f64).sqrt()
    } else {
        0.0
    };
    rng.uniform(shape, -bound, bound, dtype)
}

/// A (semi-)orthogonal matrix from the QR decomposition of a Gaussian matrix, times `gain`
/// (`torch.nn.init.orthogonal_`; trailing dims are flattened into columns).
///
/// # Errors
/// On a shape with fewer than 2 dimensions.
///
/// ```
/// use gradus_tensor::{DType, Rng};
/// let q = gradus_nn::init::orthogonal(&[3, 3], 1.0, DType::F64, &mut Rng::seed(0)).unwrap();
/// let qtq = q.t().unwrap().matmul(&q).unwrap().to_vec_f64();
/// assert!((qtq[0] - 1.0).abs() < 1e-12 && qtq[1].abs() < 1e-12);
/// ```
pub fn orthogonal(shape: &[usize], gain: f64, dtype: DType, rng: &mut Rng) -> Result<Tensor> {
    if shape.len() < 2 {
        return Err(gradus_tensor::TensorError::InvalidShape {
            op: "orthogonal",
            shape: shape.to_vec(),
            detail: "needs at least 2 dimensions".into(),
        });
    }
    let rows = shape[0];
    let cols: usize = shape[1..].iter().product();
    // as torch: QR of the tall orientation of a Gaussian [rows, cols] matrix (drawn and factored
    // in f64), Q's columns multiplied by the signs of R's diagonal so that Q is unique
    let drawn = rng.normal(&[rows, cols], 0.0, 1.0, DType::F64);
    let tall = if rows < cols { drawn.t()? } else { drawn };
    let (q, r) = tall.linalg_qr()?;
    let k = rows.min(cols); // R is [k, k]
    let diagonal = Tensor::from_vec((0..k).map(|i| (i * (k + 1)) as f64).collect(), &[k])?;
    let signs = r.reshape(&[k * k])?.index_select(0, &diagonal)?.sign()?;
    let q = q.mul(&signs)?;
    let q = if rows < cols { q.t()? } else { q };
    q.mul_scalar(gain)?.reshape(shape)?.to_dtype(dtype)
}
