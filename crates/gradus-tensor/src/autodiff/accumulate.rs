//! Summing the gradient contributions that reach one tensor during a backward pass.
//!
//! With `create_graph` every sum is a recorded `add` (the gradients are differentiated again).
//! Without it the engine owns its running totals: a contribution is added into the total in place
//! when no other handle can see it, and the gradient of a slice (`narrow`) goes straight into its
//! region of the total instead of being zero-padded to the full size and then added. Splitting a
//! `[batch, 4 * hidden]` gate tensor or a `[seq, batch, features]` sequence into pieces then costs
//! one buffer for the whole, not one full-size buffer per piece.

use crate::{Result, Tensor, TensorId};
use std::collections::HashMap;
use std::sync::Arc;

/// True when `t` is an untracked, dense buffer that no other handle or view can observe.
fn exclusive(t: &Tensor) -> bool {
    Arc::strong_count(&t.0) == 1
        && Arc::strong_count(&t.0.storage) == 1
        && t.0.node.is_none()
        && t.is_contiguous()
        && t.0.layout.offset == 0
        && t.storage().len() == t.numel()
}

/// `dst[.., start..start + len, ..] += g` along `axis` (`dst` exclusive, same dtype; `g` has
/// `dst`'s shape except `len` on `axis`).
fn add_into_region(dst: &Tensor, g: &Tensor, axis: usize, start: usize) -> Result<()> {
    // `dst` is exclusive, so `g` cannot share its storage: one read and one write lock
    let src = g.storage();
    dst.storage_mut()
        .narrow_add_assign(dst.shape(), (&src, g.layout()), axis, start)
}

/// Adds contribution `g` to the total gradient of tensor `id`.
pub(super) fn add(
    totals: &mut HashMap<TensorId, Tensor>,
    id: TensorId,
    g: Tensor,
    in_place: bool,
) -> Result<()> {
    let total = match totals.remove(&id) {
        Some(previous)
            if in_place
                && previous.rank() > 0
                && previous.dtype() == g.dtype()
                && previous.shape() == g.shape()
                && exclusive(&previous) =>
        {
            add_into_region(&previous, &g, 0, 0)?;
            previous
        }
        Some(previous) => previous.add(&g)?,
        None => g,
    };
    totals.insert(id, total);
    Ok(())
}

/// Adds `g`, the gradient of `input.narrow(axis, start, g.shape()[axis])`, into the matching
/// region of `input`'s total gradient (not for `create_graph`: the sum is not recorded).
pub(super) fn add_slice(
    totals: &mut HashMap<TensorId, Tensor>,
    input: &Tensor,
    g: &Tensor,
    axis: usize,
    start: usize,
) -> Result<()> {
    let total = match totals.remove(&input.id()) {
        Some(previous) if previous.dtype() == g.dtype() && exclusive(&previous) => previous,
        Some(previous) => {
            let copy = previous.storage().copy(previous.layout())?;
            Tensor::from_storage(copy, input.shape())
        }
        None => Tensor::zeros_on(input.shape(), g.dtype(), g.device()),
    };
    add_into_region(&total, g, axis, start)?;
    totals.insert(input.id(), total);
    Ok(())
}
