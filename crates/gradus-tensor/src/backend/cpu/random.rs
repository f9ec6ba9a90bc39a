//! Random fills on the CPU: samples drawn on the host become a host buffer of the tensor's dtype.

use super::CpuStorage;
use crate::dtype::with_any_dtype;
use crate::{DType, Element};

/// `samples` rounded to `dtype` (for f64, the same allocation).
pub(crate) fn from_samples(samples: Vec<f64>, dtype: DType) -> CpuStorage {
    with_any_dtype!(dtype, T => CpuStorage::from_vec(samples.into_iter().map(<T as Element>::from_f64).collect::<Vec<T>>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_rounded_to_the_dtype() {
        let samples = vec![0.1, -2.5, 1e-40];
        let f32s = from_samples(samples.clone(), DType::F32);
        assert_eq!(f32s.slice::<f32>(), &[0.1f32, -2.5, 1e-40_f64 as f32]);
        let f64s = from_samples(samples.clone(), DType::F64);
        assert_eq!(f64s.slice::<f64>(), &samples[..]);
    }
}
