//! Capture of layer inputs and output gradients for curvature optimizers (K-FAC, the exact
//! natural gradient): the seam between layers (`gradus-nn`'s `Linear` and `Conv2d` record) and
//! optimizers (`gradus-optim`'s `Kfac` and `NaturalGradient` read), below both.
//!
//! Off by default: a layer's forward asks [`is_active`] (one thread-local read) and does nothing
//! more. When a curvature optimizer is built it calls [`enable`]; from then on every forward under
//! gradient recording on this thread pushes a [`LayerCapture`]: the layer's inputs as rows and a
//! *probe*, a zero leaf added to the layer's output, so that after `backward` the probe's
//! gradient is the gradient of the loss with respect to the layer's output (the trick of kfac-jax
//! and BackPACK: no retained non-leaf gradients needed). The optimizer [`take`]s the captures at
//! each step.
//!
//! ```
//! use gradus_tensor::{capture, DType, Tensor};
//! capture::enable(true);
//! assert!(capture::is_active());
//! capture::enable(false);
//! assert!(!capture::is_active() && capture::take().is_empty());
//! ```

use crate::{autodiff, Result, Tensor, TensorId};
use std::cell::{Cell, RefCell};

/// At most this many captures are kept between two [`take`]s (the oldest are dropped), so that
/// forwards without optimizer steps (a learning-rate probe, a gradient check) cannot grow memory.
pub const MAX_CAPTURES: usize = 256;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    static CAPTURES: RefCell<Vec<LayerCapture>> = const { RefCell::new(Vec::new()) };
}

/// How the probe's gradient maps to rows `[rows, out]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputLayout {
    /// Output `[.., out]` (Linear): the leading axes are rows.
    Rows,
    /// Output `[n, out, oh, ow]` (Conv2d): one row per sample and spatial position.
    Channels,
}

/// What one forward of a Linear or Conv2d layer leaves for a curvature optimizer.
#[derive(Clone, Debug)]
pub struct LayerCapture {
    /// The layer's weight tensor: how an optimizer finds the layer of a parameter.
    pub weight: TensorId,
    /// The layer's bias tensor, if any.
    pub bias: Option<TensorId>,
    /// Layer inputs as rows `[n * positions, in]` (Linear: the input's leading axes flattened;
    /// Conv2d: the unfolded patches `[n * oh * ow, c * kh * kw]`), detached.
    pub inputs: Tensor,
    /// The zero leaf added to the layer's output; its gradient after `backward` is dL/d(output).
    pub probe: Tensor,
    /// The layout of the probe (and output).
    pub layout: OutputLayout,
    /// Samples in the batch (`n`): rows of `inputs` are `n * positions`.
    pub batch: usize,
}

impl LayerCapture {
    /// dL/d(output) as rows `[n * positions, out]`, matching [`LayerCapture::inputs`]; `None`
    /// before a backward pass reached the probe.
    ///
    /// # Errors
    /// When the probe's gradient cannot be reshaped (never for captures made by the layers).
    pub fn output_grads(&self) -> Result<Option<Tensor>> {
        let Some(g) = self.probe.grad() else {
            return Ok(None);
        };
        let rows = match self.layout {
            OutputLayout::Rows => {
                let out = *g.shape().last().unwrap_or(&1);
                g.reshape(&[g.numel() / out.max(1), out])?
            }
            OutputLayout::Channels => {
                let c = g.shape()[1];
                g.permute(&[0, 2, 3, 1])?
                    .contiguous()?
                    .reshape(&[g.numel() / c.max(1), c])?
            }
        };
        Ok(Some(rows))
    }

    /// Spatial positions per sample (1 for Linear on a 2-D input).
    pub fn positions(&self) -> usize {
        self.inputs.shape()[0] / self.batch.max(1)
    }
}

/// Turns capturing on or off for this thread (off also drops what was captured).
pub fn enable(on: bool) {
    ENABLED.with(|e| e.set(on));
    if !on {
        take();
    }
}

/// Whether a layer's forward should capture now: enabled on this thread and gradients are being
/// recorded (evaluation under `no_grad` captures nothing).
pub fn is_active() -> bool {
    ENABLED.with(Cell::get) && autodiff::is_grad_enabled()
}

/// A zero leaf of `output`'s shape that requires gradients, and `output + probe`: what a layer
/// returns while capturing.
///
/// # Errors
/// When the addition fails (never for a tensor and zeros of its own shape).
pub fn probe(output: &Tensor) -> Result<(Tensor, Tensor)> {
    let probe =
        Tensor::zeros_on(output.shape(), output.dtype(), output.device()).requires_grad_(true);
    let out = output.add(&probe)?;
    Ok((probe, out))
}

/// Stores a capture (dropping the oldest beyond [`MAX_CAPTURES`]).
pub fn record(c: LayerCapture) {
    CAPTURES.with(|v| {
        let mut v = v.borrow_mut();
        if v.len() >= MAX_CAPTURES {
            v.remove(0);
        }
        v.push(c);
    });
}

/// Removes and returns this thread's captures, oldest first.
pub fn take() -> Vec<LayerCapture> {
    CAPTURES.with(|v| std::mem::take(&mut *v.borrow_mut()))
}
