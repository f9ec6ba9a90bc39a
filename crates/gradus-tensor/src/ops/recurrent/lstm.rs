//! A whole LSTM layer over a sequence as one op (PyTorch's equations and gate order i, f, g, o).
//!
//! The per-block design is described in the parent module. The fused kernel computes the gates
//! and the cell. Written as separate ops, the same layer allocates and walks a dozen tensors per
//! step (4.4x slower).

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
struct LstmOp<T> {
    dims: Dims,
    /// The activated gates `i, f, g, o` of every step, `[batch, steps, 4 * hidden]`.
    gates: Vec<T>,
    /// `tanh(c)` of every step, `[batch, steps, hidden]`.
    tanh_c: Vec<T>,
}

impl<T: GateMath> BackwardOp for LstmOp<T> {
    fn name(&self) -> &'static str {
        "lstm_sequence"
    }

    fn backward(&self, ctx: &Ctx<'_>, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let [xw, w_hh, h0, c0] = [0, 1, 2, 3].map(|i| ctx.input(i));
        if autodiff::is_grad_enabled() {
            // create_graph: differentiate the same function built from primitive ops
            let out = composed(xw, w_hh, h0, c0)?;
            return autodiff::vjp(&out, ctx.inputs, g, true);
        }
        // the small operands are copied so that no storage is locked twice
        let (h0v, c0v) = (h0.contiguous_vec::<T>(), c0.contiguous_vec::<T>());
        let (g, out, w) = (
            g.elements::<T>(),
            ctx.output().elements::<T>(),
            w_hh.elements::<T>(),
        );
        let saved = Saved {
            out: &out,
            gates: &self.gates,
            tanh_c: &self.tanh_c,
        };
        let grads = backward(self.dims, &g, &saved, &w, &h0v, &c0v);
        let wanted =
            |t: &Tensor, v: Vec<T>| t.requires_grad().then(|| Tensor::from_data(v, t.shape()));
        Ok(vec![
            wanted(xw, grads.xw),
            wanted(w_hh, grads.w_hh),
            wanted(h0, grads.h0),
            wanted(c0, grads.c0),
        ])
    }
}

impl Tensor {
    /// Runs an LSTM layer over a whole sequence. `self` is the input projection of every step
    /// plus both biases, `x W_ih^T + b_ih + b_hh`, `[batch, steps, 4 * hidden]`; `w_hh` is
    /// `[4 * hidden, hidden]`; `h0` and `c0` are the initial states `[batch, hidden]`. Returns the
    /// hidden and cell states of every step, each `[batch, steps, hidden]`:
    ///
    /// `i, f, g, o = s(z_i), s(z_f), tanh(z_g), s(z_o)` with `z = xw_t + h_{t-1} W_hh^T`,
    /// `c_t = f c_{t-1} + i g`, `h_t = o tanh(c_t)`.
    ///
    /// # Errors
    /// On shapes other than the above (or no steps), or mixed dtypes.
    ///
    /// ```
    /// use gradus_tensor::{DType, Tensor};
    /// // zero gates: i = f = o = 1/2, g = 0, so c_t = c_{t-1} / 2
    /// let xw = Tensor::zeros(&[1, 2, 4], DType::F64);
    /// let (w, h0, c0) = (Tensor::zeros(&[4, 1], DType::F64), Tensor::zeros(&[1, 1], DType::F64), Tensor::ones(&[1, 1], DType::F64));
    /// let (_h, c) = xw.lstm_sequence(&w, &h0, &c0).unwrap();
    /// assert_eq!(c.to_vec_f64(), vec![0.5, 0.25]);
    /// ```
    pub fn lstm_sequence(
        &self,
        w_hh: &Tensor,
        h0: &Tensor,
        c0: &Tensor,
    ) -> Result<(Tensor, Tensor)> {
        let d = check_shapes(self, w_hh, h0, c0)?;
        let out_shape = [2, d.batch, d.steps, d.hidden];
        let packed = with_dtype!(self.dtype(), T => {
            // h W_hh^T runs fastest with W_hh^T stored row-major: transpose it once per call.
            // The small operands are copied so that only one storage lock is held at a time.
            let w_hh_t = w_hh.t()?.contiguous_vec::<T>();
            let (h0v, c0v) = (h0.contiguous_vec::<T>(), c0.contiguous_vec::<T>());
            let xw = self.elements::<T>();
            let f = forward(d, &xw, &w_hh_t, &h0v, &c0v);
            let op = LstmOp { dims: d, gates: f.gates, tanh_c: f.tanh_c };
            Tensor::from_op_data(f.out, &out_shape, op, &[self, w_hh, h0, c0])
        });
        // both halves are contiguous views of the packed [2, batch, steps, hidden] output
        let h = packed.narrow(0, 0, 1)?.squeeze(0)?;
        let c = packed.narrow(0, 1, 1)?.squeeze(0)?;
        Ok((h, c))
    }
}

fn check_shapes(xw: &Tensor, w_hh: &Tensor, h0: &Tensor, c0: &Tensor) -> Result<Dims> {
    for t in [w_hh, h0, c0] {
        xw.check_same("lstm_sequence", t)?;
    }
    let bad = |what: &str, t: &Tensor| TensorError::InvalidShape {
        op: "lstm_sequence",
        shape: t.shape().to_vec(),
        detail: what.to_string(),
    };
    if xw.rank() != 3 || xw.shape()[1] == 0 || xw.shape()[2] == 0 || xw.shape()[2] % 4 != 0 {
        return Err(bad("xw must be [batch, steps (> 0), 4 * hidden (> 0)]", xw));
    }
    let d = Dims {
        batch: xw.shape()[0],
        steps: xw.shape()[1],
        hidden: xw.shape()[2] / 4,
    };
    if w_hh.shape() != [4 * d.hidden, d.hidden] {
        return Err(bad(
            &format!("w_hh must be [{}, {}]", 4 * d.hidden, d.hidden),
            w_hh,
        ));
    }
    for (name, t) in [("h0", h0), ("c0", c0)] {
        if t.shape() != [d.batch, d.hidden] {
            return Err(bad(
                &format!("{name} must be [{}, {}]", d.batch, d.hidden),
                t,
            ));
        }
    }
    Ok(d)
}

/// Forward results: the packed `[2, batch, steps, hidden]` output (h then c) and what backward
/// keeps.
struct Forward<T> {
    out: Vec<T>,
    gates: Vec<T>,
    tanh_c: Vec<T>,
}

/// The forward pass; `w_hh_t` is `W_hh^T`, `[hidden, 4 * hidden]` row-major.
fn forward<T: GateMath>(d: Dims, xw: &[T], w_hh_t: &[T], h0: &[T], c0: &[T]) -> Forward<T> {
    let (seq_h, seq_g) = (d.steps * d.hidden, d.steps * 4 * d.hidden);
    let mut out = zeros::<T>(2 * d.batch * seq_h);
    let mut gates = zeros::<T>(d.batch * seq_g);
    let mut tanh_c = zeros::<T>(d.batch * seq_h);
    let rows = d.block_rows();
    let (out_h, out_c) = out.split_at_mut(d.batch * seq_h);
    out_h
        .par_chunks_mut(rows * seq_h)
        .zip(out_c.par_chunks_mut(rows * seq_h))
        .zip(gates.par_chunks_mut(rows * seq_g))
        .zip(tanh_c.par_chunks_mut(rows * seq_h))
        .zip(xw.par_chunks(rows * seq_g))
        .zip(h0.par_chunks(rows * d.hidden))
        .zip(c0.par_chunks(rows * d.hidden))
        .for_each(|((((((h, c), z), tc), xw), h0), c0)| {
            let block = Block {
                h,
                c,
                z,
                tanh_c: tc,
            };
            let d = d.with_batch(h0.len() / d.hidden);
            forward_block(d, block, (xw, w_hh_t, h0, c0));
        });
    Forward { out, gates, tanh_c }
}

/// The forward's per-row results for a block of batch rows, each batch-first.
struct Block<'a, T> {
    h: &'a mut [T],
    c: &'a mut [T],
    z: &'a mut [T],
    tanh_c: &'a mut [T],
}

/// Runs a block of batch rows through every step.
fn forward_block<T: GateMath>(
    d: Dims,
    out: Block<'_, T>,
    (xw, w_hh_t, h0, c0): (&[T], &[T], &[T], &[T]),
) {
    let (h, g4) = (d.hidden, 4 * d.hidden);
    let (seq_h, seq_g) = (d.steps * h, d.steps * g4);
    for t in 0..d.steps {
        let h_prev = match t {
            0 => (h0, row_major(h)),
            _ => (&*out.h, d.step_view(t - 1, h)),
        };
        let z = (&mut *out.z, d.step_view(t, g4));
        gemm_into((d.batch, g4, h), h_prev, (w_hh_t, row_major(g4)), z, false);
        for r in 0..d.batch {
            let (before, now) = out.c[r * seq_h..][..seq_h].split_at_mut(t * h);
            let c_prev = match t {
                0 => &c0[r * h..][..h],
                _ => &before[(t - 1) * h..],
            };
            let (row, row_g) = (r * seq_h + t * h, r * seq_g + t * g4);
            with_widest_simd(CellForward {
                xw: &xw[row_g..][..g4],
                z: &mut out.z[row_g..][..g4],
                c_prev,
                c: &mut now[..h],
                tanh_c: &mut out.tanh_c[row..][..h],
                h: &mut out.h[row..][..h],
            });
        }
    }
}

/// One step of one batch row: `z` holds `h W_hh^T` on entry and the activated gates on exit.
struct CellForward<'a, T> {
    xw: &'a [T],
    z: &'a mut [T],
    c_prev: &'a [T],
    c: &'a mut [T],
    tanh_c: &'a mut [T],
    h: &'a mut [T],
}

impl<T: GateMath> SimdKernel for CellForward<'_, T> {
    #[inline(always)]
    fn run(self) {
        let n = self.c.len();
        let (zi, rest) = self.z.split_at_mut(n);
        let (zf, rest) = rest.split_at_mut(n);
        let (zg, zo) = rest.split_at_mut(n);
        let xw = self.xw;
        let (xi, xf, xg, xo) = (
            &xw[..n],
            &xw[n..2 * n],
            &xw[2 * n..3 * n],
            &xw[3 * n..4 * n],
        );
        let (zo, c_prev, c) = (&mut zo[..n], &self.c_prev[..n], &mut self.c[..n]);
        let (tanh_c, h) = (&mut self.tanh_c[..n], &mut self.h[..n]);
        for j in 0..n {
            let i = (xi[j] + zi[j]).sigmoid();
            let f = (xf[j] + zf[j]).sigmoid();
            let g = (xg[j] + zg[j]).tanh_gate();
            let o = (xo[j] + zo[j]).sigmoid();
            (zi[j], zf[j], zg[j], zo[j]) = (i, f, g, o);
            let cj = f * c_prev[j] + i * g;
            let tc = cj.tanh_gate();
            (c[j], tanh_c[j], h[j]) = (cj, tc, o * tc);
        }
    }
}

/// The forward's results that backward reads (all batch-first).
struct Saved<'a, T> {
    out: &'a [T],
    gates: &'a [T],
    tanh_c: &'a [T],
}

/// Gradients of every input.
struct Grads<T> {
    xw: Vec<T>,
    w_hh: Vec<T>,
    h0: Vec<T>,
    c0: Vec<T>,
}

/// Backpropagation through time; `g` is the gradient of the packed output.
fn backward<T: GateMath>(
    d: Dims,
    g: &[T],
    saved: &Saved<'_, T>,
    w_hh: &[T],
    h0: &[T],
    c0: &[T],
) -> Grads<T> {
    let (h, g4) = (d.hidden, 4 * d.hidden);
    let (seq_h, seq_g) = (d.steps * h, d.steps * g4);
    let (g_h, g_c) = g.split_at(d.batch * seq_h);
    let (h_all, c_all) = saved.out.split_at(d.batch * seq_h);
    let rows = d.block_rows();
    let mut dz = zeros::<T>(d.batch * seq_g);
    // what step t passes back to step t - 1, and finally to h0 and c0
    let mut dh = vec![T::zero(); d.batch * h];
    let mut dc = vec![T::zero(); d.batch * h];
    let shares: Vec<Vec<T>> = dz
        .par_chunks_mut(rows * seq_g)
        .zip(dh.par_chunks_mut(rows * h))
        .zip(dc.par_chunks_mut(rows * h))
        .zip(g_h.par_chunks(rows * seq_h))
        .zip(g_c.par_chunks(rows * seq_h))
        .zip(saved.gates.par_chunks(rows * seq_g))
        .zip(saved.tanh_c.par_chunks(rows * seq_h))
        .zip(h_all.par_chunks(rows * seq_h))
        .zip(c_all.par_chunks(rows * seq_h))
        .zip(h0.par_chunks(rows * h).zip(c0.par_chunks(rows * h)))
        .map(
            |(((((((((dz, dh), dc), g_h), g_c), gates), tanh_c), h_all), c_all), (h0, c0))| {
                let d = d.with_batch(c0.len() / h);
                let saved = BlockSaved {
                    g_h,
                    g_c,
                    gates,
                    tanh_c,
                    h_all,
                    c_all,
                    h0,
                    c0,
                };
                backward_block(d, &saved, w_hh, (dz, dh, dc))
            },
        )
        .collect();
    // the blocks' shares of dW_hh, added in block order
    let mut shares = shares.into_iter();
    let mut dw = shares.next().unwrap_or_else(|| vec![T::zero(); g4 * h]);
    for share in shares {
        dw.iter_mut().zip(&share).for_each(|(a, &b)| *a = *a + b);
    }
    Grads {
        xw: dz,
        w_hh: dw,
        h0: dh,
        c0: dc,
    }
}

/// What backward reads for a block of batch rows.
struct BlockSaved<'a, T> {
    g_h: &'a [T],
    g_c: &'a [T],
    gates: &'a [T],
    tanh_c: &'a [T],
    h_all: &'a [T],
    c_all: &'a [T],
    h0: &'a [T],
    c0: &'a [T],
}

/// Runs a block of batch rows back through every step, writing the gate gradients `dz` and
/// leaving the gradients of `h0`, `c0` in `dh`, `dc`; returns the block's share of `dW_hh`.
fn backward_block<T: GateMath>(
    d: Dims,
    s: &BlockSaved<'_, T>,
    w_hh: &[T],
    (dz, dh, dc): (&mut [T], &mut [T], &mut [T]),
) -> Vec<T> {
    let (h, g4) = (d.hidden, 4 * d.hidden);
    let (seq_h, seq_g) = (d.steps * h, d.steps * g4);
    for t in (0..d.steps).rev() {
        for r in 0..d.batch {
            let (row, row_g) = (r * seq_h + t * h, r * seq_g + t * g4);
            let c_prev = match t {
                0 => &s.c0[r * h..][..h],
                _ => &s.c_all[row - h..][..h],
            };
            with_widest_simd(CellBackward {
                g_h: &s.g_h[row..][..h],
                g_c: &s.g_c[row..][..h],
                gates: &s.gates[row_g..][..g4],
                tanh_c: &s.tanh_c[row..][..h],
                c_prev,
                dh: &mut dh[r * h..][..h],
                dc: &mut dc[r * h..][..h],
                dz: &mut dz[row_g..][..g4],
            });
        }
        // dh_{t-1} = dz_t W_hh
        let dz_t = (&*dz, d.step_view(t, g4));
        gemm_into(
            (d.batch, h, g4),
            dz_t,
            (w_hh, row_major(h)),
            (dh, row_major(h)),
            false,
        );
    }
    // dW_hh = sum_t dz_t^T h_{t-1}: one product over all steps of the block
    let mut h_prev = vec![T::zero(); d.batch * seq_h];
    for (r, hp) in h_prev.chunks_mut(seq_h).enumerate() {
        hp[..h].copy_from_slice(&s.h0[r * h..][..h]);
        hp[h..].copy_from_slice(&s.h_all[r * seq_h..][..seq_h - h]);
    }
    let mut dw = vec![T::zero(); g4 * h];
    let dz_t = MatView {
        offset: 0,
        rs: 1,
        cs: g4,
    };
    let dims = (g4, h, d.batch * d.steps);
    let (dz, h_prev) = ((&*dz, dz_t), (&h_prev[..], row_major(h)));
    gemm_into(dims, dz, h_prev, (&mut dw, row_major(h)), false);
    dw
}

/// One step of one batch row backward. `g_h`, `g_c` are the output's gradients at this step. On
/// entry `dh`, `dc` hold what step t + 1 passed back; on exit `dc` holds the gradient of `c_{t-1}`
/// (`dh` is then recomputed from `dz` by a product).
struct CellBackward<'a, T> {
    g_h: &'a [T],
    g_c: &'a [T],
    gates: &'a [T],
    tanh_c: &'a [T],
    c_prev: &'a [T],
    dh: &'a mut [T],
    dc: &'a mut [T],
    dz: &'a mut [T],
}

impl<T: GateMath> SimdKernel for CellBackward<'_, T> {
    #[inline(always)]
    fn run(self) {
        let n = self.dh.len();
        let one = T::one();
        let gates = self.gates;
        let (i, f) = (&gates[..n], &gates[n..2 * n]);
        let (g, o) = (&gates[2 * n..3 * n], &gates[3 * n..4 * n]);
        let (dzi, rest) = self.dz.split_at_mut(n);
        let (dzf, rest) = rest.split_at_mut(n);
        let (dzg, dzo) = rest.split_at_mut(n);
        let (g_h, g_c, dh) = (&self.g_h[..n], &self.g_c[..n], &self.dh[..n]);
        let (tanh_c, c_prev) = (&self.tanh_c[..n], &self.c_prev[..n]);
        let (dc, dzo) = (&mut self.dc[..n], &mut dzo[..n]);
        for j in 0..n {
            let dh_j = g_h[j] + dh[j];
            let tc = tanh_c[j];
            let dc_j = g_c[j] + dc[j] + dh_j * o[j] * (one - tc * tc);
            dzo[j] = dh_j * tc * o[j] * (one - o[j]);
            dzi[j] = dc_j * g[j] * i[j] * (one - i[j]);
            dzf[j] = dc_j * c_prev[j] * f[j] * (one - f[j]);
            dzg[j] = dc_j * i[j] * (one - g[j] * g[j]);
            dc[j] = dc_j * f[j];
        }
    }
}

/// The same function from primitive ops, packed `[2, batch, steps, hidden]` (for `create_graph`).
fn composed(xw: &Tensor, w_hh: &Tensor, h0: &Tensor, c0: &Tensor) -> Result<Tensor> {
    let (b, steps, g4) = (xw.shape()[0], xw.shape()[1], xw.shape()[2]);
    let h = g4 / 4;
    let w_hh_t = w_hh.t()?;
    let (mut h_t, mut c_t) = (h0.clone(), c0.clone());
    let (mut hs, mut cs) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
    for t in 0..steps {
        let z = xw
            .narrow(1, t, 1)?
            .reshape(&[b, g4])?
            .add(&h_t.matmul(&w_hh_t)?)?;
        let i = z.narrow(1, 0, h)?.sigmoid()?;
        let f = z.narrow(1, h, h)?.sigmoid()?;
        let g = z.narrow(1, 2 * h, h)?.tanh()?;
        let o = z.narrow(1, 3 * h, h)?.sigmoid()?;
        c_t = f.mul(&c_t)?.add(&i.mul(&g)?)?;
        h_t = o.mul(&c_t.tanh()?)?;
        hs.push(h_t.clone());
        cs.push(c_t.clone());
    }
    let h_all = Tensor::stack(&hs.iter().collect::<Vec<_>>(), 1)?;
    let c_all = Tensor::stack(&cs.iter().collect::<Vec<_>>(), 1)?;
    Tensor::stack(&[&h_all, &c_all], 0)
}

#[cfg(test)]
mod tests {
    use super::composed;
    use crate::{DType, Tensor};

    fn inputs(dtype: DType) -> [Tensor; 4] {
        let (b, t, h) = (3, 4, 5);
        [
            Tensor::randn(&[b, t, 4 * h], dtype, 1),
            Tensor::randn(&[4 * h, h], dtype, 2)
                .mul_scalar(0.5)
                .unwrap(),
            Tensor::randn(&[b, h], dtype, 3),
            Tensor::randn(&[b, h], dtype, 4),
        ]
        .map(|x| x.requires_grad_(true))
    }

    fn fused(x: &[Tensor; 4]) -> Tensor {
        let (h, c) = x[0].lstm_sequence(&x[1], &x[2], &x[3]).unwrap();
        Tensor::stack(&[&h, &c], 0).unwrap()
    }

    fn assert_close(a: &Tensor, b: &Tensor, tol: f64) {
        assert_eq!(a.shape(), b.shape());
        for (x, y) in a.to_vec_f64().iter().zip(b.to_vec_f64()) {
            assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn shapes_are_checked_and_named() {
        let [xw, w, h0, c0] = inputs(DType::F64);
        let err = |r: crate::Result<(Tensor, Tensor)>| r.err().unwrap().to_string();
        assert!(err(xw.lstm_sequence(&w.t().unwrap(), &h0, &c0)).contains("w_hh must be [20, 5]"));
        assert!(err(xw.lstm_sequence(&w, &c0.narrow(0, 0, 2).unwrap(), &c0))
            .contains("h0 must be [3, 5]"));
        let no_steps = Tensor::zeros(&[3, 0, 20], DType::F64);
        assert!(err(no_steps.lstm_sequence(&w, &h0, &c0)).contains("steps (> 0)"));
        let f32_w = Tensor::zeros(&[20, 5], DType::F32);
        assert!(xw.lstm_sequence(&f32_w, &h0, &c0).is_err());
    }

    #[test]
    fn fused_forward_and_backward_match_the_composed_ops() {
        for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 2e-6)] {
            let x = inputs(dtype);
            let seed = Tensor::randn(&[2, 3, 4, 5], dtype, 9);
            let (a, b) = (fused(&x), composed(&x[0], &x[1], &x[2], &x[3]).unwrap());
            assert_close(&a, &b, tol);
            let ga = crate::autodiff::grad(&a, &x.each_ref(), Some(&seed), false).unwrap();
            let gb = crate::autodiff::grad(&b, &x.each_ref(), Some(&seed), false).unwrap();
            for (ga, gb) in ga.iter().zip(&gb) {
                assert_close(ga, gb, 10.0 * tol);
            }
        }
    }
}
