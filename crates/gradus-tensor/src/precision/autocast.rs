//! Autocast (`torch.autocast`): inside [`autocast`], the matmul-like ops run in 16 bits as
//! PyTorch's CPU autocast runs them: their f32 inputs are rounded to the 16-bit format, the
//! products accumulate in f32, and their output is rounded to the 16-bit format (PyTorch returns
//! a bf16/f16 tensor). Every other op runs as it would outside. The gradient flowing back
//! through a rounded value is rounded too ([`Tensor::round_to`]), as the gradient of a PyTorch
//! bf16 tensor is bf16.
//!
//! | runs in 16 bits (inputs and output rounded) | PyTorch's CPU autocast name |
//! |---|---|
//! | [`Tensor::matmul`] (and `bmm`-like batched products) | `matmul`, `mm`, `bmm` |
//! | `Linear` and the attention's input projection (bias added before the output is rounded) | `linear`, `addmm` |
//! | [`Tensor::conv2d`] (bias added before the output is rounded) | `conv2d` |
//! | [`Tensor::scaled_dot_product_attention_qkv`] | `scaled_dot_product_attention` |
//!
//! Ops that run in f32 on their f32 inputs: reductions (sum, mean), softmax and log-softmax,
//! normalization layers, losses, elementwise ops and activations. An elementwise op between two
//! 16-bit ops computes in f32 and the next op rounds its input, which is the value PyTorch's
//! bf16 elementwise op returns (it also computes in f32 and rounds once); a chain of several
//! elementwise ops is rounded once in gradus where PyTorch rounds after each. The backward of
//! such an op uses its f32 values where PyTorch's uses the bf16 ones (tanh's `1 - y^2` with `y`
//! in bf16, for one), so the gradients before it are a few percent from PyTorch's (and closer
//! to the f32 ones); those flowing through 16-bit ops only are PyTorch's (gradus-nn's
//! `tests/autocast.rs` checks both against PyTorch). The parameters and
//! the optimizer state (the master weights) stay f32, and f64 tensors are never rounded.
//! PyTorch's fused CPU attention also rounds its probabilities to 16 bits before the product
//! with the values; gradus keeps them in f32 inside the fused op.

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

/// The format a 16-bit op with these inputs runs in: the autocast format when autocast is on
/// and every input is f32; `None` otherwise (run the op as it is).
pub fn format_for(inputs: &[&Tensor]) -> Option<Half> {
    current().filter(|_| inputs.iter().all(|t| t.dtype() == DType::F32))
}

/// Runs a 16-bit op as autocast wants it: when [`format_for`] the inputs gives a format, `op`
/// runs with autocast off on the inputs rounded to it, and its output is rounded too; otherwise
/// `op` runs on the inputs unchanged.
///
/// # Errors
/// Those of `op`.
///
/// ```
/// use gradus_tensor::precision::{autocast, Half};
/// use gradus_tensor::Tensor;
/// let a = Tensor::from_vec(vec![1.0f32, 1.0 / 256.0], &[1, 2]).unwrap();
/// let b = Tensor::from_vec(vec![1.0f32, 1.0], &[2, 1]).unwrap();
/// let y = autocast::autocast(Some(Half::BF16), || {
///     autocast::lower_precision(&[&a, &b], |t| t[0].matmul(&t[1]))
/// })
/// .unwrap();
/// // 1 + 2^-8 is exact in f32 but rounds to 1 in bf16
/// assert_eq!(y.to_vec::<f32>().unwrap(), vec![1.0]);
/// ```
pub fn lower_precision(
    inputs: &[&Tensor],
    op: impl FnOnce(&[Tensor]) -> Result<Tensor>,
) -> Result<Tensor> {
    let Some(format) = format_for(inputs) else {
        let same: Vec<Tensor> = inputs.iter().map(|&t| t.clone()).collect();
        return op(&same);
    };
    let rounded: Vec<Tensor> = inputs
        .iter()
        .map(|t| t.round_to(format))
        .collect::<Result<_>>()?;
    autocast(None, || op(&rounded))?.round_to(format)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;

    #[test]
    fn matmul_under_autocast_rounds_inputs_output_and_gradients() {
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
            let ra = a.detach().round_to(format).unwrap();
            let expect = ra.matmul(&rb).unwrap().round_to(format).unwrap();
            assert_eq!(y.to_vec::<f32>().unwrap(), expect.to_vec::<f32>().unwrap());
            y.mul(&w).unwrap().sum_all().unwrap().backward().unwrap();
            // dL/da = round(round(w) @ round(b)^T): the output's gradient is rounded too
            let g = w
                .round_to(format)
                .unwrap()
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
