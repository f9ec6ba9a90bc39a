//! A whole GRU layer over a sequence as one op (PyTorch's equations and gate order r, z, n): the
//! shapes, the backend calls and the backward rule. The CPU's fused loops are in
//! `backend/cpu/recurrent/gru.rs`.

use super::RnnDims;
use crate::autodiff::{self, BackwardOp, Ctx};
use crate::{Result, Storage, Tensor, TensorError};

/// What the backward pass needs beyond the inputs and the output.
struct GruOp {
    dims: RnnDims,
    /// The gates `r, z, n` of every step, `[batch, steps, 3 * hidden]`.
    gates: Storage,
    /// The `n` part of `h_{t-1} W_hh^T + b_hh` of every step, `[batch, steps, hidden]`.
    hw_n: Storage,
}

impl BackwardOp for GruOp {
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
        let out = ctx.output();
        let s = Tensor::read_storages(&[g, out, w_hh, b_hh, h0]);
        let rest = [w_hh, b_hh, h0].map(|t| t.layout());
        let grads = s.get(0).gru_sequence_backward(
            g.layout(),
            (s.get(1), out.layout()),
            [&self.gates, &self.hw_n],
            [
                (s.get(2), rest[0]),
                (s.get(3), rest[1]),
                (s.get(4), rest[2]),
            ],
            self.dims,
        )?;
        drop(s);
        let [d_xw, d_w_hh, d_b_hh, d_h0] = grads;
        let wanted = |t: &Tensor, v: Storage| {
            t.requires_grad()
                .then(|| Tensor::from_storage(v, t.shape()))
        };
        Ok(vec![
            wanted(xw, d_xw),
            wanted(w_hh, d_w_hh),
            wanted(b_hh, d_b_hh),
            wanted(h0, d_h0),
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
        let s = Tensor::read_storages(&[self, w_hh, b_hh, h0]);
        let rest = [
            (s.get(1), w_hh.layout()),
            (s.get(2), b_hh.layout()),
            (s.get(3), h0.layout()),
        ];
        let [out, gates, hw_n] = s.get(0).gru_sequence(self.layout(), rest, d)?;
        drop(s);
        let op = GruOp {
            dims: d,
            gates,
            hw_n,
        };
        Ok(Tensor::from_op_storage(
            out,
            &out_shape,
            op,
            &[self, w_hh, b_hh, h0],
        ))
    }
}

fn check_shapes(xw: &Tensor, w_hh: &Tensor, b_hh: &Tensor, h0: &Tensor) -> Result<RnnDims> {
    for t in [w_hh, b_hh, h0] {
        xw.check_same("gru_sequence", t)?;
    }
    let bad = |what: &str, t: &Tensor| TensorError::InvalidShape {
        op: "gru_sequence",
        shape: t.shape().to_vec(),
        detail: what.to_string(),
    };
    if xw.rank() != 3
        || xw.shape()[1] == 0
        || xw.shape()[2] == 0
        || !xw.shape()[2].is_multiple_of(3)
    {
        return Err(bad("xw must be [batch, steps (> 0), 3 * hidden (> 0)]", xw));
    }
    let d = RnnDims {
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

    fn inputs(dtype: DType, b: usize) -> [Tensor; 4] {
        let (t, h) = (4, 5);
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
        let [xw, w, b, h0] = inputs(DType::F64, 3);
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
        // 70 rows: three batch blocks, whose shares of the weight gradient are added
        for (dtype, tol, b) in [
            (DType::F64, 1e-12, 3),
            (DType::F32, 2e-6, 3),
            (DType::F64, 1e-12, 70),
        ] {
            let x = inputs(dtype, b);
            let seed = Tensor::randn(&[b, 4, 5], dtype, 9);
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
