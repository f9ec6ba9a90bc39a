//! `RNN` (tanh), `GRU` and `LSTM`: multi-layer, batch-first recurrent layers with PyTorch's
//! parameter names (`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, ...) and
//! gate order (GRU r, z, n; LSTM i, f, g, o).

use super::cells;
use crate::init;
use crate::module::Module;
use crate::param::Param;
use gradus_tensor::{DType, Result, Rng, Tensor, TensorError};

/// Which recurrent cell.
///
/// ```
/// use gradus_nn::layers::{CellKind, Recurrent};
/// use gradus_tensor::Rng;
/// assert_eq!(Recurrent::gru(1, 2, 1, &mut Rng::seed(0)).kind, CellKind::Gru);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// Elman RNN with tanh (1 gate).
    RnnTanh,
    /// GRU (3 gates).
    Gru,
    /// LSTM (4 gates).
    Lstm,
}

impl CellKind {
    fn gates(self) -> usize {
        match self {
            CellKind::RnnTanh => 1,
            CellKind::Gru => 3,
            CellKind::Lstm => 4,
        }
    }
}

/// The parameters of one layer.
#[derive(Debug, Clone)]
struct LayerParams {
    w_ih: Param, // [gates*H, in]
    w_hh: Param, // [gates*H, H]
    b_ih: Param, // [gates*H]
    b_hh: Param, // [gates*H]
}

/// A batch-first recurrent layer stack (`torch.nn.RNN/GRU/LSTM(batch_first=True)`), zero initial
/// state. [`Module::forward`] maps `[batch, seq, input]` to the last layer's hidden states
/// `[batch, seq, hidden]`.
///
/// ```
/// use gradus_nn::{layers::Recurrent, Module};
/// use gradus_tensor::{DType, Rng, Tensor};
/// let lstm = Recurrent::lstm(3, 4, 2, &mut Rng::seed(0));
/// assert_eq!(lstm.named_parameters()[4].0, "weight_ih_l1");
/// let y = lstm.forward(&Tensor::ones(&[2, 5, 3], DType::F32)).unwrap();
/// assert_eq!(y.shape(), &[2, 5, 4]);
/// ```
#[derive(Debug, Clone)]
pub struct Recurrent {
    /// The cell.
    pub kind: CellKind,
    /// Hidden size.
    pub hidden_size: usize,
    layers: Vec<LayerParams>,
}

/// The final state of every layer: `h[l]` is `[batch, hidden]`; `c` only for LSTMs.
///
/// ```
/// use gradus_nn::layers::Recurrent;
/// use gradus_tensor::{DType, Rng, Tensor};
/// let (_, s) = Recurrent::gru(1, 2, 1, &mut Rng::seed(0)).forward_with_state(&Tensor::ones(&[3, 4, 1], DType::F32)).unwrap();
/// assert!(s.c.is_empty() && s.h[0].shape() == [3, 2]);
/// ```
#[derive(Debug, Clone)]
pub struct RecurrentState {
    /// Last hidden state per layer.
    pub h: Vec<Tensor>,
    /// Last cell state per layer (LSTM only).
    pub c: Vec<Tensor>,
}

impl Recurrent {
    /// A stack of `num_layers` cells, all weights and biases `U(-1/sqrt(hidden), 1/sqrt(hidden))`.
    ///
    /// ```
    /// use gradus_nn::{layers::{CellKind, Recurrent}, Module};
    /// use gradus_tensor::Rng;
    /// let gru = Recurrent::new(CellKind::Gru, 3, 4, 1, &mut Rng::seed(0));
    /// assert_eq!(gru.named_parameters()[0].1.shape(), vec![12, 3]);
    /// ```
    pub fn new(
        kind: CellKind,
        input_size: usize,
        hidden_size: usize,
        num_layers: usize,
        rng: &mut Rng,
    ) -> Recurrent {
        let g = kind.gates() * hidden_size;
        let mut u =
            |shape: &[usize]| Param::new(init::default_bias(shape, hidden_size, DType::F32, rng));
        let layers = (0..num_layers)
            .map(|l| {
                let inp = if l == 0 { input_size } else { hidden_size };
                LayerParams {
                    w_ih: u(&[g, inp]),
                    w_hh: u(&[g, hidden_size]),
                    b_ih: u(&[g]),
                    b_hh: u(&[g]),
                }
            })
            .collect();
        Recurrent {
            kind,
            hidden_size,
            layers,
        }
    }

    /// `torch.nn.RNN(nonlinearity='tanh', batch_first=True)`.
    ///
    /// ```
    /// use gradus_nn::{layers::Recurrent, Module};
    /// use gradus_tensor::Rng;
    /// assert_eq!(Recurrent::rnn(3, 4, 1, &mut Rng::seed(0)).num_parameters(), 4 * 3 + 4 * 4 + 8);
    /// ```
    pub fn rnn(
        input_size: usize,
        hidden_size: usize,
        num_layers: usize,
        rng: &mut Rng,
    ) -> Recurrent {
        Recurrent::new(CellKind::RnnTanh, input_size, hidden_size, num_layers, rng)
    }

    /// `torch.nn.GRU(batch_first=True)`.
    ///
    /// ```
    /// use gradus_nn::{layers::Recurrent, Module};
    /// use gradus_tensor::Rng;
    /// assert_eq!(Recurrent::gru(3, 4, 1, &mut Rng::seed(0)).num_parameters(), 3 * (4 * 3 + 4 * 4 + 8));
    /// ```
    pub fn gru(
        input_size: usize,
        hidden_size: usize,
        num_layers: usize,
        rng: &mut Rng,
    ) -> Recurrent {
        Recurrent::new(CellKind::Gru, input_size, hidden_size, num_layers, rng)
    }

    /// `torch.nn.LSTM(batch_first=True)`.
    ///
    /// ```
    /// use gradus_nn::{layers::Recurrent, Module};
    /// use gradus_tensor::Rng;
    /// assert_eq!(Recurrent::lstm(3, 4, 1, &mut Rng::seed(0)).num_parameters(), 4 * (4 * 3 + 4 * 4 + 8));
    /// ```
    pub fn lstm(
        input_size: usize,
        hidden_size: usize,
        num_layers: usize,
        rng: &mut Rng,
    ) -> Recurrent {
        Recurrent::new(CellKind::Lstm, input_size, hidden_size, num_layers, rng)
    }

    /// The output `[batch, seq, hidden]` and the final state of each layer.
    ///
    /// # Errors
    /// On an input that is not `[batch, seq, input_size]`.
    ///
    /// ```
    /// use gradus_nn::layers::Recurrent;
    /// use gradus_tensor::{DType, Rng, Tensor};
    /// let lstm = Recurrent::lstm(3, 4, 2, &mut Rng::seed(0));
    /// let (out, state) = lstm.forward_with_state(&Tensor::ones(&[2, 5, 3], DType::F32)).unwrap();
    /// assert_eq!((state.h.len(), state.c.len()), (2, 2));
    /// assert_eq!(out.narrow(1, 4, 1).unwrap().reshape(&[2, 4]).unwrap().to_vec_f64(), state.h[1].to_vec_f64());
    /// ```
    pub fn forward_with_state(&self, x: &Tensor) -> Result<(Tensor, RecurrentState)> {
        self.forward_from(x, None)
    }

    /// [`Recurrent::forward_with_state`] read on from `initial`, the final state of an earlier
    /// call (each layer's `h`, and `c` for an LSTM, `[batch, hidden]`); zeros when `None`, as
    /// PyTorch's `lstm(x, (h0, c0))` and `lstm(x)`. A sequence run in two calls, the second from
    /// the first's state, gives the outputs of one call over the whole sequence.
    ///
    /// # Errors
    /// As [`Recurrent::forward_with_state`]; or an `initial` state with another number of
    /// layers or other shapes.
    ///
    /// ```
    /// use gradus_nn::{layers::Recurrent, Module};
    /// use gradus_tensor::{DType, Rng, Tensor};
    /// let lstm = Recurrent::lstm(2, 3, 2, &mut Rng::seed(0));
    /// let x = Tensor::from_vec((0..8).map(|i| i as f64 / 8.0).collect(), &[1, 4, 2]).unwrap();
    /// lstm.cast(DType::F64).unwrap();
    /// let (whole, _) = lstm.forward_with_state(&x).unwrap();
    /// let (_, s) = lstm.forward_from(&x.narrow(1, 0, 3).unwrap(), None).unwrap();
    /// let (last, _) = lstm.forward_from(&x.narrow(1, 3, 1).unwrap(), Some(&s)).unwrap();
    /// let a = whole.narrow(1, 3, 1).unwrap().to_vec_f64();
    /// assert!(a.iter().zip(last.to_vec_f64()).all(|(u, v)| (u - v).abs() < 1e-12));
    /// ```
    pub fn forward_from(
        &self,
        x: &Tensor,
        initial: Option<&RecurrentState>,
    ) -> Result<(Tensor, RecurrentState)> {
        if let Some(s) = initial {
            let lstm = self.kind == CellKind::Lstm;
            if s.h.len() != self.layers.len() || (lstm && s.c.len() != self.layers.len()) {
                return Err(TensorError::InvalidShape {
                    op: "recurrent",
                    shape: vec![s.h.len(), s.c.len()],
                    detail: format!(
                        "the initial state has {} hidden and {} cell states; the stack has {} layers",
                        s.h.len(),
                        s.c.len(),
                        self.layers.len()
                    ),
                });
            }
        }
        if x.rank() != 3 || x.shape()[1] == 0 {
            return Err(TensorError::InvalidShape {
                op: "recurrent",
                shape: x.shape().to_vec(),
                detail: "expected [batch, seq (> 0), input]".into(),
            });
        }
        let mut out = x.clone();
        let mut state = RecurrentState {
            h: Vec::new(),
            c: Vec::new(),
        };
        for (l, layer) in self.layers.iter().enumerate() {
            let h0 = initial.map(|s| &s.h[l]);
            let c0 = initial.and_then(|s| s.c.get(l));
            let (next, h, c) = self.run_layer(layer, &out, h0, c0)?;
            out = next;
            state.h.push(h);
            state.c.extend(c);
        }
        Ok((out, state))
    }

    /// Runs one layer over `input` `[batch, seq, in]` from `h0` and `c0` (zeros when `None`);
    /// returns the hidden states `[batch, seq, hidden]`, the last hidden state and, for an LSTM,
    /// the last cell state.
    fn run_layer(
        &self,
        p: &LayerParams,
        input: &Tensor,
        h0: Option<&Tensor>,
        c0: Option<&Tensor>,
    ) -> Result<(Tensor, Tensor, Option<Tensor>)> {
        let (batch, seq, features) = (input.shape()[0], input.shape()[1], input.shape()[2]);
        // GRU needs b_hh inside r * (W_hn h + b_hn); the other cells fold both biases together
        let b_in = match self.kind {
            CellKind::Gru => p.b_ih.tensor(),
            _ => p.b_ih.tensor().add(&p.b_hh.tensor())?,
        };
        // the input projection of every step in one product: [batch * seq, in] -> [batch, seq, G]
        let gates = p.w_ih.tensor().shape()[0];
        let xw_all = input
            .reshape(&[batch * seq, features])?
            .linear(&p.w_ih.tensor(), Some(&b_in))?
            .reshape(&[batch, seq, gates])?;
        let zeros = Tensor::zeros(&[batch, self.hidden_size], input.dtype());
        let h0 = h0.cloned().unwrap_or_else(|| zeros.clone());
        let c0 = c0.cloned().unwrap_or_else(|| zeros.clone());
        let last = |all: &Tensor| all.narrow(1, seq - 1, 1)?.squeeze(1);
        // LSTM and GRU: one fused op for the whole sequence (see `Tensor::lstm_sequence` and
        // `Tensor::gru_sequence`)
        match self.kind {
            CellKind::Lstm => {
                let (h_all, c_all) = xw_all.lstm_sequence(&p.w_hh.tensor(), &h0, &c0)?;
                return Ok((h_all.clone(), last(&h_all)?, Some(last(&c_all)?)));
            }
            CellKind::Gru => {
                let h_all = xw_all.gru_sequence(&p.w_hh.tensor(), &p.b_hh.tensor(), &h0)?;
                return Ok((h_all.clone(), last(&h_all)?, None));
            }
            CellKind::RnnTanh => {}
        }
        // the engine adds the step slices' gradients into one buffer, not one per step
        let w_hh_t = p.w_hh.tensor().t()?;
        let mut h = h0;
        let mut steps = Vec::with_capacity(seq);
        for t in 0..seq {
            let xw = xw_all.narrow(1, t, 1)?.reshape(&[batch, gates])?;
            h = cells::rnn_tanh(&xw, &h.matmul(&w_hh_t)?)?;
            steps.push(h.clone());
        }
        let out = Tensor::stack(&steps.iter().collect::<Vec<_>>(), 1)?;
        Ok((out, h, None))
    }
}

impl Module for Recurrent {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.forward_with_state(x)?.0)
    }

    fn own_params(&self) -> Vec<(String, Param)> {
        let mut out = Vec::new();
        for (l, p) in self.layers.iter().enumerate() {
            out.push((format!("weight_ih_l{l}"), p.w_ih.clone()));
            out.push((format!("weight_hh_l{l}"), p.w_hh.clone()));
            out.push((format!("bias_ih_l{l}"), p.b_ih.clone()));
            out.push((format!("bias_hh_l{l}"), p.b_hh.clone()));
        }
        out
    }
}
