//! One time step of the recurrent cells, PyTorch's equations and gate order.
//!
//! `xw` is the input projection `x W_ih^T + b_ih` and `hw` the hidden one `h W_hh^T + b_hh`,
//! both `[batch, gates * hidden]`.

use gradus_tensor::{Result, Tensor};

fn gate(t: &Tensor, k: usize, hidden: usize) -> Result<Tensor> {
    t.narrow(1, k * hidden, hidden)
}

/// Elman RNN: `h' = tanh(xw + hw)`.
///
/// ```
/// use gradus_tensor::{DType, Tensor};
/// let z = Tensor::zeros(&[1, 2], DType::F64);
/// assert_eq!(gradus_nn::layers::cells::rnn_tanh(&z, &z).unwrap().to_vec_f64(), vec![0.0, 0.0]);
/// ```
pub fn rnn_tanh(xw: &Tensor, hw: &Tensor) -> Result<Tensor> {
    xw.add(hw)?.tanh()
}

/// GRU (gates r, z, n): `r = s(xr + hr)`, `z = s(xz + hz)`, `n = tanh(xn + r * hn)`,
/// `h' = (1 - z) n + z h`.
///
/// ```
/// use gradus_tensor::{DType, Tensor};
/// let (xw, hw, h) = (Tensor::zeros(&[1, 6], DType::F64), Tensor::zeros(&[1, 6], DType::F64), Tensor::ones(&[1, 2], DType::F64));
/// // z = 0.5, n = 0: h' = 0.5 h
/// assert_eq!(gradus_nn::layers::cells::gru(&xw, &hw, &h).unwrap().to_vec_f64(), vec![0.5, 0.5]);
/// ```
pub fn gru(xw: &Tensor, hw: &Tensor, h: &Tensor) -> Result<Tensor> {
    let hs = h.shape()[1];
    let r = gate(xw, 0, hs)?.add(&gate(hw, 0, hs)?)?.sigmoid()?;
    let z = gate(xw, 1, hs)?.add(&gate(hw, 1, hs)?)?.sigmoid()?;
    let n = gate(xw, 2, hs)?.add(&r.mul(&gate(hw, 2, hs)?)?)?.tanh()?;
    // (1 - z) n + z h = n + z (h - n)
    n.add(&z.mul(&h.sub(&n)?)?)
}

/// LSTM (gates i, f, g, o): `c' = f c + i g`, `h' = o tanh(c')`. Returns `(h', c')`.
///
/// ```
/// use gradus_tensor::{DType, Tensor};
/// let (g, c) = (Tensor::zeros(&[1, 8], DType::F64), Tensor::ones(&[1, 2], DType::F64));
/// let (_h, c2) = gradus_nn::layers::cells::lstm(&g, &g, &c).unwrap();
/// assert_eq!(c2.to_vec_f64(), vec![0.5, 0.5]);
/// ```
pub fn lstm(xw: &Tensor, hw: &Tensor, c: &Tensor) -> Result<(Tensor, Tensor)> {
    let hs = c.shape()[1];
    let gates = xw.add(hw)?;
    let i = gate(&gates, 0, hs)?.sigmoid()?;
    let f = gate(&gates, 1, hs)?.sigmoid()?;
    let g = gate(&gates, 2, hs)?.tanh()?;
    let o = gate(&gates, 3, hs)?.sigmoid()?;
    let c_next = f.mul(c)?.add(&i.mul(&g)?)?;
    let h_next = o.mul(&c_next.tanh()?)?;
    Ok((h_next, c_next))
}
