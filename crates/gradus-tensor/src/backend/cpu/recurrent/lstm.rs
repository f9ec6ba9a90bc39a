//! The fused LSTM layer on the CPU (PyTorch's equations and gate order i, f, g, o): per step one
//! product `h W_hh^T` and one SIMD kernel for the gates and the cell, batch blocks in parallel
//! (see the parent module). Written as separate ops, the same layer allocates and walks a dozen
//! tensors per step (4.4x slower).

use super::{row_major, weight_grad, weight_grad_share, Dims};
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

/// The forward pass of `Tensor::lstm_sequence`: the packed `[2, batch, steps, hidden]` output,
/// the activated gates and `tanh(c)`.
pub(crate) fn forward(
    d: Dims,
    (xw, xw_layout): (&CpuStorage, &Layout),
    [(w_hh, w_layout), (h0, h0_layout), (c0, c0_layout)]: [(&CpuStorage, &Layout); 3],
) -> [CpuStorage; 3] {
    with_dtype!(xw.dtype(), T => {
        // h W_hh^T runs fastest with W_hh^T stored row-major: transpose it once per call
        let w_hh_t = w_hh.view::<T>(&w_layout.permute(&[1, 0]));
        let (h0, c0) = (h0.view::<T>(h0_layout), c0.view::<T>(c0_layout));
        let f = run_forward(d, &xw.view::<T>(xw_layout), &w_hh_t, &h0, &c0);
        [f.out, f.gates, f.tanh_c].map(CpuStorage::from_vec::<T>)
    })
}

/// Backpropagation through time: the gradients of `xw`, `w_hh`, `h0`, `c0` given the gradient
/// `g` of the packed output.
pub(crate) fn backward(
    d: Dims,
    (g, g_layout): (&CpuStorage, &Layout),
    (out, out_layout): (&CpuStorage, &Layout),
    [gates, tanh_c]: [&CpuStorage; 2],
    [(w_hh, w_layout), (h0, h0_layout), (c0, c0_layout)]: [(&CpuStorage, &Layout); 3],
) -> [CpuStorage; 4] {
    with_dtype!(g.dtype(), T => {
        let (g, out) = (g.view::<T>(g_layout), out.view::<T>(out_layout));
        let w = w_hh.view::<T>(w_layout);
        let (h0, c0) = (h0.view::<T>(h0_layout), c0.view::<T>(c0_layout));
        let saved = Saved {
            out: &out,
            gates: gates.slice::<T>(),
            tanh_c: tanh_c.slice::<T>(),
        };
        let grads = run_backward(d, &g, &saved, &w, &h0, &c0);
        [grads.xw, grads.w_hh, grads.h0, grads.c0].map(CpuStorage::from_vec::<T>)
    })
}

/// Forward results: the packed `[2, batch, steps, hidden]` output (h then c) and what backward
/// keeps.
struct Forward<T> {
    out: Vec<T>,
    gates: Vec<T>,
    tanh_c: Vec<T>,
}

/// The forward pass; `w_hh_t` is `W_hh^T`, `[hidden, 4 * hidden]` row-major.
fn run_forward<T: GateMath>(d: Dims, xw: &[T], w_hh_t: &[T], h0: &[T], c0: &[T]) -> Forward<T> {
    let (seq_h, seq_g) = (d.steps * d.hidden, d.steps * 4 * d.hidden);
    let mut out = zeros::<T>(2 * d.batch * seq_h);
    let mut gates = zeros::<T>(d.batch * seq_g);
    let mut tanh_c = zeros::<T>(d.batch * seq_h);
    let rows = d.block_rows();
    let (out_h, out_c) = out.split_at_mut(d.batch * seq_h);
    crate::threads::warm();
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
            with_widest_simd_fma(CellForward {
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

impl<T: GateMath> FmaKernel for CellForward<'_, T> {
    #[inline(always)]
    fn run<const FMA: bool>(self) {
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
            let i = (xi[j] + zi[j]).sigmoid_with::<FMA>();
            let f = (xf[j] + zf[j]).sigmoid_with::<FMA>();
            let g = (xg[j] + zg[j]).tanh_gate_with::<FMA>();
            let o = (xo[j] + zo[j]).sigmoid_with::<FMA>();
            (zi[j], zf[j], zg[j], zo[j]) = (i, f, g, o);
            let cj = f * c_prev[j] + i * g;
            let tc = cj.tanh_gate_with::<FMA>();
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
fn run_backward<T: GateMath>(
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
    crate::threads::warm();
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
    Grads {
        xw: dz,
        w_hh: weight_grad(shares, (g4, h)),
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
    weight_grad_share(d, g4, dz, (s.h0, s.h_all))
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
