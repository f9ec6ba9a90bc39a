//! Seeded random numbers: the same seed gives the same tensors on every run and thread count
//! (values are drawn serially, in row-major order).
//!
//! The generator stays on the host: a random tensor is drawn here as f64 samples, then handed to
//! the backend of the target device in one call (`Storage::from_samples`), which rounds them to
//! the dtype and writes them into its memory. So a seed gives the same tensor on every device.

use crate::{DType, Device, Result, Storage, Tensor, TensorError};
use rand::{Rng as _, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;

/// A seedable, serializable random generator (PCG-64) for initialization, dropout and shuffling.
///
/// ```
/// use gradus_tensor::{DType, Rng};
/// let a = Rng::seed(7).normal(&[3], 0.0, 1.0, DType::F64).to_vec::<f64>().unwrap();
/// let b = Rng::seed(7).normal(&[3], 0.0, 1.0, DType::F64).to_vec::<f64>().unwrap();
/// assert_eq!(a, b);
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rng(Pcg64);

impl Rng {
    /// A generator from a 64-bit seed.
    pub fn seed(seed: u64) -> Rng {
        Rng(Pcg64::seed_from_u64(seed))
    }

    /// A uniform f64 in `[0, 1)`.
    ///
    /// ```
    /// let u = gradus_tensor::Rng::seed(1).uniform_f64();
    /// assert!((0.0..1.0).contains(&u));
    /// ```
    pub fn uniform_f64(&mut self) -> f64 {
        self.0.gen::<f64>()
    }

    /// A uniform integer in `0..n`.
    ///
    /// ```
    /// assert!(gradus_tensor::Rng::seed(1).below(5) < 5);
    /// ```
    pub fn below(&mut self, n: usize) -> usize {
        self.0.gen_range(0..n.max(1))
    }

    /// Normal samples with the given mean and standard deviation.
    ///
    /// ```
    /// use gradus_tensor::{DType, Rng};
    /// let t = Rng::seed(0).normal(&[2, 2], 0.0, 0.02, DType::F32);
    /// assert_eq!(t.shape(), &[2, 2]);
    /// ```
    pub fn normal(&mut self, shape: &[usize], mean: f64, std: f64, dtype: DType) -> Tensor {
        let n: usize = shape.iter().product();
        let values: Vec<f64> = (0..n)
            .map(|_| {
                mean + std * {
                    let z: f64 = StandardNormal.sample(&mut self.0);
                    z
                }
            })
            .collect();
        host_tensor(values, shape, dtype)
    }

    /// Uniform samples in `[low, high)`.
    ///
    /// ```
    /// use gradus_tensor::{DType, Rng};
    /// let t = Rng::seed(0).uniform(&[100], -1.0, 1.0, DType::F64);
    /// assert!(t.to_vec::<f64>().unwrap().iter().all(|v| (-1.0..1.0).contains(v)));
    /// ```
    pub fn uniform(&mut self, shape: &[usize], low: f64, high: f64, dtype: DType) -> Tensor {
        let n: usize = shape.iter().product();
        let values: Vec<f64> = (0..n)
            .map(|_| low + (high - low) * self.0.gen::<f64>())
            .collect();
        host_tensor(values, shape, dtype)
    }

    /// 1 with probability `p`, else 0.
    ///
    /// # Errors
    /// When `p` is outside `[0, 1]`.
    ///
    /// ```
    /// use gradus_tensor::{DType, Rng};
    /// let t = Rng::seed(0).bernoulli(&[4], 1.0, DType::F32).unwrap();
    /// assert_eq!(t.to_vec::<f32>().unwrap(), vec![1.0; 4]);
    /// ```
    pub fn bernoulli(&mut self, shape: &[usize], p: f64, dtype: DType) -> Result<Tensor> {
        self.bernoulli_on(shape, p, dtype, Device::Cpu)
    }

    /// [`Rng::bernoulli`] on `device` (dropout masks live where the activations do).
    pub(crate) fn bernoulli_on(
        &mut self,
        shape: &[usize],
        p: f64,
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        if !(0.0..=1.0).contains(&p) {
            return Err(TensorError::InvalidArgument {
                op: "bernoulli",
                detail: format!("probability {p} is outside [0, 1]"),
            });
        }
        let n: usize = shape.iter().product();
        let values: Vec<f64> = (0..n)
            .map(|_| if self.0.gen::<f64>() < p { 1.0 } else { 0.0 })
            .collect();
        sample_tensor(values, shape, dtype, device)
    }

    /// A random permutation of `0..n` (Fisher-Yates).
    ///
    /// ```
    /// let mut p = gradus_tensor::Rng::seed(3).permutation(5);
    /// p.sort();
    /// assert_eq!(p, vec![0, 1, 2, 3, 4]);
    /// ```
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            p.swap(i, self.0.gen_range(0..=i));
        }
        p
    }
}

/// A tensor of `shape` and `dtype` on `device` holding `samples` (row-major): one backend call.
fn sample_tensor(
    samples: Vec<f64>,
    shape: &[usize],
    dtype: DType,
    device: Device,
) -> Result<Tensor> {
    let storage = Storage::from_samples(device, samples, dtype)?;
    Ok(Tensor::from_storage(storage, shape))
}

/// [`sample_tensor`] on the CPU, for the constructors that cannot fail.
fn host_tensor(samples: Vec<f64>, shape: &[usize], dtype: DType) -> Tensor {
    // the CPU backend writes the samples into a new host `Vec`: it has no error to report
    sample_tensor(samples, shape, dtype, Device::Cpu)
        .expect("the CPU backend fills a host buffer without failing")
}

impl Tensor {
    /// Standard-normal samples from a seed (see [`Rng`] for drawing several tensors in sequence).
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// assert_eq!(Tensor::randn(&[2, 3], DType::F32, 42).shape(), &[2, 3]);
    /// ```
    pub fn randn(shape: &[usize], dtype: DType, seed: u64) -> Tensor {
        Rng::seed(seed).normal(shape, 0.0, 1.0, dtype)
    }

    /// Uniform samples in `[0, 1)` from a seed.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// assert_eq!(Tensor::rand(&[4], DType::F64, 1).numel(), 4);
    /// ```
    pub fn rand(shape: &[usize], dtype: DType, seed: u64) -> Tensor {
        Rng::seed(seed).uniform(shape, 0.0, 1.0, dtype)
    }
}
