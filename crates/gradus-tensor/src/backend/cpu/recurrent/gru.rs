//! The fused GRU layer on the CPU (PyTorch's equations and gate order r, z, n). The forward
//! kernel computes the three gates and the new hidden state from the step's two projections; the
//! backward kernel turns the hidden state's gradient into the gradients of both projections,
//! which give `dh_{t-1}` (one product), `dW_hh` (one product per block) and `db_hh` (a sum).

use super::{row_major, sum_in_block_order, weight_grad, weight_grad_share, Dims};
use crate::backend::cpu::kernels::elementwise::zeros;
use crate::backend::cpu::kernels::gemm::gemm_into;
use crate::backend::cpu::kernels::math::GateMath;
use crate::backend::cpu::kernels::{with_widest_simd, SimdKernel};
use crate::backend::cpu::simd::{with_widest_simd_fma, FmaKernel};
use crate::backend::cpu::CpuStorage;
use crate::backend::BackendStorage;
use crate::dtype::with_dtype;
use crate::layout::Layout;
use rayon::prelude::*;

/// The forward pass of `Tensor::gru_sequence`: the output `[batch, steps, hidden]`, the gates
/// and the `n` part of `h W_hh^T + b_hh`.
pub(crate) fn forward(
    d: Dims,
    (xw, xw_layout): (&CpuStorage, &Layout),
    [(w_hh, w_layout), (b_hh, b_layout), (h0, h0_layout)]: [(&CpuStorage, &Layout); 3],
) -> [CpuStorage; 3] {
    with_dtype!(xw.dtype(), T => {
        // h W_hh^T runs fastest with W_hh^T stored row-major: transpose it once per call
        let w_hh_t = w_hh.view::<T>(&w_layout.permute(&[1, 0]));
        let (b_hh, h0) = (b_hh.view::<T>(b_layout), h0.view::<T>(h0_layout));
        let f = run_forward(d, &xw.view::<T>(xw_layout), &w_hh_t, &b_hh, &h0);
        [f.out, f.gates, f.hw_n].map(CpuStorage::from_vec::<T>)
    })
}

/// Backpropagation through time: the gradients of `xw`, `w_hh`, `b_hh`, `h0` given the gradient
/// `g` of the output.
pub(crate) fn backward(
    d: Dims,
    (g, g_layout): (&CpuStorage, &Layout),
    (out, out_layout): (&CpuStorage, &Layout),
    [gates, hw_n]: [&CpuStorage; 2],
    [(w_hh, w_layout), _, (h0, h0_layout)]: [(&CpuStorage, &Layout); 3],
) -> [CpuStorage; 4] {
    with_dtype!(g.dtype(), T => {
        let (g, out) = (g.view::<T>(g_layout), out.view::<T>(out_layout));
        let (w, h0) = (w_hh.view::<T>(w_layout), h0.view::<T>(h0_layout));
        let saved = Saved {
            out: &out,
            gates: gates.slice::<T>(),
            hw_n: hw_n.slice::<T>(),
        };
        let grads = run_backward(d, &g, &saved, &w, &h0);
        [grads.xw, grads.w_hh, grads.b_hh, grads.h0].map(CpuStorage::from_vec::<T>)
    })
}

/// Forward results: the output `[batch, steps, hidden]` and what backward keeps.
struct Forward<T> {
    out: Vec<T>,
    gates: Vec<T>,
    hw_n: Vec<T>,
}

/// The forward pass; `w_hh_t` is `W_hh^T`, `[hidden, 3 * hidden]` row-major.
fn run_forward<T: GateMath>(d: Dims, xw: &[T], w_hh_t: &[T], b_hh: &[T], h0: &[T]) -> Forward<T> {
    let (seq_h, seq_g) = (d.steps * d.hidden, d.steps * 3 * d.hidden);
    let mut out = zeros::<T>(d.batch * seq_h);
    let mut gates = zeros::<T>(d.batch * seq_g);
    let mut hw_n = zeros::<T>(d.batch * seq_h);
    let rows = d.block_rows();
    crate::threads::warm();
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
            with_widest_simd_fma(CellForward {
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

impl<T: GateMath> FmaKernel for CellForward<'_, T> {
    #[inline(always)]
    fn run<const FMA: bool>(self) {
        let n = self.h.len();
        let (gr, rest) = self.gates.split_at_mut(n);
        let (gz, gn) = rest.split_at_mut(n);
        let (xw, b) = (self.xw, self.b_hh);
        let (xr, xz, xn) = (&xw[..n], &xw[n..2 * n], &xw[2 * n..3 * n]);
        let (br, bz, bn) = (&b[..n], &b[n..2 * n], &b[2 * n..3 * n]);
        let (gn, h_prev) = (&mut gn[..n], &self.h_prev[..n]);
        let (hw_n, h) = (&mut self.hw_n[..n], &mut self.h[..n]);
        for j in 0..n {
            let r = (xr[j] + (gr[j] + br[j])).sigmoid_with::<FMA>();
            let z = (xz[j] + (gz[j] + bz[j])).sigmoid_with::<FMA>();
            let hn = gn[j] + bn[j];
            let nj = (xn[j] + r * hn).tanh_gate_with::<FMA>();
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
fn run_backward<T: GateMath>(
    d: Dims,
    g: &[T],
    saved: &Saved<'_, T>,
    w_hh: &[T],
    h0: &[T],
) -> Grads<T> {
    let (h, g3) = (d.hidden, 3 * d.hidden);
    let (seq_h, seq_g) = (d.steps * h, d.steps * g3);
    let rows = d.block_rows();
    let mut dxw = zeros::<T>(d.batch * seq_g);
    // what step t passes back to step t - 1, and finally to h0
    let mut dh = vec![T::zero(); d.batch * h];
    crate::threads::warm();
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
    let (dw, db): (Vec<_>, Vec<_>) = shares.into_iter().unzip();
    Grads {
        xw: dxw,
        w_hh: weight_grad(dw, (g3, h)),
        b_hh: sum_in_block_order(db, g3),
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
    let dw = weight_grad_share(d, g3, &dhw, (s.h0, s.h_all));
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
