//! A whole LSTM layer over a sequence as one op (PyTorch's equations and gate order i, f, g, o):
//! the shapes, the backend calls and the backward rule. The CPU's fused loops are in
//! `backend/cpu/recurrent/lstm.rs`.

use super::RnnDims;
use crate::autodiff::{self, BackwardOp, Ctx};
use crate::{Result, Storage, Tensor, TensorError};

/// What the backward pass needs beyond the inputs and the output.
struct LstmOp {
    dims: RnnDims,
    /// The activated gates `i, f, g, o` of every step, `[batch, steps, 4 * hidden]`.
    gates: Storage,
    /// `tanh(c)` of every step, `[batch, steps, hidden]`.
    tanh_c: Storage,
}

impl BackwardOp for LstmOp {
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
        let out = ctx.output();
        let s = Tensor::read_storages(&[g, out, w_hh, h0, c0]);
        let rest = [w_hh, h0, c0].map(|t| t.layout());
        let grads = s.get(0).lstm_sequence_backward(
            g.layout(),
            (s.get(1), out.layout()),
            [&self.gates, &self.tanh_c],
            [
                (s.get(2), rest[0]),
                (s.get(3), rest[1]),
                (s.get(4), rest[2]),
            ],
            self.dims,
        )?;
        drop(s);
        let [d_xw, d_w_hh, d_h0, d_c0] = grads;
        let wanted = |t: &Tensor, v: Storage| {
            t.requires_grad()
                .then(|| Tensor::from_storage(v, t.shape()))
        };
        Ok(vec![
            wanted(xw, d_xw),
            wanted(w_hh, d_w_hh),
            wanted(h0, d_h0),
            wanted(c0, d_c0),
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
        let s = Tensor::read_storages(&[self, w_hh, h0, c0]);
        let rest = [
            (s.get(1), w_hh.layout()),
            (s.get(2), h0.layout()),
            (s.get(3), c0.layout()),
        ];
        let [out, gates, tanh_c] = s.get(0).lstm_sequence(self.layout(), rest, d)?;
        drop(s);
        let op = LstmOp {
            dims: d,
            gates,
            tanh_c,
        };
        let packed = Tensor::from_op_storage(out, &out_shape, op, &[self, w_hh, h0, c0]);
        // both halves are contiguous views of the packed [2, batch, steps, hidden] output
        let h = packed.narrow(0, 0, 1)?.squeeze(0)?;
        let c = packed.narrow(0, 1, 1)?.squeeze(0)?;
        Ok((h, c))
    }
}

fn check_shapes(xw: &Tensor, w_hh: &Tensor, h0: &Tensor, c0: &Tensor) -> Result<RnnDims> {
    for t in [w_hh, h0, c0] {
        xw.check_same("lstm_sequence", t)?;
    }
    let bad = |what: &str, t: &Tensor| TensorError::InvalidShape {
        op: "lstm_sequence",
        shape: t.shape().to_vec(),
        detail: what.to_string(),
    };
    if xw.rank() != 3
        || xw.shape()[1] == 0
        || xw.shape()[2] == 0
        || !xw.shape()[2].is_multiple_of(4)
    {
        return Err(bad("xw must be [batch, steps (> 0), 4 * hidden (> 0)]", xw));
    }
    let d = RnnDims {
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

    fn inputs(dtype: DType, b: usize) -> [Tensor; 4] {
        let (t, h) = (4, 5);
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
        let [xw, w, h0, c0] = inputs(DType::F64, 3);
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
        // 70 rows: three batch blocks, whose shares of the weight gradient are added
        for (dtype, tol, b) in [
            (DType::F64, 1e-12, 3),
            (DType::F32, 2e-6, 3),
            (DType::F64, 1e-12, 70),
        ] {
            let x = inputs(dtype, b);
            let seed = Tensor::randn(&[2, b, 4, 5], dtype, 9);
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
