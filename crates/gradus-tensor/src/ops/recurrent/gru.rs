//! A whole GRU layer over a sequence as one op (PyTorch's equations and gate order r, z, n).
//!
//! The per-block design is described in the parent module. The fused forward kernel computes
//! the three gates and the new hidden state from the step's two projections; the backward
//! kernel turns the hidden state's gradient into the gradients of both projections, which give
//! `dh_{t-1}` (one product), `dW_hh` (one product per block) and `db_hh` (a sum).

use super::{row_major, Dims};
use crate::autodiff::{self, BackwardOp, Ctx};
use crate::backend::cpu::kernels::elementwise::zeros;
use crate::backend::cpu::kernels::gemm::{gemm_into, MatView};
use crate::backend::cpu::kernels::math::GateMath;
use crate::backend::cpu::kernels::{with_widest_simd, SimdKernel};
use crate::dtype::with_dtype;
use crate::{Result, Tensor, TensorError};
use rayon::prelude::*;

/// What the backward pass needs beyond the inputs and the output.
struct GruOp<T> {
    dims: Dims,
    /// The gates `r, z, n` of every step, `[batch, steps, 3 * hidden]`.
    gates: Vec<T>,
    /// The `n` part of `h_{t-1} W_hh^T + b_hh` of every step, `[batch, steps, hidden]`.
    hw_n: Vec<T>,
}

impl<T: GateMath> BackwardOp for GruOp<T> {
    fn name(&self) -> &'static str {
        "gru_sequence"
    }

    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let [xw, w_hh, b_hh, h0] = [0, 1, 2, 3].map(|i| ctx.input(i));
        if autodiff::is_grad_enabled() {
            // create_graph: differentiate the same function built from primitive ops
            let out = composed(xw, w_hh, b_hh, h0)?;
            return autodiff::vjp(&out, ctx.inputs, g, true);
        }
        // the small operand is copied so that no storage is locked twice
        let h0v = h0.contiguous_vec::<T>();
        let (g, out, w) = (
            g.elements::<T>(),
            ctx.output().elements::<T>(),
            w_hh.elements::<T>(),
        );
        let saved = Saved {
            out: &out,
            gates: &self.gates,
            hw_n: &self.hw_n,
        };
        let grads = backward(self.dims, &g, &saved, &w, &h0v);
        let wanted =
            |t: &Tensor, v: Vec<T>| t.requires_grad().then(|| Tensor::from_data(v, t.shape()));
        Ok(vec![
            wanted(xw, grads.xw),
            wanted(w_hh, grads.w_hh),
            wanted(b_hh, grads.b_hh),
            wanted(h0, grads.h0),
        ])
    }
}

impl Tensor {
    /// Runs a GRU layer over a whole sequence. `self` is the input projection of every step,
    /// `x W_ih^T + b_ih`, `[batch, steps, 3 * hidden]`; `w_hh` is `[3 * hidden, hidden]` and
    /// `b_hh` `[3 * hidden]` (kept apart from `b_ih`: it sits inside `r * (...)`); `h0` is the
    /// initial state `[batch, hidden]`. Returns the hidden state of every step,
    /// `[batch, steps, hidden]`:
    ///
    /// `r = s(xw_r + hw_r)`, `z = s(xw_z + hw_z)`, `n = tanh(xw_n + r hw_n)`,
    /// `h_t = (1 - z) n + z h_{t-1}` with `xw = xw_t` and `hw = h_{t-1} W_hh^T + b_hh`.
    ///
    /// # Errors
    /// On shapes other than the above (or no steps), or mixed dtypes.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// // zero projections: r = z = 1/2, n = 0, so h_t = h_{t-1} / 2
    /// let xw = Tensor::zeros(&[1, 2, 3], DType::F64);
    /// let (w, b) = (Tensor::zeros(&[3, 1], DType::F64), Tensor::zeros(&[3], DType::F64));
    /// let h = xw.gru_sequence(&w, &b, &Tensor::ones(&[1, 1], DType::F64)).unwrap();
    /// assert_eq!(h.to_vec_f64(), vec![0.5, 0.25]);
    /// ```
    pub fn gru_sequence(&self, w_hh: &Tensor, b_hh: &Tensor, h0: &Tensor) -> Result<Tensor> {
        let d = check_shapes(self, w_hh, b_hh, h0)?;
        let out_shape = [d.batch, d.steps, d.hidden];
        Ok(with_dtype!(self.dtype(), T => {
            // h W_hh^T runs fastest with W_hh^T stored row-major: transpose it once per call.
            // The small operands are copied so that only one storage lock is held at a time.
            let w_hh_t = w_hh.t()?.contiguous_vec::<T>();
            let (b_hh_v, h0v) = (b_hh.contiguous_vec::<T>(), h0.contiguous_vec::<T>());
            let xw = self.elements::<T>();
            let f = forward(d, &xw, &w_hh_t, &b_hh_v, &h0v);
            let op = GruOp { dims: d, gates: f.gates, hw_n: f.hw_n };
            Tensor::from_op_data(f.out, &out_shape, op, &[self, w_hh, b_hh, h0])
        }))
    }
}

fn check_shapes(xw: &Tensor, w_hh: &Tensor, b_hh: &Tensor, h0: &Tensor) -> Result<Dims> {
    for t in [w_hh, b_hh, h0] {
        xw.check_same("gru_sequence", t)?;
    }
    let bad = |what: &str, t: &Tensor| TensorError::InvalidShape {
        op: "gru_sequence",
        shape: t.shape().to_vec(),
        detail: what.to_string(),
    };
    if xw.rank() != 3 || xw.shape()[1] == 0 || xw.shape()[2] == 0 || xw.shape()[2] % 3 != 0 {
        return Err(bad("xw must be [batch, steps (> 0), 3 * hidden (> 0)]", xw));
    }
    let d = Dims {
        batch: xw.shape()[0],
        steps: xw.shape()[1],
        hidden: xw.shape()[2] / 3,
    };
    let g3 = 3 * d.hidden;
    if w_hh.shape() != [g3, d.hidden] {
        return Err(bad(&format!("w_hh must be [{g3}, {}]", d.hidden), w_hh));
    }
    if b_hh.shape() != [g3] {
        return Err(bad(&format!("b_hh must be [{g3}]"), b_hh));
    }
    if h0.shape() != [d.batch, d.hidden] {
        return Err(bad(&format!("h0 must be [{}, {}]", d.batch, d.hidden), h0));
    }
    Ok(d)
}

/// Forward results: the output `[batch, steps, hidden]` and what backward keeps.
struct Forward<T> {
    out: Vec<T>,
    gates: Vec<T>,
    hw_n: Vec<T>,
}

/// The forward pass; `w_hh_t` is `W_hh^T`, `[hidden, 3 * hidden]` row-major.
fn forward<T: GateMath>(d: Dims, xw: &[T], w_hh_t: &[T], b_hh: &[T], h0: &[T]) -> Forward<T> {
    let (seq_h, seq_g) = (d.steps * d.hidden, d.steps * 3 * d.hidden);
    let mut out = zeros::<T>(d.batch * seq_h);
    let mut gates = zeros::<T>(d.batch * seq_g);
    let mut hw_n = zeros::<T>(d.batch * seq_h);
    let rows = d.block_rows();
    out.par_chunks_mut(rows * seq_h)
        .zip(gates.par_chunks_mut(rows * seq_g))
        .zip(hw_n.par_chunks_mut(rows * seq_h))
        .zip(xw.par_chunks(rows * seq_g))
        .zip(h0.par_chunks(rows * d.hidden))
        .for_each(|((((h, g), hw_n), xw), h0)| {
            let block = Block { h, gates: g, hw_n };
            let d = d.with_batch(h0.len() / d.hidden);
            forward_block(d, block, (xw, w_hh_t, b_hh, h0));
        });
    Forward { out, gates, hw_n }
}

/// The forward's per-row results for a block of batch rows, each batch-first.
struct Block<'a, T> {
    h: &'a mut [T],
    gates: &'a mut [T],
    hw_n: &'a mut [T],
}

/// Runs a block of batch rows through every step.
fn forward_block<T: GateMath>(
    d: Dims,
    out: Block<'_, T>,
    (xw, w_hh_t, b_hh, h0): (&[T], &[T], &[T], &[T]),
) {
    let (h, g3) = (d.hidden, 3 * d.hidden);
    let (seq_h, seq_g) = (d.steps * h, d.steps * g3);
    for t in 0..d.steps {
        let h_prev = match t {
            0 => (h0, row_major(h)),
            _ => (&*out.h, d.step_view(t - 1, h)),
        };
        // h_{t-1} W_hh^T goes into the gates' slot of this step; the kernel replaces it
        let hw = (&mut *out.gates, d.step_view(t, g3));
        gemm_into((d.batch, g3, h), h_prev, (w_hh_t, row_major(g3)), hw, false);
        for r in 0..d.batch {
            let (before, now) = out.h[r * seq_h..][..seq_h].split_at_mut(t * h);
            let h_prev = match t {
                0 => &h0[r * h..][..h],
                _ => &before[(t - 1) * h..],
            };
            let (row, row_g) = (r * seq_h + t * h, r * seq_g + t * g3);
            with_widest_simd(CellForward {
                xw: &xw[row_g..][..g3],
                b_hh,
                gates: &mut out.gates[row_g..][..g3],
                h_prev,
                hw_n: &mut out.hw_n[row..][..h],
                h: &mut now[..h],
            });
        }
    }
}

/// One step of one batch row: `gates` holds `h_{t-1} W_hh^T` on entry and `r, z, n` on exit.
struct CellForward<'a, T> {
    xw: &'a [T],
    b_hh: &'a [T],
    gates: &'a mut [T],
    h_prev: &'a [T],
    hw_n: &'a mut [T],
    h: &'a mut [T],
}

impl<T: GateMath> SimdKernel for CellForward<'_, T> {
    #[inline(always)]
    fn run(self) {
        let n = self.h.len();
        let (gr, rest) = self.gates.split_at_mut(n);
        let (gz, gn) = rest.split_at_mut(n);
        let (xw, b) = (self.xw, self.b_hh);
        let (xr, xz, xn) = (&xw[..n], &xw[n..2 * n], &xw[2 * n..3 * n]);
        let (br, bz, bn) = (&b[..n], &b[n..2 * n], &b[2 * n..3 * n]);
        let (gn, h_prev) = (&mut gn[..n], &self.h_prev[..n]);
        let (hw_n, h) = (&mut self.hw_n[..n], &mut self.h[..n]);
        for j in 0..n {
            let r = (xr[j] + (gr[j] + br[j])).sigmoid();
            let z = (xz[j] + (gz[j] + bz[j])).sigmoid();
            let hn = gn[j] + bn[j];
            let nj = (xn[j] + r * hn).tanh_gate();
            (gr[j], gz[j], gn[j], hw_n[j]) = (r, z, nj, hn);
            // (1 - z) n + z h = n + z (h - n)
            h[j] = nj + z * (h_prev[j] - nj);
        }
    }
}

/// The forward's results that backward reads (all batch-first).
struct Saved<'a, T> {
    out: &'a [T],
    gates: &'a [T],
    hw_n: &'a [T],
}

/// Gradients of every input.
struct Grads<T> {
    xw: Vec<T>,
    w_hh: Vec<T>,
    b_hh: Vec<T>,
    h0: Vec<T>,
}

/// Backpropagation through time; `g` is the gradient of the output.
fn backward<T: GateMath>(d: Dims, g: &[T], saved: &Saved<'_, T>, w_hh: &[T], h0: &[T]) -> Grads<T> {
    let (h, g3) = (d.hidden, 3 * d.hidden);
    let (seq_h, seq_g) = (d.steps * h, d.steps * g3);
    let rows = d.block_rows();
    let mut dxw = zeros::<T>(d.batch * seq_g);
    // what step t passes back to step t - 1, and finally to h0
    let mut dh = vec![T::zero(); d.batch * h];
    let shares: Vec<(Vec<T>, Vec<T>)> = dxw
        .par_chunks_mut(rows * seq_g)
        .zip(dh.par_chunks_mut(rows * h))
        .zip(g.par_chunks(rows * seq_h))
        .zip(saved.gates.par_chunks(rows * seq_g))
        .zip(saved.hw_n.par_chunks(rows * seq_h))
        .zip(saved.out.par_chunks(rows * seq_h))
        .zip(h0.par_chunks(rows * h))
        .map(|((((((dxw, dh), g_h), gates), hw_n), h_all), h0)| {
            let d = d.with_batch(h0.len() / h);
            let saved = BlockSaved {
                g_h,
                gates,
                hw_n,
                h_all,
                h0,
            };
            backward_block(d, &saved, w_hh, (dxw, dh))
        })
        .collect();
    // the blocks' shares of dW_hh and db_hh, added in block order
    let mut shares = shares.into_iter();
    let (mut dw, mut db) = shares
        .next()
        .unwrap_or_else(|| (vec![T::zero(); g3 * h], vec![T::zero(); g3]));
    for (share_w, share_b) in shares {
        dw.iter_mut().zip(&share_w).for_each(|(a, &b)| *a = *a + b);
        db.iter_mut().zip(&share_b).for_each(|(a, &b)| *a = *a + b);
    }
    Grads {
        xw: dxw,
        w_hh: dw,
        b_hh: db,
        h0: dh,
    }
}

/// What backward reads for a block of batch rows.
struct BlockSaved<'a, T> {
    g_h: &'a [T],
    gates: &'a [T],
    hw_n: &'a [T],
    h_all: &'a [T],
    h0: &'a [T],
}

/// Runs a block of batch rows back through every step, writing the gradient of `xw` into `dxw`
/// and leaving the gradient of `h0` in `dh`; returns the block's shares of `dW_hh` and `db_hh`.
fn backward_block<T: GateMath>(
    d: Dims,
    s: &BlockSaved<'_, T>,
    w_hh: &[T],
    (dxw, dh): (&mut [T], &mut [T]),
) -> (Vec<T>, Vec<T>) {
    let (h, g3) = (d.hidden, 3 * d.hidden);
    let (seq_h, seq_g) = (d.steps * h, d.steps * g3);
    // the gradient of h_{t-1} W_hh^T + b_hh of every step
    let mut dhw = zeros::<T>(d.batch * seq_g);
    for t in (0..d.steps).rev() {
        for r in 0..d.batch {
            let (row, row_g) = (r * seq_h + t * h, r * seq_g + t * g3);
            let h_prev = match t {
                0 => &s.h0[r * h..][..h],
                _ => &s.h_all[row - h..][..h],
            };
            with_widest_simd(CellBackward {
                g_h: &s.g_h[row..][..h],
                gates: &s.gates[row_g..][..g3],
                hw_n: &s.hw_n[row..][..h],
                h_prev,
                dh: &mut dh[r * h..][..h],
                dxw: &mut dxw[row_g..][..g3],
                dhw: &mut dhw[row_g..][..g3],
            });
        }
        // dh_{t-1} = dh_t z + dhw_t W_hh (the first term is already in dh)
        let dhw_t = (&dhw[..], d.step_view(t, g3));
        gemm_into(
            (d.batch, h, g3),
            dhw_t,
            (w_hh, row_major(h)),
            (dh, row_major(h)),
            true,
        );
    }
    // dW_hh = sum_t dhw_t^T h_{t-1}: one product over all steps of the block
    let mut h_prev = vec![T::zero(); d.batch * seq_h];
    for (r, hp) in h_prev.chunks_mut(seq_h).enumerate() {
        hp[..h].copy_from_slice(&s.h0[r * h..][..h]);
        hp[h..].copy_from_slice(&s.h_all[r * seq_h..][..seq_h - h]);
    }
    let mut dw = vec![T::zero(); g3 * h];
    let dhw_all_t = MatView {
        offset: 0,
        rs: 1,
        cs: g3,
    };
    gemm_into(
        (g3, h, d.batch * d.steps),
        (&dhw[..], dhw_all_t),
        (&h_prev[..], row_major(h)),
        (&mut dw, row_major(h)),
        false,
    );
    // db_hh = the sum of dhw over the block's rows and steps
    let mut db = vec![T::zero(); g3];
    for step in dhw.chunks(g3) {
        db.iter_mut().zip(step).for_each(|(a, &b)| *a = *a + b);
    }
    (dw, db)
}

/// One step of one batch row backward. `g_h` is the output's gradient at this step. On entry
/// `dh` holds what step t + 1 passed back; on exit it holds the direct part `dh_t z` of the
/// gradient of `h_{t-1}` (the product `dhw_t W_hh` is added afterwards).
struct CellBackward<'a, T> {
    g_h: &'a [T],
    gates: &'a [T],
    hw_n: &'a [T],
    h_prev: &'a [T],
    dh: &'a mut [T],
    dxw: &'a mut [T],
    dhw: &'a mut [T],
}

impl<T: GateMath> SimdKernel for CellBackward<'_, T> {
    #[inline(always)]
    fn run(self) {
        let n = self.dh.len();
        let one = T::one();
        let gates = self.gates;
        let (r, z, nn) = (&gates[..n], &gates[n..2 * n], &gates[2 * n..3 * n]);
        let (dxr, rest) = self.dxw.split_at_mut(n);
        let (dxz, dxn) = rest.split_at_mut(n);
        let (dhr, rest) = self.dhw.split_at_mut(n);
        let (dhz, dhn) = rest.split_at_mut(n);
        let (dxn, dhn) = (&mut dxn[..n], &mut dhn[..n]);
        let (g_h, hw_n, h_prev) = (&self.g_h[..n], &self.hw_n[..n], &self.h_prev[..n]);
        let dh = &mut self.dh[..n];
        for j in 0..n {
            let dh_j = g_h[j] + dh[j];
            let (rj, zj, nj) = (r[j], z[j], nn[j]);
            let da_n = dh_j * (one - zj) * (one - nj * nj);
            let da_r = da_n * hw_n[j] * rj * (one - rj);
            let da_z = dh_j * (h_prev[j] - nj) * zj * (one - zj);
            (dxr[j], dxz[j], dxn[j]) = (da_r, da_z, da_n);
            (dhr[j], dhz[j], dhn[j]) = (da_r, da_z, da_n * rj);
            dh[j] = dh_j * zj;
        }
    }
}

/// The same function from primitive ops, `[batch, steps, hidden]` (for `create_graph`).
fn composed(xw: &Tensor, w_hh: &Tensor, b_hh: &Tensor, h0: &Tensor) -> Result<Tensor> {
    let (b, steps, g3) = (xw.shape()[0], xw.shape()[1], xw.shape()[2]);
    let h = g3 / 3;
    let w_hh_t = w_hh.t()?;
    let mut h_t = h0.clone();
    let mut hs = Vec::with_capacity(steps);
    for t in 0..steps {
        let x = xw.narrow(1, t, 1)?.reshape(&[b, g3])?;
        let hw = h_t.matmul(&w_hh_t)?.add(b_hh)?;
        let gate = |k: usize| -> Result<(Tensor, Tensor)> {
            Ok((x.narrow(1, k * h, h)?, hw.narrow(1, k * h, h)?))
        };
        let ((xr, hr), (xz, hz), (xn, hn)) = (gate(0)?, gate(1)?, gate(2)?);
        let r = xr.add(&hr)?.sigmoid()?;
        let z = xz.add(&hz)?.sigmoid()?;
        let n = xn.add(&r.mul(&hn)?)?.tanh()?;
        h_t = n.add(&z.mul(&h_t.sub(&n)?)?)?;
        hs.push(h_t.clone());
    }
    Tensor::stack(&hs.iter().collect::<Vec<_>>(), 1)
}

#[cfg(test)]
mod tests {
    use super::composed;
    use crate::{DType, Tensor};

    fn inputs(dtype: DType) -> [Tensor; 4] {
        let (b, t, h) = (3, 4, 5);
        [
            Tensor::randn(&[b, t, 3 * h], dtype, 1),
            Tensor::randn(&[3 * h, h], dtype, 2)
                .mul_scalar(0.5)
                .unwrap(),
            Tensor::randn(&[3 * h], dtype, 3),
            Tensor::randn(&[b, h], dtype, 4),
        ]
        .map(|x| x.requires_grad_(true))
    }

    fn assert_close(a: &Tensor, b: &Tensor, tol: f64) {
        assert_eq!(a.shape(), b.shape());
        for (x, y) in a.to_vec_f64().iter().zip(b.to_vec_f64()) {
            assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn gru_shapes_are_checked_and_named() {
        let [xw, w, b, h0] = inputs(DType::F64);
        let err = |r: crate::Result<Tensor>| r.err().unwrap().to_string();
        assert!(err(xw.gru_sequence(&w.t().unwrap(), &b, &h0)).contains("w_hh must be [15, 5]"));
        let short_b = b.narrow(0, 0, 5).unwrap();
        assert!(err(xw.gru_sequence(&w, &short_b, &h0)).contains("b_hh must be [15]"));
        assert!(err(xw.gru_sequence(&w, &b, &h0.narrow(0, 0, 2).unwrap()))
            .contains("h0 must be [3, 5]"));
        let no_steps = Tensor::zeros(&[3, 0, 15], DType::F64);
        assert!(err(no_steps.gru_sequence(&w, &b, &h0)).contains("steps (> 0)"));
        let not_three = Tensor::zeros(&[3, 4, 16], DType::F64);
        assert!(err(not_three.gru_sequence(&w, &b, &h0)).contains("3 * hidden"));
        let f32_w = Tensor::zeros(&[15, 5], DType::F32);
        assert!(xw.gru_sequence(&f32_w, &b, &h0).is_err());
    }

    #[test]
    fn fused_gru_forward_and_backward_match_the_composed_ops() {
        for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 2e-6)] {
            let x = inputs(dtype);
            let seed = Tensor::randn(&[3, 4, 5], dtype, 9);
            let a = x[0].gru_sequence(&x[1], &x[2], &x[3]).unwrap();
            let b = composed(&x[0], &x[1], &x[2], &x[3]).unwrap();
            assert_close(&a, &b, tol);
            let ga = crate::autodiff::grad(&a, &x.each_ref(), Some(&seed), false).unwrap();
            let gb = crate::autodiff::grad(&b, &x.each_ref(), Some(&seed), false).unwrap();
            for (ga, gb) in ga.iter().zip(&gb) {
                assert_close(ga, gb, 10.0 * tol);
            }
        }
    }
}
