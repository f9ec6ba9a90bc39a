//! Autocast (`torch.autocast`): inside [`autocast`], the matmul-like ops round their f32 inputs
//! to a 16-bit format and accumulate in f32; every other op runs as it would outside.
//!
//! Ops that run in 16 bits (inputs rounded): [`Tensor::matmul`] and what is built on it
//! (linear layers, attention's products, [`Tensor::conv2d`] as im2col + matmul). Ops that stay
//! in f32, as PyTorch's autocast lists them: reductions (sum, mean), softmax and log-softmax,
//! normalization layers, losses, elementwise ops and activations; the parameters and the
//! optimizer state (the master weights) stay f32. f64 tensors are never rounded.
//! The gradient flowing back through a rounded input is rounded too ([`Tensor::round_to`]).

use super::Half;
use crate::{DType, Result, Tensor};
use std::cell::Cell;

thread_local! {
    static FORMAT: Cell<Option<Half>> = const { Cell::new(None) };
}

/// Runs `f` with autocast to `format` on this thread (`None`: autocast off, as
/// `torch.autocast(enabled=False)`), restoring the previous setting afterwards, also when `f`
/// panics.
///
/// ```
/// use gradus_tensor::precision::{autocast, Half};
/// use gradus_tensor::Tensor;
/// let a = Tensor::from_vec(vec![1.0f32 + 1.0 / 512.0], &[1, 1]).unwrap();
/// let y = autocast::autocast(Some(Half::BF16), || a.matmul(&a)).unwrap();
/// assert_eq!(y.to_vec::<f32>().unwrap(), vec![1.0]);
/// assert!(a.matmul(&a).unwrap().to_vec::<f32>().unwrap()[0] > 1.0);
/// ```
pub fn autocast<R>(format: Option<Half>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Half>);
    impl Drop for Restore {
        fn drop(&mut self) {
            FORMAT.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(FORMAT.with(|c| c.replace(format)));
    f()
}

/// The autocast format in force on this thread.
pub fn current() -> Option<Half> {
    FORMAT.with(Cell::get)
}

/// The inputs of a matmul-like op as autocast wants them: rounded to the autocast format when
/// one is in force and both are f32; `None` otherwise (run the op unchanged).
pub(crate) fn cast_pair(a: &Tensor, b: &Tensor) -> Result<Option<(Tensor, Tensor)>> {
    match current() {
        Some(f) if a.dtype() == DType::F32 && b.dtype() == DType::F32 => {
            Ok(Some((a.round_to(f)?, b.round_to(f)?)))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;

    #[test]
    fn matmul_under_autocast_is_the_f32_matmul_of_rounded_inputs_with_rounded_gradients() {
        let mut rng = Rng::seed(9);
        let a = rng
            .normal(&[5, 7], 0.0, 1.0, DType::F32)
            .requires_grad_(true);
        let b = rng.normal(&[7, 3], 0.0, 1.0, DType::F32);
        let w = rng.normal(&[5, 3], 0.0, 1.0, DType::F32);
        for format in [Half::BF16, Half::F16] {
            a.set_grad(None);
            let y = autocast(Some(format), || a.matmul(&b)).unwrap();
            assert_eq!(current(), None);
            let rb = b.round_to(format).unwrap();
            let expect = a.detach().round_to(format).unwrap().matmul(&rb).unwrap();
            assert_eq!(y.to_vec::<f32>().unwrap(), expect.to_vec::<f32>().unwrap());
            y.mul(&w).unwrap().sum_all().unwrap().backward().unwrap();
            // dL/da = round(w @ round(b)^T)
            let g = w
                .matmul(&rb.t().unwrap())
                .unwrap()
                .round_to(format)
                .unwrap();
            assert_eq!(
                a.grad().unwrap().to_vec::<f32>().unwrap(),
                g.to_vec::<f32>().unwrap()
            );
        }
        // f64 is never rounded
        let x = Tensor::from_vec(vec![1.0f64 + 1e-9], &[1, 1]).unwrap();
        let y = autocast(Some(Half::BF16), || x.matmul(&x)).unwrap();
        assert_eq!(
            y.to_vec::<f64>().unwrap(),
            x.matmul(&x).unwrap().to_vec::<f64>().unwrap()
        );
    }
}
