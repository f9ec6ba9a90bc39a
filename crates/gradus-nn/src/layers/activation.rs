//! Activation layers: one enum covering every activation of the tensor core.

use crate::module::Module;
use gradus_tensor::{Result, Tensor};

/// An elementwise (or softmax) activation as a module, with PyTorch's defaults:
/// `LeakyReLU(0.01)`, `ELU(1.0)`, `Softplus { beta: 1, threshold: 20 }`.
///
/// ```
/// use gradus_nn::{layers::Activation, Module};
/// use gradus_tensor::Tensor;
/// let x = Tensor::from_vec(vec![-1.0f64, 2.0], &[2]).unwrap();
/// assert_eq!(Activation::ReLU.forward(&x).unwrap().to_vec_f64(), vec![0.0, 2.0]);
/// assert_eq!(Activation::leaky_relu().forward(&x).unwrap().to_vec_f64(), vec![-0.01, 2.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `max(x, 0)`
    ReLU,
    /// `x` if positive, else `slope * x`.
    LeakyReLU(f64),
    /// `x` if positive, else `alpha (e^x - 1)`.
    ELU(f64),
    /// Exact GELU, `x Phi(x)`.
    GELU,
    /// GELU with the tanh approximation (`approximate='tanh'`).
    GELUTanh,
    /// `x sigmoid(x)`
    SiLU,
    /// `1 / (1 + e^-x)`
    Sigmoid,
    /// `tanh(x)`
    Tanh,
    /// `log(1 + e^(beta x)) / beta`, linear above `threshold`.
    Softplus {
        /// Sharpness.
        beta: f64,
        /// Linear region above `beta x > threshold`.
        threshold: f64,
    },
    /// Softmax along a dimension.
    Softmax(isize),
    /// Log-softmax along a dimension.
    LogSoftmax(isize),
    /// The identity.
    Identity,
}

impl Activation {
    /// `LeakyReLU` with PyTorch's default slope 0.01.
    ///
    /// ```
    /// assert_eq!(gradus_nn::layers::Activation::leaky_relu(), gradus_nn::layers::Activation::LeakyReLU(0.01));
    /// ```
    pub fn leaky_relu() -> Activation {
        Activation::LeakyReLU(0.01)
    }

    /// `ELU` with PyTorch's default alpha 1.
    ///
    /// ```
    /// assert_eq!(gradus_nn::layers::Activation::elu(), gradus_nn::layers::Activation::ELU(1.0));
    /// ```
    pub fn elu() -> Activation {
        Activation::ELU(1.0)
    }

    /// `Softplus` with PyTorch's defaults (beta 1, threshold 20).
    ///
    /// ```
    /// use gradus_nn::layers::Activation;
    /// assert_eq!(Activation::softplus(), Activation::Softplus { beta: 1.0, threshold: 20.0 });
    /// ```
    pub fn softplus() -> Activation {
        Activation::Softplus {
            beta: 1.0,
            threshold: 20.0,
        }
    }
}

impl Module for Activation {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match *self {
            Activation::ReLU => x.relu(),
            Activation::LeakyReLU(s) => x.leaky_relu(s),
            Activation::ELU(a) => x.elu(a),
            Activation::GELU => x.gelu(),
            Activation::GELUTanh => x.gelu_tanh(),
            Activation::SiLU => x.silu(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::Tanh => x.tanh(),
            Activation::Softplus { beta, threshold } => x.softplus(beta, threshold),
            Activation::Softmax(d) => x.softmax(d),
            Activation::LogSoftmax(d) => x.log_softmax(d),
            Activation::Identity => Ok(x.clone()),
        }
    }
}
